/**
 * RetinaEndpoints: one per running pod with an IP (host-network pods skipped, as Retina skips them), named and
 * namespaced as the pod, carrying what agents in remote context need instead of watching every pod: IPs, the node
 * IP, labels, annotations, owners and containers. They follow the pod (updated when one of those changes, deleted
 * with it or when it stops running) and are owned by it, so the cluster's garbage collector removes them even
 * while the operator is down. At start every pod and every RetinaEndpoint is reconciled: missing ones are created,
 * orphans deleted, and an unchanged one is not written.
 */
import { CoreV1Api, CustomObjectsApi, makeInformer, type KubeConfig, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import { httpStatus } from '@retina-ts/capture';
import { reconcileQueue, type WatchingControllerOptions, type WorkQueue } from './controller.js';
import { RETINA_API_VERSION, RETINA_GROUP, RETINA_VERSION } from './crds/definitions.js';
import type { RetinaEndpointSpec } from './crds/schemas.js';
import { watchInformer, type StartedInformer } from './informers.js';
import { canonicalJson } from './canonical-json.js';

const PLURAL = 'retinaendpoints';

/** A RetinaEndpoint as stored. */
export interface RetinaEndpointObject extends KubernetesObject {
  spec?: RetinaEndpointSpec;
}

/** Annotations not copied: large and of no use to agents. */
const SKIPPED_ANNOTATIONS = new Set(['kubectl.kubernetes.io/last-applied-configuration']);

/** Whether `pod` should have a RetinaEndpoint. */
export function wantsRetinaEndpoint(pod: V1Pod | undefined): pod is V1Pod {
  return Boolean(pod && !pod.spec?.hostNetwork && pod.status?.podIP && pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp);
}

/** The RetinaEndpoint spec of a pod (pure). */
export function retinaEndpointSpec(pod: V1Pod): RetinaEndpointSpec {
  const ips = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => Boolean(ip));
  const annotations = Object.fromEntries(Object.entries(pod.metadata?.annotations ?? {}).filter(([k]) => !SKIPPED_ANNOTATIONS.has(k)));
  return {
    podIP: pod.status!.podIP!,
    podIPs: ips.length > 0 ? ips : [pod.status!.podIP!],
    ...(pod.status?.hostIP ? { nodeIP: pod.status.hostIP } : {}),
    labels: { ...(pod.metadata?.labels ?? {}) },
    annotations,
    ownerReferences: (pod.metadata?.ownerReferences ?? []).map((r) => ({ apiVersion: r.apiVersion, kind: r.kind, name: r.name })),
    containers: (pod.status?.containerStatuses ?? []).map((c) => ({ name: c.name, ...(c.containerID ? { id: c.containerID } : {}) })),
  };
}

/** The whole RetinaEndpoint object of a pod. */
export function retinaEndpointFor(pod: V1Pod): RetinaEndpointObject {
  return {
    apiVersion: RETINA_API_VERSION,
    kind: 'RetinaEndpoint',
    metadata: {
      name: pod.metadata!.name!,
      namespace: pod.metadata!.namespace!,
      labels: { 'app.kubernetes.io/managed-by': 'retina-operator' },
      ...(pod.metadata?.uid
        ? { ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: pod.metadata.name!, uid: pod.metadata.uid, blockOwnerDeletion: false }] }
        : {}),
    },
    spec: retinaEndpointSpec(pod),
  };
}

/** Knobs of the controller. */
export type RetinaEndpointControllerOptions = WatchingControllerOptions;

/** Keeps RetinaEndpoints in step with pods. */
export class RetinaEndpointController {
  readonly queue: WorkQueue;
  readonly #kc: KubeConfig;
  readonly #custom: CustomObjectsApi;
  readonly #o: RetinaEndpointControllerOptions;
  #pods?: StartedInformer<V1Pod>;
  #endpoints?: StartedInformer<RetinaEndpointObject>;

  constructor(kc: KubeConfig, options: RetinaEndpointControllerOptions) {
    this.#kc = kc;
    this.#o = options;
    this.#custom = kc.makeApiClient(CustomObjectsApi);
    this.queue = reconcileQueue('pod', (key) => this.reconcile(key), options);
  }

  /** Lists and watches pods and RetinaEndpoints, then reconciles every one of them. */
  async start(): Promise<void> {
    const core = this.#kc.makeApiClient(CoreV1Api);
    const key = (o: KubernetesObject) => `${o.metadata?.namespace ?? 'default'}/${o.metadata?.name ?? ''}`;
    const restartMs = this.#o.informerRestartMs ?? 5000;
    // Endpoints first, so the pods' first pass sees which exist and writes only what is missing or stale.
    this.#endpoints = await watchInformer(
      makeInformer<RetinaEndpointObject>(
        this.#kc,
        `/apis/${RETINA_GROUP}/${RETINA_VERSION}/${PLURAL}`,
        async () => (await this.#custom.listClusterCustomObject({ group: RETINA_GROUP, version: RETINA_VERSION, plural: PLURAL })) as never,
      ),
      { name: PLURAL, logger: this.#o.logger, restartMs, onChange: (o) => this.queue.add(key(o)), onStartQueue: () => {} },
    );
    this.#pods = await watchInformer(
      makeInformer<V1Pod>(this.#kc, '/api/v1/pods', () => core.listPodForAllNamespaces()),
      { name: 'pods', logger: this.#o.logger, restartMs, onChange: (o) => this.queue.add(key(o)), onStartQueue: () => {} },
    );
    // Queued once both caches are in place: a pass reads both.
    for (const o of [...this.#pods.list(), ...this.#endpoints.list()]) this.queue.add(key(o));
    this.#o.logger.info('retinaendpoint controller started');
  }

  async stop(): Promise<void> {
    this.queue.stop();
    await Promise.all([this.#pods?.stop(), this.#endpoints?.stop()]);
  }

  /** One pass for the pod `namespace/name`. */
  async reconcile(key: string): Promise<void> {
    const i = key.indexOf('/');
    const namespace = key.slice(0, i);
    const name = key.slice(i + 1);
    const pod = this.#pods?.get(name, namespace);
    const existing = this.#endpoints?.get(name, namespace);
    const ref = { group: RETINA_GROUP, version: RETINA_VERSION, plural: PLURAL, namespace, name };
    if (!wantsRetinaEndpoint(pod)) {
      if (!existing) return;
      try {
        await this.#custom.deleteNamespacedCustomObject(ref);
        this.#o.logger.debug({ pod: key }, 'retinaendpoint deleted');
      } catch (err) {
        if (httpStatus(err) !== 404) throw err;
      }
      return;
    }
    const want = retinaEndpointFor(pod);
    if (!existing) {
      try {
        await this.#custom.createNamespacedCustomObject({ ...ref, body: want });
        this.#o.logger.debug({ pod: key }, 'retinaendpoint created');
        return;
      } catch (err) {
        // Created meanwhile (the cache lags): fall through to compare with the stored one.
        if (httpStatus(err) !== 409) throw err;
      }
    }
    const stored = existing ?? ((await this.#custom.getNamespacedCustomObject(ref)) as RetinaEndpointObject);
    const sameOwner = canonicalJson(stored.metadata?.ownerReferences ?? []) === canonicalJson(want.metadata!.ownerReferences ?? []);
    if (canonicalJson(stored.spec ?? {}) === canonicalJson(want.spec) && sameOwner) return;
    // Replaced with the stored resourceVersion: a concurrent write answers 409 and the retry reads again.
    await this.#custom.replaceNamespacedCustomObject({
      ...ref,
      body: { ...want, metadata: { ...stored.metadata, ...want.metadata, resourceVersion: stored.metadata?.resourceVersion } },
    });
    this.#o.logger.debug({ pod: key }, 'retinaendpoint updated');
  }
}
