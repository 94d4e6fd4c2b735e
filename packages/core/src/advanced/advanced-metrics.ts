/**
 * Advanced (pod-level) metrics from enriched flows: the `adv_*` families in local or remote context, selection of
 * observed pods, per-metric TTL and a per-family cardinality cap.
 */
import type { Enricher } from '../enricher/enricher.js';
import type { FlowBus } from '../flow/bus.js';
import {
  TrafficDirection,
  Verdict,
  L7FlowType,
  type Endpoint,
  type Flow,
  type TcpFlagName,
} from '../flow/flow.js';
import type { Logger } from '../log/logger.js';
import type { MetricsModule } from '../metrics/module.js';
import { PRODUCED_SELF_METRIC_NAMES } from '../metrics/names.js';
import {
  ADVANCED_FLOW_FAMILIES,
  contextLabelNames,
  resolveSpec,
  type AdvancedFlowMetricName,
  type MetricsConfigurationSpec,
  type ResolvedMetricOption,
  type ResolvedSpec,
} from './config.js';
import { ContextBuilder, UNKNOWN } from './context.js';
import { SeriesStore } from './series.js';

/** Name of the counter of updates refused by the cardinality cap. */
export const ADVANCED_REFUSED_METRIC = PRODUCED_SELF_METRIC_NAMES.advancedCardinalityRefused;

/** Default cap on series per advanced family. */
export const DEFAULT_MAX_SERIES_PER_METRIC = 100_000;

/** Options of `new AdvancedFlowMetrics`. */
export interface AdvancedFlowMetricsOptions {
  metrics: MetricsModule;
  /** `remoteContext` from the agent config: source_/destination_ labels instead of the local pod's. */
  config: { remoteContext: boolean };
  logger?: Logger;
  /**
   * Extra observation predicate (pods or namespaces annotated `retina.sh: observe`, when `enableAnnotations` is
   * on): an endpoint is observed when its namespace is selected by the spec or this returns true for its IP.
   */
  isObserved?: (ip: string, endpoint: Endpoint) => boolean;
  /** Series per family at most (default 100000); updates that would create more are refused and counted. */
  maxSeriesPerMetric?: number;
  /** Clock in milliseconds (default Date.now). */
  now?: () => number;
}

const TCP_FLAGS: readonly TcpFlagName[] = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'NS'];

const RCODE_NAMES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'] as const;

/** `return_code` for a DNS RCODE: NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED, or '' for others. */
export function dnsReturnCode(rcode: number): string {
  return RCODE_NAMES[rcode] ?? '';
}

/** Which fixed labels a family carries before its context labels. */
const enum FixedKind {
  FORWARD,
  DROP,
  FLAG,
  /** Retransmissions: the direction only (as Retina labels adv_tcpretrans_count). */
  DIRECTION,
}

const LOCAL_DIRECTION = ['egress', 'ingress'] as const;

/** Remote-context `direction` value: the TrafficDirection enum name. */
function remoteDirection(d: TrafficDirection): string {
  return TrafficDirection[d] ?? 'TRAFFIC_DIRECTION_UNKNOWN';
}

/** One configured family: its store, context builders and TTL. */
class FlowFamily {
  constructor(
    readonly option: ResolvedMetricOption,
    readonly store: SeriesStore,
    readonly source: ContextBuilder,
    readonly destination: ContextBuilder | undefined,
  ) {}
}

/** Produces the `adv_*` families from enriched flows. */
export class AdvancedFlowMetrics {
  readonly #metrics: MetricsModule;
  readonly #remote: boolean;
  readonly #logger: Logger | undefined;
  readonly #isObserved: AdvancedFlowMetricsOptions['isObserved'];
  readonly #maxSeries: number;
  readonly #now: () => number;
  #spec: ResolvedSpec | undefined;
  #families = new Map<AdvancedFlowMetricName, FlowFamily>();
  // Direct slots for the per-flow dispatch (a Map lookup per family per flow is measurable).
  #slots: Partial<Record<AdvancedFlowMetricName, FlowFamily>> = {};
  // Context builders of the current families (shared between families with equal options).
  #builders: ContextBuilder[] = [];
  // Whether the current flow's source / destination pod is observed, computed once per flow.
  #srcObserved = false;
  #dstObserved = false;
  #timers: ReturnType<typeof setInterval>[] = [];
  #nsSelected = new Map<string, boolean>();
  readonly #refused: { labels(metric: string): { inc(): void } };
  // Per-flow scratch for fixed label values, so the hot path does not allocate them.
  readonly #fixed: string[] = [];

  constructor(options: AdvancedFlowMetricsOptions) {
    this.#metrics = options.metrics;
    this.#remote = options.config.remoteContext;
    this.#logger = options.logger;
    this.#isObserved = options.isObserved;
    const max = options.maxSeriesPerMetric ?? DEFAULT_MAX_SERIES_PER_METRIC;
    if (!Number.isInteger(max) || max < 1) {
      throw new RangeError(
        `AdvancedFlowMetrics: maxSeriesPerMetric ${String(max)} must be a positive integer`,
      );
    }
    this.#maxSeries = max;
    this.#now = options.now ?? Date.now;
    this.#refused = options.metrics.counter({
      name: ADVANCED_REFUSED_METRIC,
      help: 'Advanced metric updates refused because the family reached its series cap',
      labelNames: ['metric'],
    });
  }

  /** Metric names currently produced. */
  get configured(): AdvancedFlowMetricName[] {
    return [...this.#families.keys()];
  }

  /** Live series of a family (0 when not configured). */
  seriesCount(metricName: AdvancedFlowMetricName): number {
    return this.#families.get(metricName)?.store.size ?? 0;
  }

  /**
   * Applies a MetricsConfiguration spec: an unchanged spec is a no-op; otherwise the advanced registry is reset
   * (as Retina does when context options change) and the families are rebuilt empty. Throws
   * AdvancedMetricsConfigError for an invalid spec, leaving the previous configuration in effect.
   */
  update(spec: MetricsConfigurationSpec): void {
    const resolved = resolveSpec(spec);
    if (this.#spec && sameMetrics(this.#spec, resolved)) {
      // Only the namespace selection changed (or nothing): keep the series, re-evaluate namespaces.
      this.#spec = resolved;
      this.#nsSelected = new Map();
      return;
    }
    this.#stopTimers();
    this.#metrics.advanced.reset();
    this.#families = new Map();
    this.#slots = {};
    this.#builders = [];
    this.#nsSelected = new Map();
    this.#spec = resolved;
    const builders = new Map<string, ContextBuilder>();
    const builder = (opts: ResolvedMetricOption['source']) => {
      const k = opts.join(',');
      let b = builders.get(k);
      if (!b) builders.set(k, (b = new ContextBuilder(opts)));
      return b;
    };
    for (const option of resolved.metrics) {
      const shape = ADVANCED_FLOW_FAMILIES[option.metricName];
      const fixed = [...shape.fixedLabels, ...(option.isReply ? ['is_reply'] : [])];
      const labelNames = this.#remote
        ? [
            ...fixed,
            ...contextLabelNames(option.source, 'source_'),
            ...contextLabelNames(option.destination, 'destination_'),
          ]
        : [...fixed, ...contextLabelNames(option.source, '')];
      const opts = { name: shape.family, help: shape.help, labelNames };
      const handle =
        shape.type === 'gauge' ? this.#metrics.advanced.gauge(opts) : this.#metrics.advanced.counter(opts);
      const metricName = option.metricName;
      const refused = this.#refused.labels(metricName);
      let warned = false;
      const seriesShape = {
        fixedCount: fixed.length,
        remote: this.#remote,
        boundedFixed: metricName !== 'dns_request_count' && metricName !== 'dns_response_count',
      };
      const store = new SeriesStore(handle, shape.type, labelNames, seriesShape, this.#maxSeries, {
        onExpired: (n) => this.#metrics.self.expiredMetricsCounter.inc({ metric: metricName }, n),
        onRefused: () => {
          refused.inc();
          if (!warned) {
            warned = true;
            this.#logger?.warn(
              { metric: metricName, maxSeries: this.#maxSeries },
              'advanced metric reached its series cap; new series are refused until old ones expire (set a ttl or raise maxSeriesPerMetric)',
            );
          }
        },
      });
      const family = new FlowFamily(
        option,
        store,
        builder(option.source),
        this.#remote ? builder(option.destination) : undefined,
      );
      this.#families.set(metricName, family);
      this.#slots[metricName] = family;
      if (option.ttlMs > 0) {
        const t = setInterval(() => this.expire(), option.ttlMs);
        t.unref?.();
        this.#timers.push(t);
      }
    }
    this.#builders = [...builders.values()];
    this.#logger?.info(
      {
        metrics: resolved.metrics.map((m) => m.metricName),
        ignored: resolved.ignored,
        context: this.#remote ? 'remote' : 'local',
      },
      'advanced metrics configured',
    );
  }

  /** Removes series idle for at least their family's TTL (runs on a timer; callable directly). */
  expire(now = this.#now()): void {
    for (const f of this.#families.values()) {
      if (f.option.ttlMs > 0) f.store.expire(now, f.option.ttlMs);
    }
  }

  /** Counts a batch of enriched flows. */
  process(flows: readonly Flow[]): void {
    if (this.#families.size === 0) return;
    const now = this.#now();
    try {
      for (let i = 0; i < flows.length; i++) this.#processOne(flows[i] as Flow, now);
    } finally {
      this.#endBatch();
    }
  }

  /** Subscribes to `bus`, enriching each flow with `enricher` first when given; returns the unsubscribe function. */
  subscribe(bus: FlowBus, enricher?: Enricher): () => void {
    return bus.subscribe((flows) => {
      if (this.#families.size === 0) return;
      const now = this.#now();
      try {
        for (let i = 0; i < flows.length; i++) {
          const f = flows[i] as Flow;
          this.#processOne(enricher ? enricher.enrich(f) : f, now);
        }
      } finally {
        this.#endBatch();
      }
    });
  }

  #endBatch(): void {
    for (const b of this.#builders) b.forget();
  }

  /** Stops the TTL timers; the families stay registered. Idempotent. */
  close(): void {
    this.#stopTimers();
  }

  #stopTimers(): void {
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
  }

  #processOne(flow: Flow, now: number): void {
    const fams = this.#slots;
    this.#srcObserved = this.#observed(flow.source, flow.ip?.source);
    this.#dstObserved = this.#observed(flow.destination, flow.ip?.destination);
    if (!this.#srcObserved && !this.#dstObserved) return; // every family needs an observed pod on one end
    switch (flow.verdict) {
      case Verdict.FORWARDED: {
        const ext = flow.extensions;
        const fc = fams.forward_count;
        if (fc) {
          const n = (ext?.packets ?? 1) + (ext?.previouslyObservedPackets ?? 0);
          this.#count(fc, flow, n, now, FixedKind.FORWARD);
        }
        const fb = fams.forward_bytes;
        if (fb) {
          const n = (ext?.bytes ?? 0) + (ext?.previouslyObservedBytes ?? 0);
          this.#count(fb, flow, n, now, FixedKind.FORWARD);
        }
        const tf = fams.tcp_flag_gauges;
        if (tf && flow.l4?.tcp) this.#tcpFlags(tf, flow, now);
        if (flow.l7?.dns) this.#dns(flow, now);
        break;
      }
      case Verdict.DROPPED: {
        const dc = fams.drop_count;
        if (dc) this.#count(dc, flow, 1, now, FixedKind.DROP);
        const db = fams.drop_bytes;
        if (db) this.#count(db, flow, flow.extensions?.bytes ?? 0, now, FixedKind.DROP);
        break;
      }
      case Verdict.RETRANSMISSION: {
        const rt = fams.tcp_retransmission_count;
        // A retransmission flow may stand for several segments of one connection (`packets`), as the node-level
        // count and the kernel's RetransSegs count them.
        if (rt) this.#count(rt, flow, flow.extensions?.packets ?? 1, now, FixedKind.DIRECTION);
        break;
      }
      case Verdict.DNS:
        this.#dns(flow, now);
        break;
      default:
        break;
    }
  }

  /** Writes the fixed label values of `kind` for `direction` into the scratch array. */
  #fill(family: FlowFamily, flow: Flow, kind: FixedKind, direction: string, flag: string): void {
    const fixed = this.#fixed;
    switch (kind) {
      case FixedKind.FORWARD:
        fixed[0] = direction;
        if (family.option.isReply) fixed[1] = flow.isReply === true ? 'true' : 'false';
        break;
      case FixedKind.DROP:
        fixed[0] = flow.extensions?.dropReason || UNKNOWN;
        fixed[1] = direction;
        break;
      case FixedKind.FLAG:
        fixed[0] = flag;
        break;
      case FixedKind.DIRECTION:
        fixed[0] = direction;
        break;
      default:
        break; // DNS values are written by #dns
    }
  }

  #tcpFlags(family: FlowFamily, flow: Flow, now: number): void {
    const flags = flow.l4?.tcp?.flags;
    if (flags) {
      const synAck = flags.SYN === true && flags.ACK === true;
      if (synAck) this.#count(family, flow, 1, now, FixedKind.FLAG, 'SYNACK');
      for (const f of TCP_FLAGS) {
        if (flags[f] !== true || (synAck && (f === 'SYN' || f === 'ACK'))) continue;
        this.#count(family, flow, 1, now, FixedKind.FLAG, f);
      }
    }
    const prev = flow.extensions?.previouslyObservedTcpFlags;
    if (prev) {
      for (const f of TCP_FLAGS) {
        const n = prev[f];
        if (n) this.#count(family, flow, n, now, FixedKind.FLAG, f);
      }
    }
  }

  #dns(flow: Flow, now: number): void {
    const dns = flow.l7?.dns;
    if (!dns) return;
    const type = flow.extensions?.dnsType;
    const isResponse = type === 'RESPONSE' || (type === undefined && flow.l7?.type === L7FlowType.RESPONSE);
    const isRequest = type === 'QUERY' || (type === undefined && flow.l7?.type === L7FlowType.REQUEST);
    const family = isResponse
      ? this.#slots.dns_response_count
      : isRequest
        ? this.#slots.dns_request_count
        : undefined;
    if (!family) return;
    const fixed = this.#fixed;
    fixed[0] = dns.qtypes.join(',');
    fixed[1] = dns.query;
    if (isResponse) {
      fixed[2] = dnsReturnCode(dns.rcode);
      fixed[3] = dns.ips.join(',');
      fixed[4] = String(flow.extensions?.numResponses ?? dns.ips.length);
    }
    if (this.#remote) {
      this.#remoteAdd(family, flow, 1, now);
      return;
    }
    // Local context counts a DNS flow once: the destination pod for ingress, else the source pod.
    const srcOk = this.#srcObserved;
    const dstOk = this.#dstObserved;
    let side: 0 | 1 | -1 = -1;
    if (dstOk && (flow.trafficDirection === TrafficDirection.INGRESS || !srcOk)) side = 1;
    else if (srcOk) side = 0;
    if (side >= 0) this.#localAdd(family, flow, side as 0 | 1, 1, now);
  }

  /**
   * Counts `n` for each observed side (local) or once with both sides (remote). A record kept by cpuBudget sampling
   * (one in `sampleRate`) counts for `sampleRate` records, so the totals stay estimates of every packet.
   */
  #count(family: FlowFamily, flow: Flow, n: number, now: number, kind: FixedKind, flag = ''): void {
    const rate = flow.extensions?.sampleRate;
    if (rate !== undefined && rate > 1) n *= rate;
    if (this.#remote) {
      this.#fill(family, flow, kind, remoteDirection(flow.trafficDirection), flag);
      this.#remoteAdd(family, flow, n, now);
      return;
    }
    if (this.#srcObserved) {
      this.#fill(family, flow, kind, LOCAL_DIRECTION[0], flag);
      this.#localAdd(family, flow, 0, n, now);
    }
    if (this.#dstObserved) {
      this.#fill(family, flow, kind, LOCAL_DIRECTION[1], flag);
      this.#localAdd(family, flow, 1, n, now);
    }
  }

  #localAdd(family: FlowFamily, flow: Flow, side: 0 | 1, n: number, now: number): void {
    family.store.add(this.#fixed, family.source.side(flow, side), undefined, n, now);
  }

  #remoteAdd(family: FlowFamily, flow: Flow, n: number, now: number): void {
    if (!this.#srcObserved && !this.#dstObserved) return;
    const src = family.source.side(flow, 0);
    const dst = (family.destination as ContextBuilder).side(flow, 1);
    family.store.add(this.#fixed, src, dst, n, now);
  }

  #observed(ep: Endpoint | undefined, ip: string | undefined): boolean {
    if (!ep) return false;
    const ns = ep.namespace;
    if (ns !== undefined && this.#namespaceSelected(ns)) return true;
    return this.#isObserved !== undefined && ip !== undefined && this.#isObserved(ip, ep);
  }

  #namespaceSelected(ns: string): boolean {
    let ok = this.#nsSelected.get(ns);
    if (ok === undefined) {
      const spec = this.#spec;
      ok = spec?.include ? spec.include.has(ns) : spec?.exclude ? !spec.exclude.has(ns) : false;
      this.#nsSelected.set(ns, ok);
    }
    return ok;
  }
}

/** True when two specs configure the same families with the same context options and TTLs. */
function sameMetrics(a: ResolvedSpec, b: ResolvedSpec): boolean {
  return (
    JSON.stringify(a.metrics) === JSON.stringify(b.metrics) && a.ignored.join(',') === b.ignored.join(',')
  );
}
