/**
 * From endpoint samples to metric series. `nodeSeries` and `podSeries` are pure; `HnsMetricsWriter` applies their
 * result to the metrics module and removes the series that disappeared since the previous poll.
 */
import {
  ADVANCED_FAMILY_NAMES,
  METRIC_PREFIX,
  MetricRegistrationError,
  type IpCacheReader,
  type IpInfo,
  type MetricsModule,
} from '@retina-ts/core';
import type { EndpointSample } from './collector.js';
import type { HnsCounterName } from './hns/decode.js';
import type { VfpCounterName } from './vfp/counters.js';

/** Label value for context the IP cache does not know. */
export const UNKNOWN = 'unknown';

/** Local-context labels of the pod-level series, in Retina's order (default context options). */
export const CONTEXT_LABELS = ['ip', 'namespace', 'podname', 'workload_kind', 'workload_name'] as const;

/** Basic (node-level) families this plugin writes, by their key in `metrics.basic`. */
export type NodeFamily =
  'forwardCount' | 'forwardBytes' | 'dropCount' | 'windowsHnsStats' | 'tcpConnectionStats' | 'tcpFlagGauges';

/** Advanced (pod-level) families this plugin writes. */
export type PodFamily =
  | 'advForwardCount'
  | 'advForwardBytes'
  | 'advDropCount'
  | 'advTcpFlags'
  | 'advWindowsHnsStats'
  | 'advTcpConnectionStats';

/** A pod-level family: Retina's advanced name, its help, and its own labels followed by the context labels. */
function podFamily(
  family: keyof typeof ADVANCED_FAMILY_NAMES,
  help: string,
  labels: readonly string[],
): { name: string; help: string; labelNames: readonly string[] } {
  return { name: ADVANCED_FAMILY_NAMES[family], help, labelNames: [...labels, ...CONTEXT_LABELS] };
}

/** Names, help and labels of the pod-level families (registered in `metrics.advanced`). */
export const POD_FAMILIES: Readonly<
  Record<PodFamily, { name: string; help: string; labelNames: readonly string[] }>
> = {
  advForwardCount: podFamily('forwardCount', 'Packets forwarded by a pod, by direction (cumulative)', [
    'direction',
  ]),
  advForwardBytes: podFamily('forwardBytes', 'Bytes forwarded by a pod, by direction (cumulative)', [
    'direction',
  ]),
  advDropCount: podFamily('dropCount', 'Packets dropped for a pod, by reason and direction (cumulative)', [
    'reason',
    'direction',
  ]),
  advTcpFlags: podFamily('tcpFlags', 'TCP packets of a pod by flag, both directions (cumulative)', ['flag']),
  advWindowsHnsStats: podFamily('windowsHnsStats', 'Host Networking Service counters of a pod (Windows)', [
    'direction',
  ]),
  advTcpConnectionStats: podFamily(
    'tcpConnectionStats',
    'VFP TCP connection counters of a pod (Windows, cumulative)',
    ['statistic_name'],
  ),
};

/** Which pod-level family carries each node-level family's values. */
const POD_FAMILY_OF: Readonly<Record<NodeFamily, PodFamily>> = {
  forwardCount: 'advForwardCount',
  forwardBytes: 'advForwardBytes',
  dropCount: 'advDropCount',
  windowsHnsStats: 'advWindowsHnsStats',
  tcpConnectionStats: 'advTcpConnectionStats',
  tcpFlagGauges: 'advTcpFlags',
};

/** One series: labels and value. */
export interface Series {
  labels: Readonly<Record<string, string>>;
  value: number;
}

/** Series per family. */
export type SeriesByFamily<F extends string> = Record<F, Series[]>;

interface Rule<C extends string> {
  counter: C;
  family: NodeFamily;
  labels: Record<string, string>;
}

/** HNS counter → node-level series. */
export const HNS_RULES: ReadonlyArray<Rule<HnsCounterName>> = [
  { counter: 'PacketsReceived', family: 'forwardCount', labels: { direction: 'ingress' } },
  { counter: 'PacketsSent', family: 'forwardCount', labels: { direction: 'egress' } },
  { counter: 'BytesReceived', family: 'forwardBytes', labels: { direction: 'ingress' } },
  { counter: 'BytesSent', family: 'forwardBytes', labels: { direction: 'egress' } },
  { counter: 'PacketsReceived', family: 'windowsHnsStats', labels: { direction: 'win_packets_recv_count' } },
  { counter: 'PacketsSent', family: 'windowsHnsStats', labels: { direction: 'win_packets_sent_count' } },
  {
    counter: 'DroppedPacketsIncoming',
    family: 'dropCount',
    labels: { reason: 'endpoint', direction: 'ingress' },
  },
  {
    counter: 'DroppedPacketsOutgoing',
    family: 'dropCount',
    labels: { reason: 'endpoint', direction: 'egress' },
  },
];

/** VFP counter (per direction) → node-level series. TCP connection statistics come from the IN direction. */
export const VFP_RULES: ReadonlyArray<Rule<VfpCounterName> & { direction: 'in' | 'out' }> = [
  {
    direction: 'in',
    counter: 'droppedAclPackets',
    family: 'dropCount',
    labels: { reason: 'aclrule', direction: 'ingress' },
  },
  {
    direction: 'out',
    counter: 'droppedAclPackets',
    family: 'dropCount',
    labels: { reason: 'aclrule', direction: 'egress' },
  },
  ...(
    [
      ['tcpConnectionsReset', 'ResetCount'],
      ['tcpConnectionsClosedByFin', 'ClosedFin'],
      ['tcpConnectionsResetBySyn', 'ResetSyn'],
      ['tcpHalfOpenTimeouts', 'TcpHalfOpenTimeouts'],
      ['tcpConnectionsVerified', 'Verified'],
      ['tcpConnectionsTimedOut', 'TimedOutCount'],
      ['tcpConnectionsExpiredToTimeWait', 'TimeWaitExpiredCount'],
    ] as const
  ).map(([counter, statistic]) => ({
    direction: 'in' as const,
    counter,
    family: 'tcpConnectionStats' as const,
    labels: { statistic_name: statistic },
  })),
  ...(['in', 'out'] as const).flatMap((direction) =>
    (
      [
        ['synPackets', 'SYN'],
        ['synAckPackets', 'SYNACK'],
        ['finPackets', 'FIN'],
        ['rstPackets', 'RST'],
      ] as const
    ).map(([counter, flag]) => ({
      direction,
      counter,
      family: 'tcpFlagGauges' as const,
      labels: { direction: direction === 'in' ? 'ingress' : 'egress', flag },
    })),
  ),
];

const NODE_FAMILIES: readonly NodeFamily[] = [
  'forwardCount',
  'forwardBytes',
  'dropCount',
  'windowsHnsStats',
  'tcpConnectionStats',
  'tcpFlagGauges',
];

/** What one endpoint contributes, before aggregation. */
interface Contribution {
  family: NodeFamily;
  labels: Record<string, string>;
  value: number;
}

function contributions(sample: EndpointSample): Contribution[] {
  const out: Contribution[] = [];
  for (const r of HNS_RULES) {
    const v = sample.hns[r.counter];
    if (v !== undefined) out.push({ family: r.family, labels: r.labels, value: v });
  }
  if (sample.vfp) {
    for (const r of VFP_RULES) {
      const v = sample.vfp[r.direction][r.counter];
      if (v !== undefined) out.push({ family: r.family, labels: r.labels, value: v });
    }
  }
  return out;
}

/** Sums series with equal labels, keeping first-seen order. */
class Aggregate<F extends string> {
  readonly #by = new Map<F, Map<string, { labels: Record<string, string>; value: number }>>();

  add(family: F, labels: Record<string, string>, value: number): void {
    let m = this.#by.get(family);
    if (!m) this.#by.set(family, (m = new Map()));
    const key = labelKey(labels);
    const cur = m.get(key);
    if (cur) cur.value += value;
    else m.set(key, { labels, value });
  }

  result(families: readonly F[]): SeriesByFamily<F> {
    return Object.fromEntries(
      families.map((f) => [f, [...(this.#by.get(f)?.values() ?? [])]]),
    ) as SeriesByFamily<F>;
  }
}

/** A stable key for a label set (independent of property order). */
export function labelKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(
    Object.keys(labels)
      .sort()
      .map((k) => [k, labels[k]]),
  );
}

/**
 * Node-level series: each counter summed over the endpoints that reported it. The HNS-based series (forward
 * count and bytes, endpoint drops, windows_hns_stats) are always present, 0 on a node without endpoints; the
 * VFP-based ones only when at least one endpoint's VFP report listed that counter.
 */
export function nodeSeries(samples: readonly EndpointSample[]): SeriesByFamily<NodeFamily> {
  const agg = new Aggregate<NodeFamily>();
  for (const r of HNS_RULES) agg.add(r.family, r.labels, 0);
  for (const s of samples) for (const c of contributions(s)) agg.add(c.family, c.labels, c.value);
  return agg.result(NODE_FAMILIES);
}

/** The local-context labels of an endpoint: its pod from the IP cache (first IP that is a pod's), else unknown. */
export function podContext(
  ips: readonly string[],
  lookup: (ip: string) => IpInfo | undefined,
): Record<string, string> {
  for (const ip of ips) {
    const info = lookup(ip);
    if (info?.kind === 'pod') {
      return {
        ip,
        namespace: info.namespace || UNKNOWN,
        podname: info.name || UNKNOWN,
        workload_kind: info.workload?.kind || UNKNOWN,
        workload_name: info.workload?.name || UNKNOWN,
      };
    }
  }
  return {
    ip: ips[0] ?? UNKNOWN,
    namespace: UNKNOWN,
    podname: UNKNOWN,
    workload_kind: UNKNOWN,
    workload_name: UNKNOWN,
  };
}

/**
 * Pod-level series: the node-level values of each endpoint with its pod's context labels. TCP flags are summed
 * over both directions (`adv_tcpflags_count` has no direction label), as a pod's flags are counted in both
 * directions by the flow-based variant. Endpoints of the same pod add up.
 */
export function podSeries(
  samples: readonly EndpointSample[],
  lookup: (ip: string) => IpInfo | undefined,
): SeriesByFamily<PodFamily> {
  const agg = new Aggregate<PodFamily>();
  for (const s of samples) {
    const context = podContext(s.ips, lookup);
    for (const c of contributions(s)) {
      const family = POD_FAMILY_OF[c.family];
      const own = family === 'advTcpFlags' ? { flag: c.labels.flag! } : c.labels;
      agg.add(family, { ...own, ...context }, c.value);
    }
  }
  return agg.result(Object.keys(POD_FAMILIES) as PodFamily[]);
}

/** Options of HnsMetricsWriter. */
export interface HnsMetricsWriterOptions {
  metrics: MetricsModule;
  /** Write pod-level series too. */
  podLevel: boolean;
  ipCache: IpCacheReader;
  /**
   * Called once per pod-level family (full metric name) that cannot be registered because another component owns
   * the name with other labels.
   */
  onFamilyError?: (family: string, err: Error) => void;
}

/** A gauge family with any labels, as the metrics module hands them out. */
type AnyGauge = ReturnType<MetricsModule['gauge']>;

/** The series one family holds that this writer set. */
interface Written {
  gauge: AnyGauge;
  series: Map<string, Readonly<Record<string, string>>>;
}

/**
 * Writes samples into the metrics module. Each apply replaces this plugin's previous values: series of endpoints,
 * pods or counters no longer seen are removed. Only series this writer set are ever touched.
 */
export class HnsMetricsWriter {
  readonly #opts: HnsMetricsWriterOptions;
  readonly #written = new Map<string, Written>();
  readonly #failedFamilies = new Set<string>();
  #closed = false;

  constructor(options: HnsMetricsWriterOptions) {
    this.#opts = options;
  }

  /** Sets every series for `samples` and removes the ones no longer produced. No-op after close. */
  apply(samples: readonly EndpointSample[]): void {
    if (this.#closed) return;
    const { metrics } = this.#opts;
    const node = nodeSeries(samples);
    for (const family of NODE_FAMILIES)
      this.#write(`basic:${family}`, metrics.basic[family] as AnyGauge, node[family]);
    if (!this.#opts.podLevel) return;
    const pod = podSeries(samples, (ip) => this.#opts.ipCache.lookup(ip));
    for (const family of Object.keys(POD_FAMILIES) as PodFamily[]) {
      const gauge = this.#advancedGauge(family);
      if (gauge) this.#write(`advanced:${family}`, gauge, pod[family]);
    }
  }

  /** Removes every series this writer set and ignores later applies. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const { gauge, series } of this.#written.values())
      for (const labels of series.values()) gauge.remove(labels);
    this.#written.clear();
  }

  #advancedGauge(family: PodFamily): AnyGauge | undefined {
    const spec = POD_FAMILIES[family];
    if (this.#failedFamilies.has(spec.name)) return undefined;
    try {
      // Asked for on every poll: the advanced registry may have been reset (context options changed) since.
      return this.#opts.metrics.advanced.gauge({
        name: spec.name,
        help: spec.help,
        labelNames: spec.labelNames,
      });
    } catch (err) {
      if (!(err instanceof MetricRegistrationError)) throw err;
      this.#failedFamilies.add(spec.name);
      this.#opts.onFamilyError?.(METRIC_PREFIX + spec.name, err);
      return undefined;
    }
  }

  #write(slot: string, gauge: AnyGauge, series: readonly Series[]): void {
    const previous = this.#written.get(slot);
    const next = new Map<string, Readonly<Record<string, string>>>();
    for (const s of series) {
      gauge.set(s.labels, s.value);
      next.set(labelKey(s.labels), s.labels);
    }
    // A replaced family object (advanced registry reset) already dropped the old series.
    if (previous && previous.gauge === gauge) {
      for (const [key, labels] of previous.series) if (!next.has(key)) gauge.remove(labels);
    }
    this.#written.set(slot, { gauge, series: next });
  }
}
