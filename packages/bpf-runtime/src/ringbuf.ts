import { BpfError } from './errors.js';
import type { BpfMap } from './map.js';
import {
  native,
  type NativeBatchCallback,
  type NativeBatchReaderHandle,
  type NativeReaderStats,
  type NativeRingMapHandle,
} from './native.js';
import {
  BatchReader,
  checkReaderArgs,
  pauseWhenFull,
  positiveInt,
  type BatchReaderOptions,
  type BatchReaderStats,
  type RecordBatch,
} from './reader.js';

export { setMapOwner, type RecordBatch } from './reader.js';

/** Options of RingBufferReader. */
export interface RingBufferReaderOptions extends BatchReaderOptions<RecordBatch> {
  /**
   * `'thread'` (default): a native thread copies records into batches that wait for JavaScript in a queue (see
   * queueCapacity, whenQueueFull, recycleBatches). `'inline'`: no thread and no copy; the JS thread walks the ring
   * itself when it has records, and each batch's views point into the ring's own (read-only) memory, valid only
   * while onBatch runs, as with recycleBatches. Records wait in the ring while JavaScript is busy (what
   * whenQueueFull 'pause' does): the reader never drops, and what the ring cannot hold is lost in the kernel.
   * queueCapacity and maxBatchBytes do not apply; whenQueueFull may only be 'pause'.
   */
  mode?: 'thread' | 'inline';
}

/** Counters of a RingBufferReader. */
export type RingBufferStats = BatchReaderStats;

// The ring's record header (include/uapi/linux/bpf.h): a u32 length whose top two bits say the record is still
// being written (BUSY) or was given up (DISCARD), then a u32 page offset; records are 8-byte aligned.
const BUSY_BIT = 0x80000000 | 0;
const DISCARD_BIT = 0x40000000;
const LENGTH_MASK = 0x3fffffff;
const HEADER_BYTES = 8;

// The longest an inline reader waits, after a drain that took records, before it looks again: records that
// arrive meanwhile wake nobody (the kernel wakes a reader only once it has caught up), so under load the loop
// wakes once per interval, not once per record. Shorter for rings that would fill sooner.
const MAX_INTERVAL_NS = 200_000;
const MIN_INTERVAL_NS = 10_000;

/**
 * The inline mode behind the same native-handle interface the threaded reader uses, so that BatchReader's
 * lifecycle (start once, stop idempotent, owner tracking, failure reporting) is shared. It walks the ring exactly
 * as libbpf's ring_buffer__consume does: read the producer position (acquire), then per record the length word
 * (BUSY: stop; DISCARD: skip), then publish the consumer position (release) once the batch's onBatch returned.
 */
class InlineRing implements NativeBatchReaderHandle {
  readonly #ring: NativeRingMapHandle;
  readonly #maxBatch: number;
  readonly #turnRecords: number;
  readonly #ringBytes: number;
  // Atomics on these views: Atomics.load/store are sequentially consistent (acquire/release on the positions and
  // on each length word, which the kernel writes with release semantics once the record is complete), and they
  // keep the JIT from moving a record's reads before its length word's.
  readonly #consumer: BigUint64Array;
  readonly #producer: BigUint64Array;
  readonly #headers: Int32Array;
  readonly #offsets: Uint32Array;
  readonly #lengths: Uint32Array;
  readonly #data: ArrayBuffer;
  readonly #buffer: Buffer;
  #callback: NativeBatchCallback | undefined;
  #closed = false;
  /** The consumer position (bytes since the ring was created; exact as a double below 2^53). */
  #cons: number;
  /** #cons modulo the ring's size: where the next record's header is in the data area. */
  #at: number;
  /** The position the batch inside onBatch ends at, published by close() if onBatch stops the reader. */
  #inFlight = -1;
  /** The batch handed to onBatch now (see RingBufferReader.makeBatch). */
  batch: RecordBatch | undefined;
  readonly #stats: NativeReaderStats = {
    records: 0,
    batches: 0,
    dropped: 0,
    bytes: 0,
    read: 0,
    lost: 0,
    copied: 0,
    error: 0,
  };

  constructor(map: BpfMap, maxBatch: number) {
    this.#ring = new (native().NativeRingMap)(map.handle, InlineRing.intervalNs(map.maxEntries));
    const areas = this.#ring.areas();
    const ringBytes = areas.ringBytes;
    this.#ringBytes = ringBytes;
    this.#maxBatch = maxBatch;
    // Per loop turn at most this many records, then other callbacks get their turn before the reader goes on.
    this.#turnRecords = maxBatch * 16;
    this.#consumer = new BigUint64Array(areas.consumer, 0, 1);
    this.#producer = new BigUint64Array(areas.producer, 0, 1);
    this.#headers = new Int32Array(areas.data);
    this.#data = areas.data;
    this.#buffer = Buffer.from(areas.data);
    this.#offsets = new Uint32Array(maxBatch);
    this.#lengths = new Uint32Array(maxBatch);
    this.#cons = Number(Atomics.load(this.#consumer, 0));
    this.#at = this.#cons % ringBytes;
  }

  /** The wakeup interval for a ring of `ringBytes` (a quarter of the time it takes to fill at 1 GB/s). */
  static intervalNs(ringBytes: number): number {
    return Math.min(MAX_INTERVAL_NS, Math.max(MIN_INTERVAL_NS, Math.floor(ringBytes / 4)));
  }

  start(onBatch: NativeBatchCallback): void {
    this.#callback = onBatch;
    this.#ring.watch((errno) => this.#drain(errno));
  }

  stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Stopped from inside onBatch: that batch was delivered, so its space is freed.
    if (this.#inFlight >= 0) Atomics.store(this.#consumer, 0, BigInt(this.#inFlight));
    this.#ring.close();
    this.#callback = undefined;
    this.batch = undefined;
  }

  stats(): NativeReaderStats {
    return { ...this.#stats };
  }

  recycle(): void {
    // Inline batches are always valid during onBatch only.
  }

  ref(): void {
    this.#ring.ref();
  }

  unref(): void {
    this.#ring.unref();
  }

  /** Takes what the ring holds, batch by batch, up to the per-turn bound. See NativeRingMapHandle.watch. */
  #drain(errno: number): number {
    const callback = this.#callback;
    if (callback === undefined) return 0;
    if (errno !== 0) {
      this.#stats.error = errno;
      callback(null, errno, 0, 0);
      return 0;
    }
    const headers = this.#headers;
    const offsets = this.#offsets;
    const lengths = this.#lengths;
    const ringBytes = this.#ringBytes;
    const maxBatch = this.#maxBatch;
    const stats = this.#stats;
    let cons = this.#cons;
    let at = this.#at;
    let budget = this.#turnRecords;
    let prod = Number(Atomics.load(this.#producer, 0));
    let took = 0;
    while (cons < prod) {
      let count = 0;
      let bytes = 0;
      let busy = false;
      while (cons < prod && count < maxBatch) {
        const len = Atomics.load(headers, at >>> 2);
        if ((len & BUSY_BIT) !== 0) {
          // Reserved and not yet submitted: everything after it waits too (the kernel commits in order).
          busy = true;
          break;
        }
        const size = len & LENGTH_MASK;
        const step = (size + HEADER_BYTES + 7) & ~7;
        if ((len & DISCARD_BIT) === 0) {
          offsets[count] = at + HEADER_BYTES;
          lengths[count] = size;
          count++;
          bytes += (size + 7) & ~7;
        }
        cons += step;
        at += step;
        if (at >= ringBytes) at -= ringBytes;
      }
      if (count > 0) {
        stats.read += count;
        stats.records += count;
        stats.batches++;
        stats.bytes += bytes;
        this.batch = {
          count,
          buffer: this.#buffer,
          offsets: offsets.subarray(0, count),
          lengths: lengths.subarray(0, count),
        };
        this.#inFlight = cons;
        try {
          callback(this.#data, count, bytes, 0);
        } finally {
          this.#inFlight = -1;
          this.batch = undefined;
        }
        // onBatch stopped the reader: stop() published the position and the areas are gone.
        if (this.#closed) return 0;
      }
      // The batch is done with: its space (and that of discarded records) goes back to the producer.
      Atomics.store(this.#consumer, 0, BigInt(cons));
      this.#cons = cons;
      this.#at = at;
      took++;
      if (busy) return 1;
      budget -= count;
      if (budget <= 0) return -1;
      // Caught up: look again before going back to sleep, as libbpf does (records keep coming under load).
      if (cons >= prod) prod = Number(Atomics.load(this.#producer, 0));
    }
    return took > 0 ? 1 : 0;
  }
}

/**
 * Reads a BPF_MAP_TYPE_RINGBUF map and delivers records to JS in batches. By default a native thread copies them
 * into batches and never blocks on JS: when `queueCapacity` batches are waiting, further records are counted in
 * `dropped` (or left in the ring with whenQueueFull 'pause'). With `mode: 'inline'` the JS thread reads the ring
 * itself, without a copy (see RingBufferReaderOptions.mode).
 */
export class RingBufferReader extends BatchReader<RecordBatch> {
  readonly #inline: InlineRing | undefined;

  /** Prepares a reader for `map` (a ringbuf map of a loaded object); call start() to begin. */
  constructor(map: BpfMap, options: RingBufferReaderOptions) {
    checkReaderArgs(map, options, 'ringbuf', 'RingBufferReader');
    const mode = options.mode ?? 'thread';
    if (mode !== 'thread' && mode !== 'inline') {
      throw new BpfError(`RingBufferReader: mode must be 'thread' or 'inline', got ${String(mode)}`, {
        errno: 0,
        operation: 'create RingBufferReader',
        target: map.name,
      });
    }
    const maxBatch = positiveInt(options.maxBatch, 4096, 'maxBatch', 'RingBufferReader');
    let handle: NativeBatchReaderHandle;
    let inline: InlineRing | undefined;
    if (mode === 'inline') {
      if (options.whenQueueFull !== undefined && options.whenQueueFull !== 'pause') {
        throw new BpfError(
          `RingBufferReader: mode 'inline' leaves records in the ring while JavaScript is busy; whenQueueFull ` +
            `must be 'pause' or unset, got ${String(options.whenQueueFull)}`,
          { errno: 0, operation: 'create RingBufferReader', target: map.name },
        );
      }
      inline = new InlineRing(map, maxBatch);
      handle = inline;
    } else {
      handle = new (native().NativeRingBuffer)(
        map.handle,
        maxBatch,
        positiveInt(options.maxBatchBytes, 1 << 20, 'maxBatchBytes', 'RingBufferReader'),
        positiveInt(options.queueCapacity, 16, 'queueCapacity', 'RingBufferReader'),
        pauseWhenFull(options.whenQueueFull, 'RingBufferReader'),
      );
    }
    super(handle, map, options, 'ring buffer');
    this.#inline = inline;
  }

  /** Counters since creation. */
  stats(): RingBufferStats {
    const s = this.nativeStats();
    return { records: s.records, batches: s.batches, dropped: s.dropped, bytes: s.bytes };
  }

  protected makeBatch(data: ArrayBuffer, count: number, dataBytes: number, stride: number): RecordBatch {
    const inline = this.#inline?.batch;
    if (inline !== undefined) return inline;
    return {
      count,
      buffer: Buffer.from(data, stride * 8, dataBytes),
      offsets: new Uint32Array(data, 0, count),
      lengths: new Uint32Array(data, stride * 4, count),
    };
  }
}
