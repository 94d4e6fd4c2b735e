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
// Slots of InlineRing's #pos and #counts.
const CONS = 0;
const AT = 1;
const IN_FLIGHT = 2;
const BUSY = 3;
const BYTES_WALKED = 4;
const POS_SLOTS = 5;
const RECORDS = 0;
const BATCHES = 1;
const BYTES = 2;
const ERROR = 3;
// Whether plain loads already have acquire semantics (see InlineRing).
const LOADS_ORDERED = process.arch === 'x64' || process.arch === 'ia32';

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
  // The positions go through Atomics (sequentially consistent: acquire on the producer's, release on ours, once
  // per batch). A record's length word, which the kernel writes with release semantics once the record is
  // complete, needs acquire semantics so its data is not read before it: on x86 every load already has them
  // (loads are not reordered with loads) and V8 keeps typed-array loads in program order, so a plain load is
  // used there (Atomics.load is a call in V8, about 25 ns per record); elsewhere Atomics.load.
  readonly #consumer: BigUint64Array;
  readonly #producer: BigUint64Array;
  readonly #headers: Int32Array;
  readonly #offsets: Uint32Array;
  readonly #lengths: Uint32Array;
  readonly #data: ArrayBuffer;
  readonly #buffer: Buffer;
  #callback: NativeBatchCallback | undefined;
  #closed = false;
  // The drain's numbers live in a Float64Array rather than in fields: a field that held small integers and then a
  // larger one changes representation, which throws away the drain's optimized code (and with it most of its speed)
  // for the rest of a run.
  /** CONS: the consumer position (bytes since the ring was created; exact as a double below 2^53); AT: that modulo
   * the ring's size, where the next header is; IN_FLIGHT: where the batch inside onBatch ends, or -1; BUSY and
   * BYTES_WALKED: walkRing's other results. */
  readonly #pos = new Float64Array(POS_SLOTS);
  /** RECORDS, BATCHES, BYTES, ERROR. */
  readonly #counts = new Float64Array(4);
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
    const cons = Number(Atomics.load(this.#consumer, 0));
    this.#pos[CONS] = cons;
    this.#pos[AT] = cons % ringBytes;
    this.#pos[IN_FLIGHT] = -1;
  }

  /** The batch of `count` records handed to onBatch now (see RingBufferReader.makeBatch). */
  batch(count: number): RecordBatch {
    return {
      count,
      buffer: this.#buffer,
      offsets: this.#offsets.subarray(0, count),
      lengths: this.#lengths.subarray(0, count),
    };
  }

  /** The wakeup interval for a ring of `ringBytes` (a quarter of the time it takes to fill at 1 GB/s). */
  static intervalNs(ringBytes: number): number {
    return Math.min(MAX_INTERVAL_NS, Math.max(MIN_INTERVAL_NS, Math.floor(ringBytes / 4)));
  }

  start(onBatch: NativeBatchCallback): void {
    warmWalk();
    this.#callback = onBatch;
    this.#ring.watch((errno) => this.#drain(errno));
  }

  stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    // Stopped from inside onBatch: that batch was delivered, so its space is freed.
    const inFlight = this.#pos[IN_FLIGHT]!;
    if (inFlight >= 0) Atomics.store(this.#consumer, 0, BigInt(inFlight));
    this.#ring.close();
    this.#callback = undefined;
  }

  stats(): NativeReaderStats {
    const c = this.#counts;
    const records = c[RECORDS]!;
    return {
      records,
      batches: c[BATCHES]!,
      dropped: 0,
      bytes: c[BYTES]!,
      read: records,
      lost: 0,
      copied: 0,
      error: c[ERROR]!,
    };
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
    const counts = this.#counts;
    const pos = this.#pos;
    if (errno !== 0) {
      counts[ERROR] = errno;
      callback(null, errno, 0, 0);
      return 0;
    }
    const prod = Number(Atomics.load(this.#producer, 0));
    let budget = this.#turnRecords;
    let took = 0;
    while (pos[CONS]! < prod) {
      const count = walkRing(
        this.#headers,
        this.#offsets,
        this.#lengths,
        pos,
        prod,
        this.#ringBytes,
        this.#maxBatch,
      );
      const cons = pos[CONS]!;
      if (count > 0) {
        const bytes = pos[BYTES_WALKED]!;
        counts[RECORDS] = counts[RECORDS]! + count;
        counts[BATCHES] = counts[BATCHES]! + 1;
        counts[BYTES] = counts[BYTES]! + bytes;
        pos[IN_FLIGHT] = cons;
        try {
          callback(this.#data, count, bytes, 0);
        } finally {
          pos[IN_FLIGHT] = -1;
        }
        // onBatch stopped the reader: stop() published the position and the areas are gone.
        if (this.#closed) return 0;
      }
      // The batch is done with: its space (and that of discarded records) goes back to the producer.
      Atomics.store(this.#consumer, 0, BigInt(cons));
      took++;
      if (pos[BUSY]! !== 0) return 1;
      budget -= count;
      if (budget <= 0) return -1;
    }
    // Caught up with the producer position read at the start. Unlike libbpf, do not look again at once: records that
    // arrived meanwhile wait for the interval, so that under load batches are large (a batch costs about as much
    // as a hundred records) instead of a few records each.
    return took > 0 ? 1 : 0;
  }
}

/**
 * Notes the records from pos[CONS] (at pos[AT] in the data area) up to `prod`, at most `maxBatch` of them, in
 * `offsets` and `lengths`; returns how many. Advances pos[CONS] and pos[AT] past them and past discarded records,
 * sets pos[BUSY] when it stopped at a record still being written and pos[BYTES_WALKED] to the records' bytes.
 * A function of typed arrays only, so that it can be compiled before the first records arrive (warmWalk).
 */
function walkRing(
  headers: Int32Array,
  offsets: Uint32Array,
  lengths: Uint32Array,
  pos: Float64Array,
  prod: number,
  ringBytes: number,
  maxBatch: number,
): number {
  const ordered = LOADS_ORDERED;
  let cons = pos[CONS]!;
  let at = pos[AT]!;
  let count = 0;
  let bytes = 0;
  let busy = 0;
  while (cons < prod && count < maxBatch) {
    const len = ordered ? headers[at >>> 2]! : Atomics.load(headers, at >>> 2);
    if ((len & BUSY_BIT) !== 0) {
      // Reserved and not yet submitted: everything after it waits too (the kernel commits in order).
      busy = 1;
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
  pos[CONS] = cons;
  pos[AT] = at;
  pos[BUSY] = busy;
  pos[BYTES_WALKED] = bytes;
  return count;
}

let walkWarm = false;

/**
 * Runs walkRing over a synthetic ring until V8 has optimized it, once per process: a reader started while records
 * flood in would otherwise walk the first ones in the interpreter, at a fraction of the speed, and the ring could
 * fill meanwhile. About a millisecond.
 */
function warmWalk(): void {
  if (walkWarm) return;
  walkWarm = true;
  const ringBytes = 64 * 1024;
  const headers = new Int32Array(ringBytes / 2);
  for (let at = 0; at + 72 <= ringBytes; at += 72) headers[at >>> 2] = at % 720 === 0 ? 64 | DISCARD_BIT : 64;
  const offsets = new Uint32Array(1024);
  const lengths = new Uint32Array(1024);
  const pos = new Float64Array(POS_SLOTS);
  for (let i = 0; i < 300; i++) {
    pos[CONS] = 0;
    pos[AT] = 0;
    walkRing(headers, offsets, lengths, pos, 72 * 900, ringBytes, 1024);
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
    if (this.#inline !== undefined) return this.#inline.batch(count);
    return {
      count,
      buffer: Buffer.from(data, stride * 8, dataBytes),
      offsets: new Uint32Array(data, 0, count),
      lengths: new Uint32Array(data, stride * 4, count),
    };
  }
}
