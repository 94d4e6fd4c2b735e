/**
 * Per-stream aggregates of the flows the server forwards: the service map (edges with flows/s as a moving average
 * and counts of drops, resets and DNS errors) and DNS latency from request/response pairs. Both are bounded: the
 * oldest edges and pending DNS requests are dropped first.
 */
import type { UiDnsLatency, UiEdge, UiEndpoint, UiFlow, UiMapNode, UiServiceMap } from './model/types.js';

export interface ServiceMapOptions {
  /** Most edges kept (default 400). */
  maxEdges?: number;
  /** An edge unseen this long is removed (default 60 s). */
  idleMs?: number;
  /** Weight of the newest second in the moving average of flows/s (default 0.3). */
  alpha?: number;
}

interface EdgeState extends UiEdge {
  /** Flows counted since the last tick. */
  pending: number;
}

function nodeOf(ep: UiEndpoint): UiMapNode {
  if (ep.namespace && ep.workload) {
    return { id: ep.id, kind: 'workload', namespace: ep.namespace, label: ep.workload.split('/').pop()! };
  }
  if (ep.namespace && ep.pod) return { id: ep.id, kind: 'pod', namespace: ep.namespace, label: ep.pod };
  return { id: ep.id, kind: 'external', label: ep.ip ?? ep.id };
}

export class ServiceMapAggregator {
  readonly #edges = new Map<string, EdgeState>();
  readonly #nodes = new Map<string, UiMapNode>();
  readonly #maxEdges: number;
  readonly #idleMs: number;
  readonly #alpha: number;
  #lastTick = Date.now();

  constructor(o: ServiceMapOptions = {}) {
    this.#maxEdges = o.maxEdges ?? 400;
    this.#idleMs = o.idleMs ?? 60_000;
    this.#alpha = o.alpha ?? 0.3;
  }

  add(f: UiFlow): void {
    const key = `${f.src.id}\u0000${f.dst.id}`;
    let e = this.#edges.get(key);
    if (!e) {
      if (this.#edges.size >= this.#maxEdges) this.#evictOldest();
      e = { source: f.src.id, target: f.dst.id, rate: 0, flows: 0, drops: 0, resets: 0, dnsErrors: 0, lastSeen: 0, pending: 0 };
      this.#edges.set(key, e);
      this.#nodes.set(f.src.id, nodeOf(f.src));
      this.#nodes.set(f.dst.id, nodeOf(f.dst));
    }
    e.flows++;
    e.pending++;
    e.lastSeen = Date.now();
    if (f.verdict === 'DROPPED') e.drops++;
    if (f.tcpFlags?.includes('RST')) e.resets++;
    if (f.dns?.type === 'response' && f.dns.rcode) e.dnsErrors++;
  }

  #evictOldest(): void {
    let oldest: [string, EdgeState] | undefined;
    for (const entry of this.#edges) if (!oldest || entry[1].lastSeen < oldest[1].lastSeen) oldest = entry;
    if (oldest) this.#edges.delete(oldest[0]);
  }

  /** Updates rates (call about once a second) and returns the map without idle edges. */
  tick(now = Date.now()): UiServiceMap {
    const seconds = Math.max((now - this.#lastTick) / 1000, 0.001);
    this.#lastTick = now;
    const used = new Set<string>();
    const edges: UiEdge[] = [];
    for (const [key, e] of this.#edges) {
      const instant = e.pending / seconds;
      // The first second of an edge is its rate; later ones move the average.
      e.rate = e.flows === e.pending ? instant : e.rate + this.#alpha * (instant - e.rate);
      e.pending = 0;
      if (now - e.lastSeen > this.#idleMs) {
        this.#edges.delete(key);
        continue;
      }
      used.add(e.source).add(e.target);
      const { pending: _pending, ...edge } = e;
      edges.push(edge);
    }
    for (const id of this.#nodes.keys()) if (!used.has(id)) this.#nodes.delete(id);
    return { nodes: [...this.#nodes.values()], edges };
  }
}

/** A flow's time in milliseconds with its sub-millisecond part (DNS inside one host answers in microseconds). */
function preciseMs(raw: Record<string, unknown>, fallback: number): number {
  const t = raw['time'] as { seconds?: string | number; nanos?: number } | undefined;
  if (!t) return fallback;
  return (Number(t.seconds ?? 0) % 1e6) * 1000 + Number(t.nanos ?? 0) / 1e6;
}

/** DNS latency from requests and their responses (same client, server and query) in the flow stream. */
export class DnsLatencyTracker {
  readonly #pending = new Map<string, number>();
  #samples: number[] = [];
  readonly #maxPending: number;

  constructor(maxPending = 4096) {
    this.#maxPending = maxPending;
  }

  add(f: UiFlow, raw = f.raw): void {
    if (!f.dns) return;
    if (f.dns.type === 'request') {
      const key = `${f.src.ip}|${f.src.port}|${f.dst.ip}|${f.dns.query}`;
      if (this.#pending.size >= this.#maxPending) {
        // Maps iterate in insertion order: the first key is the oldest request.
        const first = this.#pending.keys().next().value;
        if (first !== undefined) this.#pending.delete(first);
      }
      this.#pending.set(key, preciseMs(raw, f.time));
      return;
    }
    // A response carrying its own latency (Hubble's l7.latency_ns) needs no pairing.
    const latencyNs = Number((raw['l7'] as Record<string, unknown> | undefined)?.['latency_ns'] ?? 0);
    if (latencyNs > 0) {
      this.#samples.push(latencyNs / 1e6);
      return;
    }
    const key = `${f.dst.ip}|${f.dst.port}|${f.src.ip}|${f.dns.query}`;
    const sent = this.#pending.get(key);
    if (sent === undefined) return;
    this.#pending.delete(key);
    this.#samples.push(Math.max(0, preciseMs(raw, f.time) - sent));
    if (this.#samples.length > 10_000) this.#samples = this.#samples.slice(-5_000);
  }

  /** Percentiles of the latencies since the last call. */
  take(now = Date.now()): UiDnsLatency {
    const s = this.#samples.sort((a, b) => a - b);
    this.#samples = [];
    if (!s.length) return { time: now, count: 0 };
    const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
    return { time: now, count: s.length, p50Ms: at(0.5), p95Ms: at(0.95), maxMs: s[s.length - 1]! };
  }
}
