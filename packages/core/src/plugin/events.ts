/**
 * The shared half of every kernel plugin that reads events: reader start/stop, reader failure → restart, loss
 * accounting with one label scheme, malformed-record counting and the monotonic → epoch clock. Typed against a
 * structural reader so core never imports bpf-runtime: bpf-runtime's RingBufferReader and PerfBufferReader fit.
 */

/** What a reader must offer (bpf-runtime's RingBufferReader does). */
export interface EventReader {
  /** Starts reading; batches then arrive through the handlers given to the source. */
  start(): unknown;
  /** Stops reading (idempotent). */
  stop(): void;
  /** Cumulative counters; `dropped` is records read from the kernel but dropped because user space fell behind. */
  stats(): { readonly dropped: number };
}

/** Callbacks a reader is created with, and how readEvents wants its batches. */
export interface EventReaderHandlers<B> {
  /**
   * `'inline'`: readEvents handles each batch synchronously and keeps no view of it, so a ring-buffer reader may
   * hand it views into the ring itself, valid only during the call (bpf-runtime's RingBufferReader `mode`; readers
   * without such a mode ignore it).
   */
  readonly mode: 'inline';
  onBatch(batch: B): void;
  /** The reading thread failed; the reader has stopped. */
  onError(err: Error): void;
}

/** Creates the reader, e.g. `(h) => new RingBufferReader(obj.map('events'), h)`. */
export type EventSource<B, R extends EventReader = EventReader> = (handlers: EventReaderHandlers<B>) => R;

/** The time sources behind the clock offset (replaceable in tests). */
export interface EventClockSource {
  /** Wall-clock milliseconds since the epoch (default Date.now). */
  epochMs(): number;
  /** CLOCK_MONOTONIC nanoseconds, the clock of bpf_ktime_get_ns (default process.hrtime.bigint). */
  monotonicNs(): bigint;
}

/** What a batch handler may read while decoding. */
export interface EventClock {
  /** Add to a kernel (CLOCK_MONOTONIC) timestamp in ns to get ns since the Unix epoch. */
  readonly epochOffsetNs: bigint;
}

/**
 * Decodes one batch, synchronously: the batch (its buffer and offsets) is valid only during the call, so copy
 * whatever outlives it (decoded numbers and strings do). Returns how many records were malformed (counted as lost with `type="parser"`), or nothing
 * when all were good. A throw is logged, counted in plugin_errors_total and the whole batch counted as malformed.
 */
export type EventBatchHandler<B> = (batch: B, clock: EventClock) => number | void;

/** Options of `readEvents`. */
export interface ReadEventsOptions {
  /**
   * The kernel program's cumulative count of events it could not hand over (ring buffer full, rate limit), read
   * at each accounting; its growth is counted as `type="kernel"`.
   */
  kernelLost?: () => number | bigint;
  /** How often losses are accounted and the clock offset is measured again (default `metricsIntervalMs`). */
  intervalMs?: number;
  /** Time sources (default the process's clocks). */
  clock?: EventClockSource;
}

/** Losses counted so far by one `readEvents`. */
export interface EventLossTotals {
  /** Lost in the kernel (`type="kernel"`). */
  kernel: number;
  /** Dropped between the reading thread and JavaScript (`type="buffered_channel"`). */
  reader: number;
  /** Malformed records (`type="parser"`). */
  malformed: number;
}

/** What `readEvents` returns. */
export interface EventStream<R extends EventReader = EventReader> extends EventClock {
  /** The reader (undefined when readEvents was given no source). */
  readonly reader: R | undefined;
  /** Adds the losses since the last accounting to lost_events_counter now and measures the clock offset again. */
  account(): void;
  /** What has been counted so far. */
  readonly lost: Readonly<EventLossTotals>;
}

/** The default time sources. */
export const processClock: EventClockSource = {
  epochMs: () => Date.now(),
  monotonicNs: () => process.hrtime.bigint(),
};

/** Wall clock minus CLOCK_MONOTONIC, in ns. Fractions of a millisecond are kept exactly. */
export function epochOffsetNs(clock: EventClockSource = processClock): bigint {
  const nowMs = clock.epochMs();
  const mono = clock.monotonicNs();
  // Whole milliseconds and the fraction separately: ms * 1e6 as a double would lose the low digits.
  const whole = Math.trunc(nowMs);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((nowMs - whole) * 1e6)) - mono;
}

/** How the growth of a cumulative counter is read: never negative, and a counter that goes back is not re-counted. */
export class CounterDelta {
  #seen = 0n;

  /** The growth since the previous call. */
  next(total: number | bigint): number {
    const t = BigInt(total);
    if (t <= this.#seen) return 0;
    const delta = t - this.#seen;
    this.#seen = t;
    return Number(delta);
  }
}
