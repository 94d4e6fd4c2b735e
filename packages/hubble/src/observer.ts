/**
 * The observer: takes flow batches from the FlowBus, converts each flow once to its served form, counts it in the
 * hubble_* metrics, remembers recently seen namespaces, and appends it to the flow ring that GetFlows reads.
 */
import type { Flow, Logger } from '@retina-ts/core';
import type { ConvertOptions } from './convert.js';
import { toPbFlow } from './convert.js';
import type { HubbleMetrics } from './metrics/hubble-metrics.js';
import { hubbleTypes } from './protos.js';
import type { RingEntry } from './ring.js';
import { EncodedFlowEntry, FlowRing } from './ring.js';
import type { PbFlow } from './wire.js';
import { Wire, timestampOfNs } from './wire.js';

/** What the observer needs from a flow source (core's FlowBus fits). */
export interface FlowSource {
  subscribe(fn: (flows: readonly Flow[]) => void): () => void;
  /** Flows the source dropped because it was full; reported to clients as lost events when present. */
  readonly dropped?: number;
}

/** Counts events per second over the last minute. */
export class RateMeter {
  readonly #buckets = new Float64Array(60);
  readonly #bucketSecond = new Float64Array(60).fill(-1);
  readonly #startedMs: number;

  constructor(nowMs: number) {
    this.#startedMs = nowMs;
  }

  /** Records `n` events at `nowMs`. */
  add(n: number, nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    const i = second % 60;
    if (this.#bucketSecond[i] !== second) {
      this.#bucketSecond[i] = second;
      this.#buckets[i] = 0;
    }
    this.#buckets[i] = (this.#buckets[i] as number) + n;
  }

  /** Events per second over the minute before `nowMs` (or since start, when younger than a minute). */
  rate(nowMs: number): number {
    const second = Math.floor(nowMs / 1000);
    let total = 0;
    for (let i = 0; i < 60; i++) {
      const s = this.#bucketSecond[i] as number;
      if (s > second - 60 && s <= second) total += this.#buckets[i] as number;
    }
    const window = Math.min(60, Math.max(1, (nowMs - this.#startedMs) / 1000));
    return total / window;
  }
}

/** Options of `new HubbleObserver`. */
export interface ObserverOptions {
  ringCapacity: number;
  convert: ConvertOptions;
  metrics?: HubbleMetrics;
  logger?: Logger;
  /** Clock in milliseconds (tests pass their own). */
  now?: () => number;
}

const NAMESPACE_TTL_MS = 60 * 60 * 1000;

/** Flows converted per event-loop turn at most; a larger batch from the source is finished in later turns. */
const FLOWS_PER_TURN = 256;
/**
 * A turn also ends once it has taken this long: on a machine short of CPU a flow costs many times its usual time,
 * and the sockets (scrapes, health checks, followers) are polled only between turns.
 */
const TURN_MS = 2;
/** Flows converted between two looks at the clock. */
const FLOWS_PER_CHECK = 32;

/** Flow ring plus the bookkeeping ServerStatus and GetNamespaces report. */
export class HubbleObserver {
  readonly ring: FlowRing;
  readonly startedMs: number;
  readonly #convert: ConvertOptions;
  readonly #responseType = hubbleTypes().getFlowsResponse;
  readonly #metrics: HubbleMetrics | undefined;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #rate: RateMeter;
  readonly #namespaces = new Map<string, { cluster: string; namespace: string; seenMs: number }>();
  #seen = 0;
  #sourceDropped: number | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Batches taken from the source and not yet converted (at most the ring's capacity of flows). */
  #queue: Flow[][] = [];
  /** Flows of the oldest queued batch already converted. */
  #headTaken = 0;
  #queued = 0;
  #queueLost = 0;
  #draining = false;

  constructor(options: ObserverOptions) {
    this.ring = new FlowRing(options.ringCapacity);
    this.#convert = options.convert;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.startedMs = this.#now();
    this.#rate = new RateMeter(this.startedMs);
  }

  /** Flows observed since start. */
  get seenFlows(): number {
    return this.#seen;
  }

  /** Flows per second over the last minute. */
  flowsRate(): number {
    return this.#rate.rate(this.#now());
  }

  /** Uptime in nanoseconds. */
  uptimeNs(): bigint {
    return BigInt(Math.max(0, this.#now() - this.startedMs)) * 1_000_000n;
  }

  /** Starts taking batches from the source. */
  attach(source: FlowSource): void {
    if (this.#unsubscribe) throw new Error('HubbleObserver: already attached to a flow source');
    this.#sourceDropped = source.dropped;
    this.#unsubscribe = source.subscribe((flows) => this.#enqueue(flows, source.dropped));
  }

  /**
   * Queues a batch and converts it over as many turns as it needs, so a flood never holds the event loop for a
   * whole backlog. Beyond a ring's worth of waiting flows the oldest waiting are dropped and reported as lost
   * (source OBSERVER_EVENTS_QUEUE), as Hubble's event queue does.
   */
  #enqueue(flows: readonly Flow[], sourceDropped: number | undefined): void {
    if (sourceDropped !== undefined) {
      const lost = sourceDropped - (this.#sourceDropped ?? 0);
      this.#sourceDropped = sourceDropped;
      if (lost > 0) this.#queueLost += lost;
    }
    this.#queue.push(flows as Flow[]);
    this.#queued += flows.length;
    while (this.#queued > this.ring.capacity && this.#queue.length > 1) {
      const oldest = this.#queue.shift() as Flow[];
      const waiting = oldest.length - this.#headTaken;
      this.#headTaken = 0;
      this.#queued -= waiting;
      this.#queueLost += waiting;
    }
    if (!this.#draining) {
      this.#draining = true;
      setImmediate(() => this.#drain());
    }
  }

  #drain(): void {
    const start = performance.now();
    let budget = FLOWS_PER_TURN;
    while (budget > 0 && this.#queue.length > 0) {
      const batch = this.#queue[0] as Flow[];
      const from = this.#headTaken;
      const to = Math.min(batch.length, from + Math.min(budget, FLOWS_PER_CHECK));
      const take = from === 0 && to === batch.length ? batch : batch.slice(from, to);
      if (to === batch.length) {
        this.#queue.shift();
        this.#headTaken = 0;
      } else this.#headTaken = to;
      this.#queued -= take.length;
      budget -= take.length;
      this.#ingestLost(take);
      if (performance.now() - start >= TURN_MS) break;
    }
    if (this.#queue.length > 0 && this.#unsubscribe) setImmediate(() => this.#drain());
    else this.#draining = false;
  }

  #ingestLost(flows: readonly Flow[]): void {
    const lost = this.#queueLost;
    this.#queueLost = 0;
    this.ingest(flows, undefined, lost);
  }

  /** Stops taking batches. */
  detach(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#queue = [];
    this.#headTaken = 0;
    this.#queued = 0;
  }

  /**
   * Converts and stores a batch at once; `sourceDropped` is the source's running drop count, if it has one, and
   * `alsoLost` flows lost before this batch for other reasons.
   */
  ingest(flows: readonly Flow[], sourceDropped?: number, alsoLost = 0): void {
    const nowMs = this.#now();
    const entries: RingEntry[] = [];
    let served = 0;
    let lost = alsoLost;
    if (sourceDropped !== undefined) {
      lost += sourceDropped - (this.#sourceDropped ?? 0);
      this.#sourceDropped = sourceDropped;
    }
    if (lost > 0) {
      const timeNs = BigInt(nowMs) * 1_000_000n;
      entries.push({
        timeNs,
        time: timestampOfNs(timeNs),
        lost: { source: Wire.lostEventSource.OBSERVER_EVENTS_QUEUE, num_events_lost: lost },
      });
      this.#metrics?.lost('observer_events_queue', lost);
    }
    for (const flow of flows) {
      let pb: PbFlow;
      let bytes: Uint8Array;
      try {
        pb = toPbFlow(flow, this.#convert);
        // Encoded once here and shared by every follower; the ring keeps only the bytes (see EncodedFlowEntry).
        bytes = this.#responseType.encode({ flow: pb, node_name: pb.node_name, time: pb.time }).finish();
      } catch (err) {
        this.#logger?.warn({ err }, 'hubble: flow could not be converted; skipped');
        continue;
      }
      entries.push(new EncodedFlowEntry(flow.timeNs, pb.time, bytes, this.#responseType));
      served++;
      this.#noteNamespace(pb.source?.cluster_name, pb.source?.namespace, nowMs);
      this.#noteNamespace(pb.destination?.cluster_name, pb.destination?.namespace, nowMs);
      if (this.#metrics) {
        try {
          this.#metrics.process(pb);
        } catch (err) {
          this.#logger?.warn({ err }, 'hubble: metrics could not count a flow');
        }
      }
    }
    this.#seen += served;
    this.#rate.add(served, nowMs);
    this.ring.push(entries);
  }

  #noteNamespace(cluster: string | undefined, namespace: string | undefined, nowMs: number): void {
    if (!namespace) return;
    const c = cluster ?? '';
    const key = `${c}\u0000${namespace}`;
    const known = this.#namespaces.get(key);
    if (known) known.seenMs = nowMs;
    else this.#namespaces.set(key, { cluster: c, namespace, seenMs: nowMs });
  }

  /** Namespaces seen in flows during the last hour, sorted by cluster then namespace. */
  namespaces(): { cluster: string; namespace: string }[] {
    const cutoff = this.#now() - NAMESPACE_TTL_MS;
    const out: { cluster: string; namespace: string }[] = [];
    for (const [key, entry] of this.#namespaces) {
      if (entry.seenMs < cutoff) this.#namespaces.delete(key);
      else out.push({ cluster: entry.cluster, namespace: entry.namespace });
    }
    return out.sort((a, b) =>
      a.cluster === b.cluster ? cmp(a.namespace, b.namespace) : cmp(a.cluster, b.cluster),
    );
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
