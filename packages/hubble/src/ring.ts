/**
 * The flow ring: a fixed number of the most recent events (served flows and lost-event notices), each addressed by a
 * sequence number that only grows. Readers hold a sequence number, not a copy: a reader that falls behind by more
 * than the capacity finds its next entry overwritten and reports the gap as lost events, so no reader can hold up
 * the writer or another reader.
 */
import type { PbFlow, PbLostEvent, PbTimestamp } from './wire.js';

/** One ring entry: a flow or a notice that events were lost before they reached the ring. */
export interface RingEntry {
  /** Event time in nanoseconds since the epoch (flow time, or when the loss was noticed). */
  timeNs: bigint;
  time: PbTimestamp;
  flow?: PbFlow;
  lost?: PbLostEvent;
  /** Encoded GetFlowsResponse, filled by the first reader that sends the entry and reused by the others. */
  encoded?: Uint8Array;
}

/** Capacities Hubble accepts: 2^n - 1 from 1 to 65535. */
export function isValidRingCapacity(capacity: number): boolean {
  return (
    Number.isInteger(capacity) && capacity >= 1 && capacity <= 65535 && ((capacity + 1) & capacity) === 0
  );
}

/** Fixed-capacity ring of recent events. */
export class FlowRing {
  readonly capacity: number;
  readonly #slots: (RingEntry | undefined)[];
  /** Sequence number the next write gets. */
  #next = 0;
  readonly #listeners = new Set<() => void>();

  constructor(capacity: number) {
    if (!isValidRingCapacity(capacity)) {
      throw new RangeError(
        `flow ring capacity ${String(capacity)} is not allowed: use 2^n-1 between 1 and 65535 (1, 3, 7, ..., 4095, ..., 65535)`,
      );
    }
    this.capacity = capacity;
    this.#slots = new Array<RingEntry | undefined>(capacity);
  }

  /** Sequence number of the next write (one past the newest entry). */
  get end(): number {
    return this.#next;
  }

  /** Sequence number of the oldest entry still held. */
  get start(): number {
    return Math.max(0, this.#next - this.capacity);
  }

  /** Entries currently held. */
  get size(): number {
    return this.#next - this.start;
  }

  /** Appends entries (overwriting the oldest) and then wakes waiting readers once. */
  push(entries: readonly RingEntry[]): void {
    if (entries.length === 0) return;
    for (const entry of entries) {
      this.#slots[this.#next % this.capacity] = entry;
      this.#next++;
    }
    for (const listener of [...this.#listeners]) listener();
  }

  /** The entry with this sequence number, or undefined when it was overwritten or not written yet. */
  get(seq: number): RingEntry | undefined {
    if (seq < this.start || seq >= this.#next) return undefined;
    return this.#slots[seq % this.capacity];
  }

  /** Calls `fn` after each push until the returned function is called. */
  onPush(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => {
      this.#listeners.delete(fn);
    };
  }
}
