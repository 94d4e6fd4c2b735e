/** `capture list` and `capture delete`. */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import {
  apiErrorMessage,
  CAPTURE_GROUP,
  CAPTURE_PLURAL,
  CAPTURE_VERSION,
  deleteJobs,
  httpStatus,
  jobPhase,
  LABEL_CAPTURE_NAME,
  listCaptureJobs,
} from '@retina-ts/capture';
import { formatAge, formatTable } from '../kube.js';

/** One row per capture: its jobs and how many completed, grouped from the capture Jobs. */
export function captureListRows(jobs: readonly V1Job[], now: Date): string[][] {
  const groups = new Map<string, V1Job[]>();
  for (const j of jobs) {
    const key = `${j.metadata?.namespace ?? ''}\0${j.metadata?.labels?.[LABEL_CAPTURE_NAME] ?? ''}`;
    groups.set(key, [...(groups.get(key) ?? []), j]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, list]) => {
      const [ns, name] = key.split('\0') as [string, string];
      const oldest = list.map((j) => j.metadata?.creationTimestamp).sort()[0];
      const succeeded = list.filter((j) => jobPhase(j) === 'Succeeded').length;
      return [ns, name, list.map((j) => j.metadata?.name ?? '').sort().join(','), `${succeeded}/${list.length}`, formatAge(oldest, now)];
    });
}

/** Prints the captures of a namespace, or of all namespaces when `namespace` is undefined. */
export async function listCaptures(kc: KubeConfig, namespace: string | undefined, out: (l: string) => void, now = new Date()): Promise<void> {
  const rows = captureListRows(await listCaptureJobs(kc, namespace), now);
  if (rows.length === 0) {
    out(namespace ? `No captures found in namespace ${namespace}` : 'No captures found');
    return;
  }
  out(formatTable(['NAMESPACE', 'CAPTURE NAME', 'JOBS', 'COMPLETIONS', 'AGE'], rows));
}

/**
 * Deletes a capture: the Capture resource when there is one (the operator removes its Jobs), and otherwise its
 * Jobs and the Secrets they mount.
 */
export async function deleteCapture(kc: KubeConfig, namespace: string, name: string, out: (l: string) => void): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  let deletedResource = false;
  try {
    await custom.deleteNamespacedCustomObject({ group: CAPTURE_GROUP, version: CAPTURE_VERSION, namespace, plural: CAPTURE_PLURAL, name });
    deletedResource = true;
    out(`Capture ${namespace}/${name} deleted`);
  } catch (err) {
    if (httpStatus(err) !== 404) throw new Error(`deleting Capture ${namespace}/${name}: ${apiErrorMessage(err)}`);
  }
  const jobs = await listCaptureJobs(kc, namespace, name);
  if (jobs.length === 0) {
    if (deletedResource) return;
    throw new Error(`capture ${name} in namespace ${namespace} was not found`);
  }
  const secretNames = new Set(
    jobs.flatMap((j) => (j.spec?.template.spec?.volumes ?? []).map((v) => v.secret?.secretName).filter((s): s is string => Boolean(s))),
  );
  const n = await deleteJobs(kc, jobs);
  const core = kc.makeApiClient(CoreV1Api);
  for (const s of secretNames) {
    try {
      await core.deleteNamespacedSecret({ namespace, name: s });
    } catch (err) {
      if (httpStatus(err) !== 404) throw new Error(`deleting Secret ${namespace}/${s}: ${apiErrorMessage(err)}`);
    }
  }
  out(`Deleted ${n} job(s)${secretNames.size ? ` and ${secretNames.size} secret(s)` : ''} of capture ${namespace}/${name}`);
}
