/**
 * Source/destination context of hubble_* metrics, configured per metric as Hubble does:
 * `sourceContext=pod|namespace` (first non-empty identifier wins), the directed variants `sourceEgressContext`,
 * `sourceIngressContext`, `destinationEgressContext`, `destinationIngressContext` (used for flows of that traffic
 * direction, overriding the plain option), and `labelsContext=source_pod,destination_namespace,...`.
 */
import type { PbEndpoint, PbFlow } from '../wire.js';
import { Wire } from '../wire.js';

/** Context identifiers Hubble accepts. */
export const CONTEXT_IDENTIFIERS = [
  'identity',
  'namespace',
  'pod',
  'pod-name',
  'pod-short',
  'dns',
  'ip',
  'reserved-identity',
  'workload',
  'workload-name',
  'app',
] as const;
export type ContextIdentifier = (typeof CONTEXT_IDENTIFIERS)[number];

/** Labels `labelsContext` may add, in the order they are emitted. */
export const CONTEXT_LABELS = [
  'source_ip',
  'source_pod',
  'source_namespace',
  'source_workload',
  'source_workload_kind',
  'source_app',
  'destination_ip',
  'destination_pod',
  'destination_namespace',
  'destination_workload',
  'destination_workload_kind',
  'destination_app',
  'traffic_direction',
] as const;
export type ContextLabel = (typeof CONTEXT_LABELS)[number];

/** Parsed context options of one metric. */
export interface ContextOptions {
  source: ContextIdentifier[];
  sourceEgress: ContextIdentifier[];
  sourceIngress: ContextIdentifier[];
  destination: ContextIdentifier[];
  destinationEgress: ContextIdentifier[];
  destinationIngress: ContextIdentifier[];
  labels: ContextLabel[];
}

/** Option keys (lower-cased) that belong to the context. */
export const CONTEXT_OPTION_KEYS: Record<string, keyof ContextOptions> = {
  sourcecontext: 'source',
  sourceegresscontext: 'sourceEgress',
  sourceingresscontext: 'sourceIngress',
  destinationcontext: 'destination',
  destinationegresscontext: 'destinationEgress',
  destinationingresscontext: 'destinationIngress',
  labelscontext: 'labels',
};

/** Empty context options (no context labels). */
export function emptyContext(): ContextOptions {
  return {
    source: [],
    sourceEgress: [],
    sourceIngress: [],
    destination: [],
    destinationEgress: [],
    destinationIngress: [],
    labels: [],
  };
}

/** Whether the metric gets a `source` label. */
function hasSource(o: ContextOptions): boolean {
  return o.source.length + o.sourceEgress.length + o.sourceIngress.length > 0;
}

/** Whether the metric gets a `destination` label. */
function hasDestination(o: ContextOptions): boolean {
  return o.destination.length + o.destinationEgress.length + o.destinationIngress.length > 0;
}

/** The context label names, in exposition order: labelsContext labels, then `source`, then `destination`. */
export function contextLabelNames(o: ContextOptions): string[] {
  const names: string[] = CONTEXT_LABELS.filter((l) => o.labels.includes(l));
  if (hasSource(o)) names.push('source');
  if (hasDestination(o)) names.push('destination');
  return names;
}

const SHORT_POD = /^(.+?)(-[a-z0-9]+){1,2}$/;
const APP_LABELS = ['k8s:app.kubernetes.io/name', 'k8s:k8s-app', 'k8s:app'];

function appOf(ep: PbEndpoint | undefined): string {
  for (const label of ep?.labels ?? []) {
    for (const app of APP_LABELS) {
      if (label.startsWith(`${app}=`)) {
        const value = label.slice(app.length + 1);
        if (value !== '') return value;
      }
    }
  }
  return '';
}

function withNamespace(ep: PbEndpoint | undefined, name: string): string {
  return ep?.namespace ? `${ep.namespace}/${name}` : name;
}

function reservedIdentity(ep: PbEndpoint | undefined): string {
  const labels = ep?.labels ?? [];
  if (labels.includes('reserved:kube-apiserver')) return 'reserved:kube-apiserver';
  return labels.find((l) => l.startsWith('reserved:')) ?? '';
}

/** Value of one context identifier for the source (`isSource`) or destination side of a flow. */
export function contextValue(id: ContextIdentifier, flow: PbFlow, isSource: boolean): string {
  const ep = isSource ? flow.source : flow.destination;
  switch (id) {
    case 'identity':
      return (ep?.labels ?? []).join(',');
    case 'namespace':
      return ep?.namespace ?? '';
    case 'pod':
      return withNamespace(ep, ep?.pod_name ?? '');
    case 'pod-name':
      return ep?.pod_name ?? '';
    case 'pod-short':
      return withNamespace(ep, (ep?.pod_name ?? '').replace(SHORT_POD, '$1'));
    case 'dns':
      return ((isSource ? flow.source_names : flow.destination_names) ?? []).join(',');
    case 'ip':
      return (isSource ? flow.IP?.source : flow.IP?.destination) ?? '';
    case 'reserved-identity':
      return reservedIdentity(ep);
    case 'workload': {
      const w = ep?.workloads?.[0];
      return w ? withNamespace(ep, w.name) : '';
    }
    case 'workload-name':
      return ep?.workloads?.[0]?.name ?? '';
    case 'app':
      return appOf(ep);
  }
}

function firstNonEmpty(ids: readonly ContextIdentifier[], flow: PbFlow, isSource: boolean): string {
  for (const id of ids) {
    const v = contextValue(id, flow, isSource);
    if (v !== '') return v;
  }
  return '';
}

/** What follows `source_` or `destination_` in a labelsContext label. */
type SideLabelPart = ContextLabel extends infer L ? (L extends `source_${infer P}` ? P : never) : never;

/** Side label parts whose value is that of a context identifier (all but the workload kind). */
const SIDE_LABEL_IDS: Record<Exclude<SideLabelPart, 'workload_kind'>, ContextIdentifier> = {
  ip: 'ip',
  pod: 'pod-name',
  namespace: 'namespace',
  workload: 'workload-name',
  app: 'app',
};

function labelValue(label: ContextLabel, flow: PbFlow): string {
  if (label === 'traffic_direction') {
    if (flow.traffic_direction === Wire.trafficDirection.INGRESS) return 'ingress';
    if (flow.traffic_direction === Wire.trafficDirection.EGRESS) return 'egress';
    return 'unknown';
  }
  const isSource = label.startsWith('source_');
  const part = label.slice(label.indexOf('_') + 1) as SideLabelPart;
  if (part === 'workload_kind') return (isSource ? flow.source : flow.destination)?.workloads?.[0]?.kind ?? '';
  return contextValue(SIDE_LABEL_IDS[part], flow, isSource);
}

/** The context label values of a flow, keyed by label name (the names of `contextLabelNames`). */
export function contextLabelValues(o: ContextOptions, flow: PbFlow): Record<string, string> {
  const out: Record<string, string> = {};
  for (const label of CONTEXT_LABELS) if (o.labels.includes(label)) out[label] = labelValue(label, flow);
  const direction = flow.traffic_direction;
  if (hasSource(o)) {
    let ids = o.source;
    if (o.sourceIngress.length > 0 && direction === Wire.trafficDirection.INGRESS) ids = o.sourceIngress;
    else if (o.sourceEgress.length > 0 && direction === Wire.trafficDirection.EGRESS) ids = o.sourceEgress;
    out.source = firstNonEmpty(ids, flow, true);
  }
  if (hasDestination(o)) {
    let ids = o.destination;
    if (o.destinationIngress.length > 0 && direction === Wire.trafficDirection.INGRESS)
      ids = o.destinationIngress;
    else if (o.destinationEgress.length > 0 && direction === Wire.trafficDirection.EGRESS)
      ids = o.destinationEgress;
    out.destination = firstNonEmpty(ids, flow, false);
  }
  return out;
}
