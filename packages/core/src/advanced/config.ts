/**
 * Advanced-metrics configuration: the MetricsConfiguration CRD's `spec` shape (retina.sh/v1alpha1), its
 * validation, and the context label names each option expands to.
 */
import { parseDuration } from '../config/duration.js';
import { ADVANCED_FAMILY_NAMES } from '../metrics/names.js';

/** One entry of `spec.contextOptions` (MetricsConfiguration CRD). */
export interface MetricsContextOption {
  /** CRD metric name, e.g. `forward_count`, `tcp_flag_gauges`, `dns_response_count`. */
  metricName: string;
  /** Context options for the source side: `ip`, `namespace`, `podname`, `workload`, `service`, `port`, `zone`. */
  sourceLabels?: readonly string[];
  /** Context options for the destination side (remote context only). */
  destinationLabels?: readonly string[];
  /** Extra labels; only `is_reply` has an effect, on the forward metrics. */
  additionalLabels?: readonly string[];
  /** Go duration (`30s`, `5m`) or milliseconds; empty or 0 keeps series forever. */
  ttl?: string | number;
}

/** `spec` of a MetricsConfiguration custom resource. */
export interface MetricsConfigurationSpec {
  contextOptions: readonly MetricsContextOption[];
  /** Which namespaces' pods are observed: `include` or `exclude` (not both). */
  namespaces?: { include?: readonly string[] | null; exclude?: readonly string[] | null };
}

/** Thrown for an invalid MetricsConfiguration spec; `message` names the field and value. */
export class AdvancedMetricsConfigError extends Error {
  override name = 'AdvancedMetricsConfigError';
}

/** The context options, in the order their labels appear. */
export const CONTEXT_OPTIONS = ['ip', 'namespace', 'podname', 'workload', 'service', 'port', 'zone'] as const;
export type ContextOption = (typeof CONTEXT_OPTIONS)[number];

/** Context options used when none are configured for annotation-driven observation. */
export const DEFAULT_CONTEXT_OPTIONS: readonly ContextOption[] = ['ip', 'namespace', 'podname', 'workload'];

/** Metric names the CRD accepts (its validation list). */
export const VALID_METRIC_NAMES = [
  'drop_count',
  'drop_bytes',
  'forward_count',
  'forward_bytes',
  'node_connectivity_status',
  'node_connectivity_latency_seconds',
  'tcp_state',
  'tcp_connection_remote',
  'tcp_connection_stats',
  'tcp_flag_gauges',
  'tcp_retransmission_count',
  'ip_connection_stats',
  'udp_connection_stats',
  'dns_request_count',
  'dns_response_count',
  'node_apiserver_latency',
  'node_apiserver_handshake_latency',
  'node_apiserver_no_response',
] as const;

/** The flow-driven advanced families this module produces, by CRD metric name. */
export type AdvancedFlowMetricName =
  | 'forward_count'
  | 'forward_bytes'
  | 'drop_count'
  | 'drop_bytes'
  | 'tcp_flag_gauges'
  | 'tcp_retransmission_count'
  | 'dns_request_count'
  | 'dns_response_count';

interface FamilyShape {
  /** Name in the advanced registry (without the `networkobservability_` prefix). */
  readonly family: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
  /** Labels before the context labels. */
  readonly fixedLabels: readonly string[];
}

/** Family name, type and fixed labels of each flow-driven advanced metric (labels as the reference lists them). */
export const ADVANCED_FLOW_FAMILIES: Readonly<Record<AdvancedFlowMetricName, FamilyShape>> = {
  forward_count: {
    family: ADVANCED_FAMILY_NAMES.forwardCount,
    type: 'gauge',
    help: 'Packets forwarded, by pod context',
    fixedLabels: ['direction'],
  },
  forward_bytes: {
    family: ADVANCED_FAMILY_NAMES.forwardBytes,
    type: 'gauge',
    help: 'Bytes forwarded, by pod context',
    fixedLabels: ['direction'],
  },
  drop_count: {
    family: ADVANCED_FAMILY_NAMES.dropCount,
    type: 'gauge',
    help: 'Packets dropped, by pod context',
    fixedLabels: ['reason', 'direction'],
  },
  drop_bytes: {
    family: ADVANCED_FAMILY_NAMES.dropBytes,
    type: 'gauge',
    help: 'Bytes dropped, by pod context',
    fixedLabels: ['reason', 'direction'],
  },
  tcp_flag_gauges: {
    family: ADVANCED_FAMILY_NAMES.tcpFlags,
    type: 'gauge',
    help: 'TCP flags seen, by pod context',
    fixedLabels: ['flag'],
  },
  tcp_retransmission_count: {
    family: ADVANCED_FAMILY_NAMES.tcpRetransmissions,
    type: 'gauge',
    help: 'TCP retransmissions, by pod context',
    fixedLabels: ['direction'],
  },
  dns_request_count: {
    family: ADVANCED_FAMILY_NAMES.dnsRequestCount,
    type: 'counter',
    help: 'DNS requests, by pod context',
    fixedLabels: ['query_type', 'query'],
  },
  dns_response_count: {
    family: ADVANCED_FAMILY_NAMES.dnsResponseCount,
    type: 'counter',
    help: 'DNS responses, by pod context',
    fixedLabels: ['query_type', 'query', 'return_code', 'response', 'num_response'],
  },
};

/** One validated context option, ready to build a family from. */
export interface ResolvedMetricOption {
  metricName: AdvancedFlowMetricName;
  /** Context options of the source side (local context: of the local pod), in label order. */
  source: readonly ContextOption[];
  /** Context options of the destination side (remote context only), in label order. */
  destination: readonly ContextOption[];
  isReply: boolean;
  /** 0 = never expire. */
  ttlMs: number;
}

/** The validated spec. */
export interface ResolvedSpec {
  metrics: ResolvedMetricOption[];
  /** Metric names accepted by the CRD but not produced from flows here (API-server latency, node metrics). */
  ignored: string[];
  include: ReadonlySet<string> | undefined;
  exclude: ReadonlySet<string> | undefined;
}

/** Normalises context option tokens (case-insensitive) to label order; unknown tokens are ignored, as Retina does. */
export function normalizeContextOptions(tokens: readonly string[] | undefined): ContextOption[] {
  if (!tokens) return [];
  const wanted = new Set(tokens.map((t) => t.trim().toLowerCase()));
  return CONTEXT_OPTIONS.filter((o) => wanted.has(o));
}

/** Label names an option list expands to (`workload` gives two), with `prefix` (`source_`, `destination_` or ''). */
export function contextLabelNames(options: readonly ContextOption[], prefix: string): string[] {
  const out: string[] = [];
  for (const o of options) {
    if (o === 'workload') out.push(`${prefix}workload_kind`, `${prefix}workload_name`);
    else out.push(prefix + o);
  }
  return out;
}

function ttlOf(option: MetricsContextOption, index: number): number {
  const raw = option.ttl;
  if (raw === undefined || raw === '' || raw === 0) return 0;
  const ms = typeof raw === 'number' ? raw : parseDuration(raw);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    throw new AdvancedMetricsConfigError(
      `contextOptions[${index}].ttl: ${JSON.stringify(raw)} is not a non-negative duration (examples: 30s, 5m, 1h)`,
    );
  }
  return ms;
}

/** Validates a MetricsConfiguration spec and resolves its context options (pure). */
export function resolveSpec(spec: MetricsConfigurationSpec): ResolvedSpec {
  if (!Array.isArray(spec.contextOptions)) {
    throw new AdvancedMetricsConfigError(
      'contextOptions: required, a list of { metricName, sourceLabels, ... }',
    );
  }
  const include = spec.namespaces?.include ?? undefined;
  const exclude = spec.namespaces?.exclude ?? undefined;
  if (include && exclude) {
    throw new AdvancedMetricsConfigError('namespaces: set either include or exclude, not both');
  }
  const metrics: ResolvedMetricOption[] = [];
  const ignored: string[] = [];
  const seen = new Set<string>();
  spec.contextOptions.forEach((option, i) => {
    const name = option.metricName;
    if (!(VALID_METRIC_NAMES as readonly string[]).includes(name)) {
      throw new AdvancedMetricsConfigError(
        `contextOptions[${i}].metricName: "${String(name)}" is not a known metric (valid: ${VALID_METRIC_NAMES.join(', ')})`,
      );
    }
    if (seen.has(name)) {
      throw new AdvancedMetricsConfigError(
        `contextOptions[${i}].metricName: "${name}" is configured twice; keep one entry`,
      );
    }
    seen.add(name);
    const ttlMs = ttlOf(option, i);
    if (!(name in ADVANCED_FLOW_FAMILIES)) {
      ignored.push(name);
      return;
    }
    const metricName = name as AdvancedFlowMetricName;
    const additional = new Set((option.additionalLabels ?? []).map((l: string) => l.trim().toLowerCase()));
    metrics.push({
      metricName,
      source: normalizeContextOptions(option.sourceLabels),
      destination: normalizeContextOptions(option.destinationLabels),
      isReply:
        additional.has('is_reply') && (metricName === 'forward_count' || metricName === 'forward_bytes'),
      ttlMs,
    });
  });
  return {
    metrics,
    ignored,
    include: include ? new Set(include) : undefined,
    exclude: exclude ? new Set(exclude) : undefined,
  };
}

/** The spec Retina synthesises for annotation-driven observation: every flow metric with the default context. */
export function defaultAnnotationSpec(
  annotatedNamespaces: readonly string[] = [],
  ttl?: string,
): MetricsConfigurationSpec {
  return {
    contextOptions: (Object.keys(ADVANCED_FLOW_FAMILIES) as AdvancedFlowMetricName[]).map((metricName) => ({
      metricName,
      sourceLabels: DEFAULT_CONTEXT_OPTIONS,
      destinationLabels: DEFAULT_CONTEXT_OPTIONS,
      ...(ttl !== undefined ? { ttl } : {}),
    })),
    namespaces: { include: annotatedNamespaces },
  };
}
