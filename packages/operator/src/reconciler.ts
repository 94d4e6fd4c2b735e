/**
 * The Capture reconciler: one pass brings a Capture's Jobs and status in line with its spec. It is idempotent
 * (Job names are deterministic per capture, node and start time), so running it again after any failure or on
 * any event is safe.
 */
import { CoreV1Api, CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import {
  ANNOTATION_TIMESTAMP,
  apiErrorMessage,
  CAPTURE_API_VERSION,
  CAPTURE_FINALIZER,
  CAPTURE_GROUP,
  CAPTURE_KIND,
  CAPTURE_PLURAL,
  CAPTURE_VERSION,
  CaptureConditionReason,
  captureErrorStatus,
  captureIssues,
  captureStatusFromJobs,
  createJobIfAbsent,
  deleteJobs,
  expectedArtifacts,
  kubeClusterReader,
  listCaptureJobs,
  NoCaptureTargetsError,
  parseCaptureTimestamp,
  renderCaptureJob,
  resolveCaptureTargets,
  unlessNotFound,
  type Capture,
  type CaptureStatus,
} from '@retina-ts/capture';
import type { Logger } from '@retina-ts/core';
import type { OperatorConfig } from './config.js';
import { canonicalJson } from './canonical-json.js';

/** What the reconciler needs besides the cluster. */
export interface ReconcilerOptions {
  config: OperatorConfig;
  logger: Logger;
  /** Image of the capture workload. */
  image: string;
  now?: () => Date;
}

/** What one pass did, for logs and tests. */
export type ReconcileOutcome = 'gone' | 'finalized' | 'invalid' | 'error' | 'progress' | 'done' | 'cleaned-up';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

const seconds = (d: Date) => new Date(Math.floor(d.getTime() / 1000) * 1000);
const iso = (d: Date) => d.toISOString().replace(/\.\d+Z$/, 'Z');

/** Reconciles Capture resources into capture Jobs. */
export class CaptureReconciler {
  readonly #kc: KubeConfig;
  readonly #o: ReconcilerOptions;
  readonly #custom: CustomObjectsApi;
  readonly #core: CoreV1Api;

  constructor(kc: KubeConfig, options: ReconcilerOptions) {
    this.#kc = kc;
    this.#o = options;
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.#core = kc.makeApiClient(CoreV1Api);
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  async #get(namespace: string, name: string): Promise<Capture | undefined> {
    return (await unlessNotFound(() =>
      this.#custom.getNamespacedCustomObject({ group: CAPTURE_GROUP, version: CAPTURE_VERSION, namespace, plural: CAPTURE_PLURAL, name }),
    )) as Capture | undefined;
  }

  async #patch(c: Capture, body: object): Promise<void> {
    await this.#custom.patchNamespacedCustomObject(
      { group: CAPTURE_GROUP, version: CAPTURE_VERSION, namespace: c.metadata.namespace!, plural: CAPTURE_PLURAL, name: c.metadata.name, body },
      mergePatch,
    );
  }

  async #setStatus(c: Capture, status: CaptureStatus): Promise<void> {
    if (canonicalJson(c.status ?? {}) === canonicalJson(status)) return;
    await this.#custom.patchNamespacedCustomObjectStatus(
      { group: CAPTURE_GROUP, version: CAPTURE_VERSION, namespace: c.metadata.namespace!, plural: CAPTURE_PLURAL, name: c.metadata.name, body: { status } },
      mergePatch,
    );
    c.status = status;
  }

  async #secretExists(namespace: string, name: string): Promise<boolean> {
    return (await unlessNotFound(() => this.#core.readNamespacedSecret({ namespace, name }))) !== undefined;
  }

  /**
   * Deletes the Jobs a Capture resource owns (after it is gone or while it is being deleted). Jobs the CLI made
   * without the operator carry the same labels but no Capture owner, and are left alone.
   */
  async cleanUp(namespace: string, name: string): Promise<number> {
    const jobs = (await listCaptureJobs(this.#kc, namespace, name)).filter((j) =>
      (j.metadata?.ownerReferences ?? []).some((r) => r.kind === CAPTURE_KIND && r.name === name),
    );
    const n = await deleteJobs(this.#kc, jobs);
    if (n > 0) this.#o.logger.info({ capture: `${namespace}/${name}`, jobs: n }, 'capture jobs deleted');
    return n;
  }

  /** One reconcile pass for `namespace/name`. */
  async reconcile(namespace: string, name: string): Promise<ReconcileOutcome> {
    const log = this.#o.logger.child({ capture: `${namespace}/${name}` });
    const c = await this.#get(namespace, name);
    if (!c) {
      await this.cleanUp(namespace, name);
      return 'gone';
    }
    const finalizers = c.metadata.finalizers ?? [];
    if (c.metadata.deletionTimestamp) {
      await this.cleanUp(namespace, name);
      if (finalizers.includes(CAPTURE_FINALIZER)) {
        await this.#patch(c, {
          metadata: { finalizers: finalizers.filter((f) => f !== CAPTURE_FINALIZER), resourceVersion: c.metadata.resourceVersion },
        });
      }
      return 'finalized';
    }
    if (!finalizers.includes(CAPTURE_FINALIZER)) {
      await this.#patch(c, { metadata: { finalizers: [...finalizers, CAPTURE_FINALIZER] } });
    }
    const jobs: V1Job[] = await listCaptureJobs(this.#kc, namespace, name);
    // Jobs already carry the start time that names their artifacts; it wins over a status that was never written.
    const jobStamp = jobs[0]?.spec?.template.metadata?.annotations?.[ANNOTATION_TIMESTAMP];
    const startTime = jobStamp
      ? parseCaptureTimestamp(jobStamp)
      : c.status?.startTime
        ? new Date(c.status.startTime)
        : seconds(this.#now());
    const startIso = iso(startTime);
    const fail = async (reason: string, message: string): Promise<ReconcileOutcome> => {
      log.warn({ reason, message }, 'capture cannot run');
      await this.#setStatus(c, captureErrorStatus(c.status, reason, message, this.#now(), startIso));
      return reason === CaptureConditionReason.InvalidSpec ? 'invalid' : 'error';
    };

    const issues = captureIssues(c, { hostPathBaseDir: this.#o.config.captureHostPathBaseDir });
    if (issues.length > 0) {
      return fail(CaptureConditionReason.InvalidSpec, issues.map((i) => `${i.field}: ${i.message}`).join('; '));
    }
    const out = c.spec.outputConfiguration;
    for (const secret of [out.blobUpload, out.s3Upload?.secretName]) {
      if (secret && !(await this.#secretExists(namespace, secret))) {
        return fail(
          CaptureConditionReason.FindSecretFailed,
          `secret of Capture is not found when ${secret === out.blobUpload ? 'blobupload' : 's3upload'} is enabled, secretName: ${secret}/${namespace}`,
        );
      }
    }

    if (jobs.length === 0) {
      let targets;
      try {
        targets = await resolveCaptureTargets(c, kubeClusterReader(this.#kc));
      } catch (err) {
        if (err instanceof NoCaptureTargetsError) return fail(CaptureConditionReason.OtherError, err.message);
        throw err;
      }
      const limit = this.#o.config.captureJobNumLimit;
      if (limit > 0 && targets.length > limit) {
        return fail(CaptureConditionReason.ExceedJobNumLimit, `the number of capture jobs ${targets.length} exceeds the limit ${limit}`);
      }
      const owner = {
        apiVersion: CAPTURE_API_VERSION,
        kind: CAPTURE_KIND,
        name,
        uid: c.metadata.uid ?? '',
        controller: true,
        blockOwnerDeletion: true,
      };
      for (const t of targets) {
        try {
          const job = renderCaptureJob(c, t, {
            image: this.#o.image,
            startTime,
            hostPathBaseDir: this.#o.config.captureHostPathBaseDir,
            blobSecretName: out.blobUpload,
            s3SecretName: out.s3Upload?.secretName,
            ...(c.metadata.uid ? { ownerReferences: [owner] } : {}),
          });
          jobs.push(await createJobIfAbsent(this.#kc, job));
        } catch (err) {
          return fail(CaptureConditionReason.CreateJobFailed, `creating the capture job for node ${t.nodeName}: ${apiErrorMessage(err)}`);
        }
      }
      log.info({ nodes: targets.map((t) => t.nodeName) }, 'capture jobs created');
    }
    const status = captureStatusFromJobs({
      jobs,
      previous: c.status,
      startTime: startIso,
      now: this.#now(),
      artifacts: (node) => expectedArtifacts(c, node, startTime, this.#o.config.captureHostPathBaseDir),
      ...(c.metadata.generation !== undefined ? { generation: c.metadata.generation } : {}),
    });
    await this.#setStatus(c, status);
    const finished = (status.active ?? 0) === 0;
    if (finished && c.spec.cleanUpAfterUpload && (status.failed ?? 0) === 0) {
      await this.cleanUp(namespace, name);
      await this.#custom.deleteNamespacedCustomObject({ group: CAPTURE_GROUP, version: CAPTURE_VERSION, namespace, plural: CAPTURE_PLURAL, name });
      log.info('capture completed and cleaned up after upload');
      return 'cleaned-up';
    }
    return finished ? 'done' : 'progress';
  }
}
