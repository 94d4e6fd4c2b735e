/**
 * `capture create`: without the operator it resolves the targets and creates one Job per node itself (as
 * Retina's CLI does); with the operator it creates the Capture resource and lets the operator do that.
 */
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Job, type V1Secret } from '@kubernetes/client-node';
import {
  apiErrorMessage,
  BLOB_SECRET_KEY,
  CAPTURE_GROUP,
  CAPTURE_PLURAL,
  CAPTURE_VERSION,
  captureLabels,
  captureTarballName,
  createJobIfAbsent,
  deleteJobs,
  httpStatus,
  jobPhase,
  kubeClusterReader,
  listCaptureJobs,
  renderCaptureJob,
  resolveCaptureTargets,
  S3_SECRET_ACCESS_KEY_ID,
  S3_SECRET_SECRET_ACCESS_KEY,
  unlessNotFound,
  type Capture,
} from '@retina-ts/capture';
import { parseDuration } from '@retina-ts/core';
import { formatTable } from '../kube.js';
import type { CaptureSecrets } from '../flags.js';

/** Label of the operator's pods; its presence means Captures are reconciled. */
export const OPERATOR_POD_SELECTOR = 'app.kubernetes.io/name=retina-operator';

/** How create runs. */
export interface CreateOptions {
  /** `auto`: use the operator when the Capture API is served and an operator pod exists. */
  useOperator: 'auto' | 'true' | 'false';
  jobNumLimit: number;
  noWait: boolean;
  hostPathBaseDir: string;
  image: string;
  out: (line: string) => void;
  now?: () => Date;
  /** Poll period while waiting (default: duration/10, at least 1 min, as Retina). */
  pollIntervalMs?: number;
}

/** Whether the Capture API is served and an operator pod runs. */
export async function operatorPresent(kc: KubeConfig, namespace: string): Promise<boolean> {
  const list = await unlessNotFound(() =>
    kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({
      group: CAPTURE_GROUP,
      version: CAPTURE_VERSION,
      namespace,
      plural: CAPTURE_PLURAL,
      limit: 1,
    }),
  );
  if (list === undefined) return false;
  const pods = await kc.makeApiClient(CoreV1Api).listPodForAllNamespaces({ labelSelector: OPERATOR_POD_SELECTOR, limit: 1 });
  return pods.items.length > 0;
}

function secretObjects(capture: Capture, secrets: CaptureSecrets): V1Secret[] {
  const meta = (name: string) => ({ name, namespace: capture.metadata.namespace, labels: captureLabels(capture.metadata.name) });
  const list: V1Secret[] = [];
  if (secrets.blob) list.push({ metadata: meta(secrets.blob.name), type: 'Opaque', stringData: { [BLOB_SECRET_KEY]: secrets.blob.sasUrl } });
  if (secrets.s3) {
    list.push({
      metadata: meta(secrets.s3.name),
      type: 'Opaque',
      stringData: { [S3_SECRET_ACCESS_KEY_ID]: secrets.s3.accessKeyId, [S3_SECRET_SECRET_ACCESS_KEY]: secrets.s3.secretAccessKey },
    });
  }
  return list;
}

async function applySecret(core: CoreV1Api, s: V1Secret): Promise<V1Secret> {
  const namespace = s.metadata!.namespace!;
  try {
    return await core.createNamespacedSecret({ namespace, body: s });
  } catch (err) {
    if (httpStatus(err) === 409) return core.replaceNamespacedSecret({ namespace, name: s.metadata!.name!, body: s });
    throw new Error(`creating Secret ${namespace}/${s.metadata!.name}: ${apiErrorMessage(err)}`);
  }
}

/** Creates the capture; returns the created Jobs (empty in operator mode). */
export async function createCapture(kc: KubeConfig, capture: Capture, secrets: CaptureSecrets, o: CreateOptions): Promise<V1Job[]> {
  const ns = capture.metadata.namespace!;
  const name = capture.metadata.name;
  const core = kc.makeApiClient(CoreV1Api);
  const viaOperator = o.useOperator === 'true' || (o.useOperator === 'auto' && (await operatorPresent(kc, ns)));
  if (viaOperator) {
    for (const s of secretObjects(capture, secrets)) await applySecret(core, s);
    try {
      await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
        group: CAPTURE_GROUP,
        version: CAPTURE_VERSION,
        namespace: ns,
        plural: CAPTURE_PLURAL,
        body: capture,
      });
    } catch (err) {
      if (httpStatus(err) === 409) throw new Error(`capture ${name} already exists in namespace ${ns}: delete it first or choose another --name`);
      throw new Error(`creating Capture ${ns}/${name}: ${apiErrorMessage(err)}`);
    }
    o.out(`Capture ${ns}/${name} created; the operator starts its jobs (see: kubectl retina capture list -n ${ns})`);
    return [];
  }

  const now = o.now?.() ?? new Date();
  const startTime = new Date(Math.floor(now.getTime() / 1000) * 1000);
  const targets = await resolveCaptureTargets(capture, kubeClusterReader(kc));
  if (o.jobNumLimit > 0 && targets.length > o.jobNumLimit) {
    throw new Error(`the number of capture jobs ${targets.length} exceeds the limit ${o.jobNumLimit}`);
  }
  const existing = await listCaptureJobs(kc, ns, name);
  if (existing.length > 0) {
    throw new Error(`capture ${name} already has ${existing.length} job(s) in namespace ${ns}: delete it first or choose another --name`);
  }
  const durationMs = parseDuration(capture.spec.captureConfiguration.captureOption?.duration ?? '') ?? 0;
  const remote = Boolean(secrets.blob || secrets.s3 || capture.spec.outputConfiguration.persistentVolumeClaim);
  const jobs = targets.map((t) =>
    renderCaptureJob(capture, t, {
      image: o.image,
      startTime,
      hostPathBaseDir: o.hostPathBaseDir,
      blobSecretName: secrets.blob?.name,
      s3SecretName: secrets.s3?.name,
      ...(durationMs > 0 ? { activeDeadlineSeconds: Math.ceil(durationMs / 1000) + 1800 } : {}),
      ...(o.noWait && capture.spec.cleanUpAfterUpload && remote ? { ttlSecondsAfterFinished: 300 } : {}),
    }),
  );
  o.out('The capture files will be:');
  for (const t of targets) o.out(`  ${captureTarballName(name, t.nodeName, startTime)}`);
  const createdSecrets = [];
  for (const s of secretObjects(capture, secrets)) createdSecrets.push(await applySecret(core, s));
  const created: V1Job[] = [];
  for (const job of jobs) {
    try {
      created.push(await createJobIfAbsent(kc, job));
    } catch (err) {
      throw new Error(`creating Job ${ns}/${job.metadata!.name}: ${apiErrorMessage(err)}`);
    }
  }
  // Secrets go away with the Jobs that use them.
  for (const s of createdSecrets) {
    s.metadata!.ownerReferences = created.map((j) => ({ apiVersion: 'batch/v1', kind: 'Job', name: j.metadata!.name!, uid: j.metadata!.uid! }));
    await core.replaceNamespacedSecret({ namespace: ns, name: s.metadata!.name!, body: s });
  }
  o.out(formatTable(['JOB', 'NODE'], created.map((j, i) => [j.metadata!.name!, targets[i]!.nodeName])));
  if (o.noWait) {
    o.out(`Jobs created for capture ${ns}/${name}; see: kubectl retina capture list -n ${ns}`);
    return created;
  }
  await waitForJobs(kc, capture, durationMs, o);
  const done = await listCaptureJobs(kc, ns, name);
  o.out(formatTable(['JOB', 'NODE', 'STATUS'], done.map((j) => [j.metadata!.name!, j.metadata!.labels?.['retina.sh/capture-node'] ?? '', jobPhase(j)])));
  await deleteJobs(kc, done);
  for (const s of createdSecrets) {
    try {
      await core.deleteNamespacedSecret({ namespace: ns, name: s.metadata!.name! });
    } catch (err) {
      if (httpStatus(err) !== 404) throw err;
    }
  }
  o.out(`Capture ${ns}/${name} finished; its jobs were deleted`);
  return done;
}

async function waitForJobs(kc: KubeConfig, capture: Capture, durationMs: number, o: CreateOptions): Promise<void> {
  const ns = capture.metadata.namespace!;
  const deadlineMs = Math.max(5 * 60_000, durationMs + 5 * 60_000);
  let period = o.pollIntervalMs ?? Math.max(60_000, durationMs / 10);
  if (period >= deadlineMs) period = deadlineMs / 4;
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const jobs = await listCaptureJobs(kc, ns, capture.metadata.name);
    const phases = jobs.map(jobPhase);
    const running = phases.filter((p) => p === 'Pending' || p === 'Running').length;
    o.out(`${jobs.length - running}/${jobs.length} capture jobs finished`);
    if (running === 0) return;
    if (Date.now() > deadline) throw new Error(`capture ${ns}/${capture.metadata.name} did not finish within ${Math.round(deadlineMs / 60000)} minutes`);
    await new Promise((r) => setTimeout(r, period));
  }
}
