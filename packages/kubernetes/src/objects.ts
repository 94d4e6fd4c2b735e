/**
 * Pure conversions from Kubernetes objects (as the client delivers them: typed from lists, plain JSON from watches)
 * to what the IP cache stores.
 */
import type { NodeRecord, ServiceRecord } from '@retina-ts/core';

/** Retina's opt-in annotation key and value (`retina.sh: observe`) on pods and namespaces. */
export const OBSERVE_ANNOTATION = 'retina.sh';
export const OBSERVE_VALUE = 'observe';

/** Zone labels, newest first. */
export const ZONE_LABELS = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'] as const;

/** The subset of object metadata the watchers read. */
export interface Meta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: Date | string;
  deletionTimestamp?: Date | string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: { kind: string; name: string; apiVersion?: string; controller?: boolean; uid?: string }[];
}

/** A Kubernetes object as the watchers see it. */
export interface KubeObjectLike {
  metadata?: Meta;
}

/** A pod (or a RetinaEndpoint standing for one), reduced to what the IP cache and the observers need. */
export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  ips: string[];
  labels: Record<string, string>;
  /** The direct controller (first controller owner reference, else the first one). */
  owner?: { kind: string; name: string };
  nodeName?: string;
  /** The node's IP (RetinaEndpoint `spec.nodeIP`), used to find the node name when `nodeName` is unknown. */
  nodeIp?: string;
  /** Creation time in ms since the epoch (0 when unknown). */
  createdMs: number;
  /** Carries `retina.sh: observe`. */
  observed: boolean;
  /** Has no IP of its own for the cache: host network, terminal phase, or no IP yet. */
  inactive?: 'hostNetwork' | 'terminal' | 'noIp';
  /** pod-template-hash label, to name the Deployment of a ReplicaSet before it is looked up. */
  podTemplateHash?: string;
}

/** Milliseconds since the epoch from a Date or an RFC 3339 string (0 when absent or invalid). */
export function timeMs(t: Date | string | undefined): number {
  if (t === undefined) return 0;
  const ms = t instanceof Date ? t.getTime() : Date.parse(t);
  return Number.isFinite(ms) ? ms : 0;
}

/** The controller owner reference, else the first owner reference. */
export function directOwner(meta: Meta | undefined): { kind: string; name: string } | undefined {
  const refs = meta?.ownerReferences ?? [];
  const ref = refs.find((r) => r.controller) ?? refs[0];
  return ref && ref.kind && ref.name ? { kind: ref.kind, name: ref.name } : undefined;
}

/** Distinct non-empty IPs, in order. */
function uniqueIps(ips: (string | undefined | null)[]): string[] {
  return [...new Set(ips.filter((ip): ip is string => typeof ip === 'string' && ip !== '' && ip !== 'None'))];
}

/** A pod as the API server reports it (only the fields read here). */
export interface PodLike extends KubeObjectLike {
  spec?: { nodeName?: string; hostNetwork?: boolean };
  status?: { phase?: string; podIP?: string; podIPs?: { ip?: string }[]; hostIP?: string };
}

/** Reduces a Pod to PodInfo. Host-network, finished (Succeeded/Failed) and IP-less pods are marked inactive. */
export function podInfoFromPod(pod: PodLike): PodInfo {
  const meta = pod.metadata ?? {};
  const ips = uniqueIps([...(pod.status?.podIPs ?? []).map((p) => p.ip), pod.status?.podIP]);
  const phase = pod.status?.phase;
  const inactive = pod.spec?.hostNetwork
    ? 'hostNetwork'
    : phase === 'Succeeded' || phase === 'Failed'
      ? 'terminal'
      : ips.length === 0
        ? 'noIp'
        : undefined;
  const owner = directOwner(meta);
  const hash = meta.labels?.['pod-template-hash'];
  return {
    namespace: meta.namespace ?? 'default',
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    ips,
    labels: { ...(meta.labels ?? {}) },
    ...(owner ? { owner } : {}),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    ...(pod.status?.hostIP ? { nodeIp: pod.status.hostIP } : {}),
    createdMs: timeMs(meta.creationTimestamp),
    observed: meta.annotations?.[OBSERVE_ANNOTATION] === OBSERVE_VALUE,
    ...(inactive ? { inactive } : {}),
    ...(hash ? { podTemplateHash: hash } : {}),
  };
}

/** A RetinaEndpoint custom resource (retina.sh/v1alpha1), as the operator writes it for each pod. */
export interface RetinaEndpointLike extends KubeObjectLike {
  spec?: {
    podIP?: string;
    podIPs?: string[];
    nodeIP?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind?: string; name?: string; apiVersion?: string }[];
    containers?: { name?: string; id?: string }[];
  };
}

/** Reduces a RetinaEndpoint to PodInfo: the pod's name, namespace, IPs, labels, owner and node IP. */
export function podInfoFromRetinaEndpoint(ep: RetinaEndpointLike): PodInfo {
  const meta = ep.metadata ?? {};
  const spec = ep.spec ?? {};
  const ips = uniqueIps([spec.podIP, ...(spec.podIPs ?? [])]);
  const ref = (spec.ownerReferences ?? []).find((r) => r.kind && r.name);
  const labels = { ...(spec.labels ?? {}) };
  const hash = labels['pod-template-hash'];
  return {
    namespace: meta.namespace ?? 'default',
    name: meta.name ?? '',
    uid: meta.uid ?? '',
    ips,
    labels,
    ...(ref ? { owner: { kind: ref.kind!, name: ref.name! } } : {}),
    ...(spec.nodeIP ? { nodeIp: spec.nodeIP } : {}),
    createdMs: timeMs(meta.creationTimestamp),
    observed: spec.annotations?.[OBSERVE_ANNOTATION] === OBSERVE_VALUE,
    ...(ips.length === 0 ? { inactive: 'noIp' as const } : {}),
    ...(hash ? { podTemplateHash: hash } : {}),
  };
}

/** A Service (only the fields read here). */
export interface ServiceLike extends KubeObjectLike {
  spec?: { clusterIP?: string; clusterIPs?: string[]; type?: string };
  status?: { loadBalancer?: { ingress?: { ip?: string }[] } };
}

/** The service's cluster IPs and load-balancer IPs; headless services (`None`) have none. */
export function serviceRecord(svc: ServiceLike): ServiceRecord {
  const meta = svc.metadata ?? {};
  const ips = uniqueIps([
    ...(svc.spec?.clusterIPs ?? []),
    svc.spec?.clusterIP,
    ...(svc.status?.loadBalancer?.ingress ?? []).map((i) => i.ip),
  ]);
  return {
    namespace: meta.namespace ?? 'default',
    name: meta.name ?? '',
    ips,
    ...(meta.labels ? { labels: { ...meta.labels } } : {}),
  };
}

/** A Node (only the fields read here). */
export interface NodeLike extends KubeObjectLike {
  status?: { addresses?: { type?: string; address?: string }[] };
}

/** The node's InternalIP addresses (both families) and zone label. */
export function nodeRecord(node: NodeLike): NodeRecord {
  const meta = node.metadata ?? {};
  const ips = uniqueIps((node.status?.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address));
  const zone = ZONE_LABELS.map((l) => meta.labels?.[l]).find((z) => z);
  return {
    name: meta.name ?? '',
    ips,
    ...(meta.labels ? { labels: { ...meta.labels } } : {}),
    ...(zone ? { zone } : {}),
  };
}

/** Whether a namespace opts in with `retina.sh: observe`. */
export function namespaceObserved(ns: KubeObjectLike): boolean {
  return ns.metadata?.annotations?.[OBSERVE_ANNOTATION] === OBSERVE_VALUE;
}

/** Keeps the named keys of an object (absent keys stay absent). */
function pick(obj: unknown, keys: readonly string[]): Record<string, unknown> | undefined {
  if (!obj || typeof obj !== 'object') return undefined;
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = (obj as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

const META_KEYS = ['name', 'namespace', 'uid', 'resourceVersion', 'creationTimestamp', 'deletionTimestamp', 'labels', 'ownerReferences'];

/**
 * An object reduced to its metadata (without managedFields, and with annotations cut to `retina.sh`) and the
 * named spec and status fields: what the informer caches for pods, services and nodes.
 */
export function slimObject<T extends KubeObjectLike>(obj: T, keep: { spec?: readonly string[]; status?: readonly string[] }): T {
  const o = obj as KubeObjectLike & { spec?: unknown; status?: unknown; kind?: string; apiVersion?: string };
  const metadata = pick(o.metadata, META_KEYS) as Meta;
  const observe = o.metadata?.annotations?.[OBSERVE_ANNOTATION];
  if (observe !== undefined) metadata.annotations = { [OBSERVE_ANNOTATION]: observe };
  const out: Record<string, unknown> = { metadata };
  if (o.kind) out.kind = o.kind;
  if (o.apiVersion) out.apiVersion = o.apiVersion;
  if (keep.spec && o.spec) out.spec = pick(o.spec, keep.spec);
  if (keep.status && o.status) out.status = pick(o.status, keep.status);
  return out as T;
}

/** What the pod, service and node watchers keep of each object. */
export const SLIM_FIELDS = {
  pods: { spec: ['nodeName', 'hostNetwork'], status: ['phase', 'podIP', 'podIPs', 'hostIP'] },
  services: { spec: ['clusterIP', 'clusterIPs', 'type'], status: ['loadBalancer'] },
  nodes: { status: ['addresses'] },
  namespaces: {},
} as const;
