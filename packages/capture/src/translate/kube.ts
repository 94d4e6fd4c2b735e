/**
 * The cluster reads and writes the CLI and the operator share, over @kubernetes/client-node: target resolution
 * reads, and the Jobs of a capture (list, create, delete).
 */
import { BatchV1Api, CoreV1Api, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import { captureJobSelector } from './job.js';
import type { ClusterReader } from './targets.js';

/** The HTTP status of a client error, when it has one. */
export function httpStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && code >= 100 && code < 600 ? code : undefined;
}

/** What `read` resolves to, or undefined when the API answers 404 (no such object); other errors are rethrown. */
export async function unlessNotFound<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (httpStatus(err) === 404) return undefined;
    throw err;
  }
}

/** The message of a client error: the API's Status message when there is one. */
export function apiErrorMessage(err: unknown): string {
  const body = (err as { body?: unknown } | undefined)?.body;
  let parsed: unknown = body;
  if (typeof body === 'string') {
    try {
      parsed = JSON.parse(body);
    } catch {
      parsed = undefined;
    }
  }
  const msg = (parsed as { message?: unknown } | undefined)?.message;
  if (typeof msg === 'string') return `HTTP ${httpStatus(err) ?? '?'}: ${msg}`;
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** A ClusterReader over the API server. */
export function kubeClusterReader(kc: KubeConfig): ClusterReader {
  const core = kc.makeApiClient(CoreV1Api);
  return {
    async listNodes(labelSelector) {
      return (await core.listNode(labelSelector ? { labelSelector } : {})).items;
    },
    async listNamespaces(labelSelector) {
      return (await core.listNamespace(labelSelector ? { labelSelector } : {})).items;
    },
    async listPods(namespace, labelSelector) {
      const sel = labelSelector ? { labelSelector } : {};
      return namespace
        ? (await core.listNamespacedPod({ namespace, ...sel })).items
        : (await core.listPodForAllNamespaces(sel)).items;
    },
    getPod: (namespace, name) => unlessNotFound(() => core.readNamespacedPod({ namespace, name })),
  };
}

/** The Jobs of a capture in a namespace (all namespaces when undefined). */
export async function listCaptureJobs(kc: KubeConfig, namespace: string | undefined, captureName?: string): Promise<V1Job[]> {
  const batch = kc.makeApiClient(BatchV1Api);
  const labelSelector = captureName ? captureJobSelector(captureName) : 'retina.sh/app=capture';
  const list = namespace
    ? await batch.listNamespacedJob({ namespace, labelSelector })
    : await batch.listJobForAllNamespaces({ labelSelector });
  return list.items;
}

/** Creates a Job; an existing Job of the same name counts as created (the names are deterministic). */
export async function createJobIfAbsent(kc: KubeConfig, job: V1Job): Promise<V1Job> {
  const batch = kc.makeApiClient(BatchV1Api);
  try {
    return await batch.createNamespacedJob({ namespace: job.metadata!.namespace!, body: job });
  } catch (err) {
    if (httpStatus(err) === 409) return batch.readNamespacedJob({ namespace: job.metadata!.namespace!, name: job.metadata!.name! });
    throw err;
  }
}

/** Deletes Jobs with their pods (background propagation); ones already gone are skipped. */
export async function deleteJobs(kc: KubeConfig, jobs: readonly V1Job[]): Promise<number> {
  const batch = kc.makeApiClient(BatchV1Api);
  let n = 0;
  for (const job of jobs) {
    try {
      await batch.deleteNamespacedJob({
        namespace: job.metadata!.namespace!,
        name: job.metadata!.name!,
        propagationPolicy: 'Background',
      });
      n++;
    } catch (err) {
      if (httpStatus(err) !== 404) throw err;
    }
  }
  return n;
}
