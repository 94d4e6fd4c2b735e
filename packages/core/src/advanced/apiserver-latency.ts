/**
 * API server latency from flows seen on the node's interface: a packet leaving the node (TO_NETWORK) to or from an
 * API server address waits for the packet that echoes its TCP timestamp (FROM_NETWORK, TSecr = the first one's
 * TSval); the time between them is the round trip. A SYN answered by a SYN-ACK is also a handshake time. Packets
 * whose answer does not come within the response timeout count as `no_response`.
 *
 * Families: `adv_node_apiserver_latency`, `adv_node_apiserver_tcp_handshake_latency` (ms histograms, linear buckets
 * 0.5 … 63.5), `adv_node_apiserver_no_response{no_response="no_response"}` in the advanced registry, each when the
 * MetricsConfiguration names it; and the basic `node_apiserver_handshake_latency_ms` histogram whenever this runs.
 */
import { TraceObservationPoint, type Flow } from '../flow/flow.js';
import type { Counter, Histogram } from 'prom-client';
import type { MetricsModule } from '../metrics/module.js';
import { ADVANCED_FAMILY_NAMES, APISERVER_LATENCY_BUCKETS_MS } from '../metrics/names.js';
import type { MetricsConfigurationSpec } from './config.js';

/** MetricsConfiguration metric names that select the API server families. */
export const APISERVER_METRIC_NAMES = [
  'node_apiserver_latency',
  'node_apiserver_handshake_latency',
  'node_apiserver_no_response',
] as const;
export type ApiServerMetricName = (typeof APISERVER_METRIC_NAMES)[number];

/** Advanced family (without the `networkobservability_` prefix) of each API server metric name. */
export const APISERVER_FAMILIES: Readonly<Record<ApiServerMetricName, string>> = {
  node_apiserver_latency: ADVANCED_FAMILY_NAMES.apiServerLatency,
  node_apiserver_handshake_latency: ADVANCED_FAMILY_NAMES.apiServerHandshakeLatency,
  node_apiserver_no_response: ADVANCED_FAMILY_NAMES.apiServerNoResponse,
};

/** Value of the `no_response` label (the only one Retina writes). */
export const NO_RESPONSE_LABEL_VALUE = 'no_response';

/** How long a packet waits for its answer before it counts as unanswered (Retina's value). */
export const DEFAULT_RESPONSE_TIMEOUT_MS = 500;

/** Unanswered packets remembered at most (Retina's value). */
export const DEFAULT_MAX_PENDING = 100_000;

/** The API server metric names a MetricsConfiguration spec selects, in catalog order (pure). */
export function apiServerMetricsOf(spec: MetricsConfigurationSpec | undefined): ApiServerMetricName[] {
  const wanted = new Set((spec?.contextOptions ?? []).map((o) => o.metricName));
  return APISERVER_METRIC_NAMES.filter((n) => wanted.has(n));
}

/** Options of `new ApiServerLatency`. */
export interface ApiServerLatencyOptions {
  metrics: MetricsModule;
  /** API server addresses (the kubernetes handle's `apiServerIps()`); replace them later with `setApiServerIps`. */
  apiServerIps?: readonly string[];
  /** Answer deadline in ms (default 500). */
  responseTimeoutMs?: number;
  /** Unanswered packets remembered at most (default 100000); packets beyond it are not measured. */
  maxPending?: number;
  /** Wall clock in ms, for the answer deadline (default Date.now). Latencies use the flows' own timestamps. */
  now?: () => number;
}

interface Pending {
  /** Flow time of the packet, ns. */
  timeNs: bigint;
  /** Wall-clock ms when it was seen, for the deadline. */
  seenMs: number;
  /** SYN without ACK: its answer, a SYN-ACK, completes a handshake. */
  syn: boolean;
}

/** A latency measured from one packet pair. */
export interface ApiServerMeasurement {
  latencyMs: number;
  handshake: boolean;
}

/**
 * Pairs node ↔ API server packets by TCP timestamp (pure state machine; see `ApiServerLatency` for the metrics).
 * Keys hold both addresses, both ports and the TCP timestamp of the outgoing packet.
 */
export class ApiServerPacketMatcher {
  readonly #pending = new Map<string, Pending>();
  #ips = new Set<string>();
  readonly #max: number;

  constructor(maxPending = DEFAULT_MAX_PENDING) {
    if (!Number.isInteger(maxPending) || maxPending < 1) {
      throw new RangeError(`ApiServerPacketMatcher: maxPending ${String(maxPending)} must be a positive integer`);
    }
    this.#max = maxPending;
  }

  /** Replaces the API server addresses. */
  setApiServerIps(ips: Iterable<string>): void {
    this.#ips = new Set(ips);
  }

  /** Unanswered packets currently remembered. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Looks at one flow: remembers an outgoing packet, or returns the latency when it answers a remembered one.
   * Flows not between this node and an API server address, without a TCP timestamp, or seen at other hooks are
   * ignored.
   */
  observe(flow: Flow, nowMs: number): ApiServerMeasurement | undefined {
    const tcpId = flow.extensions?.tcpId;
    const tcp = flow.l4?.tcp;
    const ip = flow.ip;
    if (!tcpId || !tcp || !ip) return undefined;
    if (!this.#ips.has(ip.source) && !this.#ips.has(ip.destination)) return undefined;
    const point = flow.traceObservationPoint;
    if (point === TraceObservationPoint.TO_NETWORK) {
      if (this.#pending.size >= this.#max) return undefined;
      const key = `${ip.source}|${ip.destination}|${tcp.sourcePort}|${tcp.destinationPort}|${tcpId}`;
      // Several packets can carry the same TSval; the first one starts the measurement.
      if (!this.#pending.has(key)) {
        const flags = tcp.flags;
        this.#pending.set(key, { timeNs: flow.timeNs, seenMs: nowMs, syn: flags?.SYN === true && flags.ACK !== true });
      }
      return undefined;
    }
    if (point !== TraceObservationPoint.FROM_NETWORK) return undefined;
    // The answer echoes the outgoing packet's TSval as its TSecr, which the flow carries as tcpId here.
    const key = `${ip.destination}|${ip.source}|${tcp.destinationPort}|${tcp.sourcePort}|${tcpId}`;
    const sent = this.#pending.get(key);
    if (!sent) return undefined;
    this.#pending.delete(key);
    const flags = tcp.flags;
    const synAck = flags?.SYN === true && flags.ACK === true;
    // A clock step between the two flows would give a negative time; count it as zero rather than drop it.
    const latencyMs = Math.max(0, Number(flow.timeNs - sent.timeNs) / 1e6);
    return { latencyMs, handshake: sent.syn && synAck };
  }

  /** Forgets packets seen at least `timeoutMs` before `nowMs`; returns how many (the unanswered ones). */
  expire(nowMs: number, timeoutMs: number): number {
    let n = 0;
    // Insertion order is arrival order, so the expired entries are a prefix.
    for (const [key, p] of this.#pending) {
      if (nowMs - p.seenMs < timeoutMs) break;
      this.#pending.delete(key);
      n++;
    }
    return n;
  }

  /** Forgets every remembered packet. */
  clear(): void {
    this.#pending.clear();
  }
}

/** The API server latency metrics from enriched flows. */
export class ApiServerLatency {
  readonly #metrics: MetricsModule;
  readonly #matcher: ApiServerPacketMatcher;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #latency: Histogram<string> | undefined;
  #handshake: Histogram<string> | undefined;
  #noResponse: Counter<string> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(options: ApiServerLatencyOptions) {
    const timeout = options.responseTimeoutMs ?? DEFAULT_RESPONSE_TIMEOUT_MS;
    if (!Number.isFinite(timeout) || timeout <= 0) {
      throw new RangeError(`ApiServerLatency: responseTimeoutMs ${String(timeout)} must be a positive number of ms`);
    }
    this.#metrics = options.metrics;
    this.#matcher = new ApiServerPacketMatcher(options.maxPending);
    this.#matcher.setApiServerIps(options.apiServerIps ?? []);
    this.#timeoutMs = timeout;
    this.#now = options.now ?? Date.now;
  }

  /** Replaces the API server addresses (on the watcher's `apiServerIps` event). */
  setApiServerIps(ips: Iterable<string>): void {
    this.#matcher.setApiServerIps(ips);
  }

  /** Which advanced families are produced, by MetricsConfiguration metric name. */
  get configured(): ApiServerMetricName[] {
    return APISERVER_METRIC_NAMES.filter((n) => this.#handleOf(n) !== undefined);
  }

  /**
   * Registers the selected advanced families (again after `metrics.advanced.reset()`, which unregisters them) and
   * forgets the others. Call it after every MetricsConfiguration change.
   */
  configure(names: readonly string[]): void {
    const want = new Set(names);
    const adv = this.#metrics.advanced;
    const buckets = APISERVER_LATENCY_BUCKETS_MS;
    this.#latency = want.has('node_apiserver_latency')
      ? adv.histogram({
          name: APISERVER_FAMILIES.node_apiserver_latency,
          help: 'Round trip from this node to the API server (packet to its answer), in milliseconds',
          buckets,
        })
      : undefined;
    this.#handshake = want.has('node_apiserver_handshake_latency')
      ? adv.histogram({
          name: APISERVER_FAMILIES.node_apiserver_handshake_latency,
          help: 'TCP handshake (SYN to SYN-ACK) from this node to the API server, in milliseconds',
          buckets,
        })
      : undefined;
    this.#noResponse = want.has('node_apiserver_no_response')
      ? adv.counter({
          name: APISERVER_FAMILIES.node_apiserver_no_response,
          help: 'Packets from this node to the API server that got no answer in time',
          labelNames: ['no_response'],
        })
      : undefined;
  }

  /** Measures a batch of flows (expiring unanswered packets first). */
  process(flows: readonly Flow[]): void {
    const now = this.#now();
    this.expire(now);
    for (let i = 0; i < flows.length; i++) {
      const m = this.#matcher.observe(flows[i] as Flow, now);
      if (!m) continue;
      this.#latency?.observe(m.latencyMs);
      if (m.handshake) {
        this.#handshake?.observe(m.latencyMs);
        this.#metrics.basic.nodeApiserverHandshakeLatencyMs.observe(m.latencyMs);
      }
    }
  }

  /** Counts packets unanswered for the response timeout as `no_response` (runs on a timer once started). */
  expire(now = this.#now()): void {
    const n = this.#matcher.expire(now, this.#timeoutMs);
    if (n > 0) this.#noResponse?.inc({ no_response: NO_RESPONSE_LABEL_VALUE }, n);
  }

  /** Starts the timer that expires unanswered packets while no flows arrive. Idempotent. */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.expire(), this.#timeoutMs);
    this.#timer.unref?.();
  }

  /** Stops the timer and forgets pending packets. Idempotent. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#matcher.clear();
  }

  #handleOf(name: ApiServerMetricName): unknown {
    switch (name) {
      case 'node_apiserver_latency':
        return this.#latency;
      case 'node_apiserver_handshake_latency':
        return this.#handshake;
      case 'node_apiserver_no_response':
        return this.#noResponse;
    }
  }
}
