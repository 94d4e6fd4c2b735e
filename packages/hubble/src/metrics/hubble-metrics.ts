/**
 * hubble_* metrics on their own prom-client registry, named and labelled as Hubble's metric handlers do. They
 * count the served flow objects, so they always agree with what GetFlows returns.
 */
import { Counter, Registry, type RegistryContentType } from 'prom-client';
import type protobuf from 'protobufjs';
import { enumName } from '../protos.js';
import { dnsRcodeName, flowProtocol, icmpv4TypeName, icmpv6TypeName, TRACE_POINT_NAMES } from '../names.js';
import type { PbFlow } from '../wire.js';
import { Wire } from '../wire.js';
import { CappedCounter, formatLabelSet } from './capped-counter.js';
import { CONTEXT_LABELS, contextLabelNames, contextLabelValues } from './context.js';
import type { MetricHandlerConfig } from './options.js';

/** Names of every family this module can register (without the `hubble_` namespace they are Hubble's names). */
export const HUBBLE_METRIC_NAMES = {
  flowsProcessed: 'hubble_flows_processed_total',
  drop: 'hubble_drop_total',
  tcpFlags: 'hubble_tcp_flags_total',
  dnsQueries: 'hubble_dns_queries_total',
  dnsResponses: 'hubble_dns_responses_total',
  dnsResponseTypes: 'hubble_dns_response_types_total',
  portDistribution: 'hubble_port_distribution_total',
  icmp: 'hubble_icmp_total',
  lostEvents: 'hubble_lost_events_total',
  folded: 'hubble_metrics_cardinality_folded_total',
  expired: 'hubble_metrics_series_expired_total',
} as const;

/** Labels whose values come from traffic, folded to `other` beyond a family's series cap. */
const OPEN_LABELS: readonly string[] = [
  ...CONTEXT_LABELS.filter((l) => l !== 'traffic_direction'),
  'source',
  'destination',
  'query',
  'qtypes',
  'ips_returned',
  'port',
];

/** Default bounds of every hubble_* flow family. */
export const HUBBLE_METRIC_LIMITS = {
  /** Series one family may hold before new label combinations are counted under `other`. */
  maxSeriesPerMetric: 10_000,
  /** A series not updated for this long is removed (0: never). */
  seriesTtlMs: 10 * 60 * 1000,
} as const;

/** `source` label values of hubble_lost_events_total. */
export type LostEventLabel = 'perf_event_ring_buffer' | 'observer_events_queue' | 'hubble_ring_buffer';

/** Enum tables the handlers name values with. */
export interface MetricEnums {
  verdict: protobuf.Enum;
  dropReason: protobuf.Enum;
  ipVersion: protobuf.Enum;
}

type Labels = Record<string, string>;
type FlowHandler = (flow: PbFlow, context: Labels) => void;

/** Creates a capped counter family; `inc` takes only the labels (the clock is the metrics object's). */
type CounterFactory = (name: string, help: string, labelNames: string[]) => { inc(labels: Labels): void };

function flowTypeLabels(flow: PbFlow): { type: string; subtype: string } {
  const type = flow.event_type?.type ?? 0;
  switch (type) {
    case Wire.eventType.L7:
      return { type: 'L7', subtype: flow.l7?.dns ? 'DNS' : '' };
    case Wire.eventType.DROP:
      return { type: 'Drop', subtype: '' };
    case Wire.eventType.CAPTURE:
      return { type: 'Capture', subtype: '' };
    case Wire.eventType.TRACE:
      return { type: 'Trace', subtype: TRACE_POINT_NAMES[flow.event_type?.sub_type ?? -1] ?? '' };
    case Wire.eventType.POLICY_VERDICT:
      return { type: 'PolicyVerdict', subtype: '' };
    default:
      return { type: 'Unknown', subtype: String(type) };
  }
}

function buildHandler(counter: CounterFactory, config: MetricHandlerConfig, enums: MetricEnums): FlowHandler {
  const ctx = contextLabelNames(config.context);
  const forwardedOrRedirected = (f: PbFlow) =>
    f.verdict === Wire.verdict.FORWARDED || f.verdict === Wire.verdict.REDIRECTED;
  switch (config.name) {
    case 'flow': {
      const c = counter(HUBBLE_METRIC_NAMES.flowsProcessed, 'Total number of flows processed', [
        'protocol',
        'type',
        'subtype',
        'verdict',
        ...ctx,
      ]);
      return (flow, context) => {
        const { type, subtype } = flowTypeLabels(flow);
        c.inc({
          protocol: flowProtocol(flow),
          type,
          subtype,
          verdict: enumName(enums.verdict, flow.verdict),
          ...context,
        });
      };
    }
    case 'drop': {
      const c = counter(HUBBLE_METRIC_NAMES.drop, 'Number of drops', [...ctx, 'reason', 'protocol']);
      return (flow, context) => {
        if (flow.verdict !== Wire.verdict.DROPPED) return;
        c.inc({
          ...context,
          reason: enumName(enums.dropReason, flow.drop_reason_desc ?? 0),
          protocol: flowProtocol(flow),
        });
      };
    }
    case 'tcp': {
      const c = counter(HUBBLE_METRIC_NAMES.tcpFlags, 'TCP flag occurrences', ['flag', 'family', ...ctx]);
      return (flow, context) => {
        const flags = flow.l4?.TCP?.flags;
        if (!forwardedOrRedirected(flow) || !flow.IP || !flags) return;
        const family = enumName(enums.ipVersion, flow.IP.ipVersion);
        if (flags.FIN) c.inc({ flag: 'FIN', family, ...context });
        if (flags.SYN) c.inc({ flag: flags.ACK ? 'SYN-ACK' : 'SYN', family, ...context });
        if (flags.RST) c.inc({ flag: 'RST', family, ...context });
      };
    }
    case 'dns': {
      const extra = config.query ? ['query'] : [];
      const common = [...ctx, 'rcode', 'qtypes', 'ips_returned', ...extra];
      const queries = counter(HUBBLE_METRIC_NAMES.dnsQueries, 'Number of DNS queries observed', common);
      const responses = counter(HUBBLE_METRIC_NAMES.dnsResponses, 'Number of DNS queries observed', common);
      const types = counter(HUBBLE_METRIC_NAMES.dnsResponseTypes, 'Number of DNS queries observed', [
        ...ctx,
        'type',
        'qtypes',
        ...extra,
      ]);
      return (flow, context) => {
        const dns = flow.l7?.dns;
        if (!dns) return;
        if (config.ignoreAAAA && dns.qtypes.length === 1 && dns.qtypes[0] === 'AAAA') return;
        const qtypes = dns.qtypes.join(',');
        const query: Labels = config.query ? { query: dns.query } : {};
        const ipsReturned = String(dns.ips.length);
        if (flow.verdict === Wire.verdict.DROPPED) {
          queries.inc({ ...context, rcode: 'Policy denied', qtypes, ips_returned: ipsReturned, ...query });
        } else if (!flow.is_reply?.value) {
          queries.inc({ ...context, rcode: '', qtypes, ips_returned: ipsReturned, ...query });
        } else {
          responses.inc({
            ...context,
            rcode: dnsRcodeName(dns.rcode),
            qtypes,
            ips_returned: ipsReturned,
            ...query,
          });
          for (const rrtype of dns.rrtypes) types.inc({ ...context, type: rrtype, qtypes, ...query });
        }
      };
    }
    case 'port-distribution': {
      const c = counter(
        HUBBLE_METRIC_NAMES.portDistribution,
        'Numbers of packets distributed by destination port',
        ['protocol', 'port', ...ctx],
      );
      return (flow, context) => {
        // Flows whose reply status is unknown are skipped too: their destination port may be the client's.
        if (!forwardedOrRedirected(flow) || !flow.l4 || flow.is_reply === undefined || flow.is_reply.value)
          return;
        const l4 = flow.l4;
        if (l4.TCP) c.inc({ protocol: 'TCP', port: String(l4.TCP.destination_port), ...context });
        if (l4.UDP) c.inc({ protocol: 'UDP', port: String(l4.UDP.destination_port), ...context });
        if (l4.SCTP) c.inc({ protocol: 'SCTP', port: String(l4.SCTP.destination_port), ...context });
        if (l4.ICMPv4) c.inc({ protocol: 'ICMPv4', port: '0', ...context });
        if (l4.ICMPv6) c.inc({ protocol: 'ICMPv6', port: '0', ...context });
        if (l4.VRRP) c.inc({ protocol: 'VRRP', port: '0', ...context });
        if (l4.IGMP) c.inc({ protocol: 'IGMP', port: '0', ...context });
      };
    }
    case 'icmp': {
      const c = counter(HUBBLE_METRIC_NAMES.icmp, 'Number of ICMP messages', ['family', 'type', ...ctx]);
      return (flow, context) => {
        const l4 = flow.l4;
        if (l4?.ICMPv4)
          c.inc({ family: 'IPv4', type: icmpv4TypeName(l4.ICMPv4.type, l4.ICMPv4.code), ...context });
        // Hubble labels ICMPv6 messages with family IPv4 as well; kept so dashboards match.
        if (l4?.ICMPv6)
          c.inc({ family: 'IPv4', type: icmpv6TypeName(l4.ICMPv6.type, l4.ICMPv6.code), ...context });
      };
    }
  }
}

/** prom-client's escaping of names and help texts. */
function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** prom-client's writing of a sample value. */
function valueText(value: number): string {
  if (Number.isNaN(value)) return 'Nan';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return String(value);
}

/** Options of `new HubbleMetrics`. */
export interface HubbleMetricsOptions {
  handlers: readonly MetricHandlerConfig[];
  enums: MetricEnums;
  /** Expose OpenMetrics instead of Prometheus text (Hubble's `enable-hubble-open-metrics`). */
  openMetrics?: boolean;
  /** Series per family before new label combinations fold into `other` (default 10000). */
  maxSeriesPerMetric?: number;
  /** Idle series are removed after this many milliseconds (default 10 minutes; 0 keeps them). */
  seriesTtlMs?: number;
  /** Clock in milliseconds (tests pass their own). */
  now?: () => number;
}

/** The hubble_* families of the enabled handlers, plus hubble_lost_events_total and the cap counters. */
export class HubbleMetrics {
  readonly registry = new Registry<RegistryContentType>();
  readonly #handlers: { context: MetricHandlerConfig['context']; fn: FlowHandler }[];
  readonly #lost: Counter<'source'>;
  readonly #families: CappedCounter[] = [];
  /** The capped family of each prom-client counter that has one. */
  readonly #cappedOf = new Map<object, CappedCounter>();
  readonly #now: () => number;
  readonly #ttlMs: number;
  #clock = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: HubbleMetricsOptions) {
    if (options.openMetrics) this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    this.#now = options.now ?? Date.now;
    this.#ttlMs = options.seriesTtlMs ?? HUBBLE_METRIC_LIMITS.seriesTtlMs;
    const maxSeries = options.maxSeriesPerMetric ?? HUBBLE_METRIC_LIMITS.maxSeriesPerMetric;
    if (!Number.isInteger(maxSeries) || maxSeries < 1)
      throw new RangeError(`maxSeriesPerMetric must be a whole number >= 1, got ${maxSeries}`);
    const folded = new Counter({
      name: HUBBLE_METRIC_NAMES.folded,
      help: 'New label combinations counted under "other" because their metric reached its series cap',
      labelNames: ['metric'],
      registers: [this.registry],
    });
    const expired = new Counter({
      name: HUBBLE_METRIC_NAMES.expired,
      help: 'hubble_* series removed after being idle for the series TTL',
      labelNames: ['metric'],
      registers: [this.registry],
    });
    const factory: CounterFactory = (name, help, labelNames) => {
      // Prometheus client names counters without `_total`; prom-client appends nothing, so the full name is given.
      const counter = new Counter({ name, help, labelNames, registers: [this.registry] });
      const foldedOf = folded.labels(name);
      const capped = new CappedCounter(counter, labelNames, OPEN_LABELS, maxSeries, {
        onFolded: () => foldedOf.inc(),
        onExpired: (n) => expired.inc({ metric: name }, n),
      });
      this.#families.push(capped);
      this.#cappedOf.set(counter, capped);
      return { inc: (labels) => capped.inc(labels, this.#clock) };
    };
    this.#handlers = options.handlers.map((h) => ({
      context: h.context,
      fn: buildHandler(factory, h, options.enums),
    }));
    this.#lost = new Counter({
      name: HUBBLE_METRIC_NAMES.lostEvents,
      help: 'Number of lost events',
      labelNames: ['source'],
      registers: [this.registry],
    });
    if (this.#ttlMs > 0 && this.#families.length > 0) {
      // Checked a few times per TTL, so a series lives at most about 1.25 TTL after its last update.
      this.#timer = setInterval(() => this.expire(), Math.max(1000, this.#ttlMs / 4));
      this.#timer.unref();
    }
  }

  /** Series held by each flow family, in handler order. */
  get seriesCounts(): number[] {
    return this.#families.map((f) => f.size);
  }

  /** Removes series idle for at least the TTL (runs on a timer; callable directly). */
  expire(now = this.#now()): number {
    if (this.#ttlMs <= 0) return 0;
    let removed = 0;
    for (const f of this.#families) removed += f.expire(now, this.#ttlMs);
    return removed;
  }

  /** Stops the expiry timer. Idempotent. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Whether any flow handler is enabled. */
  get enabled(): boolean {
    return this.#handlers.length > 0;
  }

  /** Counts one served flow in every enabled handler. */
  process(flow: PbFlow): void {
    this.#clock = this.#now();
    for (const h of this.#handlers) h.fn(flow, contextLabelValues(h.context, flow));
  }

  /** Counts lost events by where they were lost. */
  lost(source: LostEventLabel, count: number): void {
    if (count > 0) this.#lost.inc({ source }, count);
  }

  /**
   * The exposition body and its content type: the registry's families in its order and format (the text
   * prom-client's `registry.metrics()` gives), with the capped families written from their own series, whose
   * label text is built once per series instead of on every scrape.
   */
  async expose(): Promise<{ contentType: string; body: string }> {
    const open = this.registry.contentType === Registry.OPENMETRICS_CONTENT_TYPE;
    const families: string[] = [];
    for (const metric of this.registry.getMetricsAsArray()) {
      const m = metric as unknown as { name: string; help: string; get(): Promise<{ values: { value: number; labels: Record<string, string | number> }[] }> };
      // Every family here is a counter: OpenMetrics names the family without `_total` and each sample with it.
      const name = open ? m.name.replace(/_total$/, '') : m.name;
      const lineName = open ? `${name}_total` : name;
      const lines = [`# HELP ${escapeText(name)} ${escapeText(m.help)}`, `# TYPE ${escapeText(name)} counter`];
      const capped = this.#cappedOf.get(metric);
      if (capped) capped.render(lineName, lines);
      else for (const v of (await m.get()).values) lines.push(`${lineName}${formatLabelSet(v.labels)} ${valueText(v.value)}`);
      families.push(lines.join('\n'));
    }
    const body = open ? `${families.join('\n')}\n# EOF\n` : `${families.join('\n\n')}\n`;
    return { contentType: this.registry.contentType, body };
  }
}
