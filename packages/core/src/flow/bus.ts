/**
 * The FlowBus: a bounded, non-blocking queue between plugins (producers) and consumers (metrics, Hubble).
 * Publishing is O(1) and never allocates or blocks; when the ring is full the flow is dropped and counted in
 * `lost_events_counter{type="buffered_channel",reason="flowbus"}`. Consumers receive batches asynchronously.
 */
import type { Flow } from './flow.js';
import type { Logger } from '../log/logger.js';
import type { MetricsModule } from '../metrics/module.js';
import { LostEventType } from '../metrics/names.js';

/** Receives a batch of flows; the array is only valid during the call. */
export type FlowSubscriber = (flows: readonly Flow[]) => void;

/** Options of `new FlowBus`. */
export interface FlowBusOptions {
  /** Flows held at most (default DEFAULT_FLOW_BUS_CAPACITY). */
  capacity?: number;
  /** Where dropped flows are counted. */
  metrics?: MetricsModule;
  /** Where subscriber errors are logged. */
  logger?: Logger;
  /** Flows handed to subscribers per batch (default 4096, the ring-buffer readers' batch size); each turn delivers everything queued before it. */
  maxBatch?: number;
}

/** Default capacity: twice what a ring-buffer reader hands over in one turn (16 batches of 4096). */
export const DEFAULT_FLOW_BUS_CAPACITY = 131_072;

/** Bounded flow queue with asynchronous batch delivery. */
export class FlowBus {
  readonly capacity: number;
  readonly #ring: Array<Flow | undefined>;
  #head = 0;
  #count = 0;
  #scheduled = false;
  #closed = false;
  #dropped = 0;
  #published = 0;
  readonly #maxBatch: number;
  readonly #subscribers = new Set<FlowSubscriber>();
  readonly #lost: { inc(): void } | undefined;
  readonly #logger: Logger | undefined;

  constructor(options: FlowBusOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_FLOW_BUS_CAPACITY;
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`FlowBus: capacity ${String(capacity)} must be a positive integer`);
    }
    this.capacity = capacity;
    this.#ring = new Array<Flow | undefined>(capacity);
    this.#maxBatch = Math.max(1, options.maxBatch ?? 4096);
    this.#lost = options.metrics?.self.lostEventsCounter.labels({
      type: LostEventType.BUFFERED_CHANNEL,
      reason: 'flowbus',
    });
    this.#logger = options.logger;
  }

  /** Flows waiting for delivery. */
  get size(): number {
    return this.#count;
  }

  /** Flows dropped because the bus was full. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Flows accepted since creation. */
  get published(): number {
    return this.#published;
  }

  /** Queues a flow; false when it was dropped (bus full: counted) or the bus is closed. */
  publish(flow: Flow): boolean {
    if (this.#closed) return false;
    if (this.#count === this.capacity) {
      this.#dropped++;
      this.#lost?.inc();
      return false;
    }
    this.#ring[(this.#head + this.#count) % this.capacity] = flow;
    this.#count++;
    this.#published++;
    if (!this.#scheduled && this.#subscribers.size > 0) this.#schedule();
    return true;
  }

  /** Adds a subscriber; returns the function that removes it. */
  subscribe(fn: FlowSubscriber): () => void {
    if (this.#closed) throw new Error('FlowBus: cannot subscribe after close()');
    this.#subscribers.add(fn);
    if (this.#count > 0 && !this.#scheduled) this.#schedule();
    return () => {
      this.#subscribers.delete(fn);
    };
  }

  /** Delivers what is queued, then refuses further flows and drops all subscribers. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#count > 0 && this.#subscribers.size > 0) this.#drainOnce();
    this.#ring.fill(undefined);
    this.#count = 0;
    this.#subscribers.clear();
  }

  #schedule(): void {
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#closed || this.#subscribers.size === 0) return;
      // Everything queued before this turn goes out now, in batches: producers (ring-buffer readers) hand over
      // several batches per turn, and draining one batch per turn would let the backlog grow until flows drop.
      // Flows published during delivery wait for the next turn, so timers and I/O still get their share.
      let due = this.#count;
      while (due > 0 && !this.#closed && this.#subscribers.size > 0) due -= this.#drainOnce(due);
      if (this.#count > 0) this.#schedule();
    });
  }

  /** Delivers one batch of at most `limit` flows (and maxBatch); returns its size. */
  #drainOnce(limit = this.#count): number {
    const n = Math.min(this.#count, this.#maxBatch, limit);
    const batch = new Array<Flow>(n);
    for (let i = 0; i < n; i++) {
      const idx = (this.#head + i) % this.capacity;
      batch[i] = this.#ring[idx] as Flow;
      this.#ring[idx] = undefined;
    }
    this.#head = (this.#head + n) % this.capacity;
    this.#count -= n;
    for (const fn of this.#subscribers) {
      try {
        fn(batch);
      } catch (err) {
        this.#logger?.error({ err }, 'flow subscriber threw; other subscribers still received the batch');
      }
    }
    return n;
  }
}
