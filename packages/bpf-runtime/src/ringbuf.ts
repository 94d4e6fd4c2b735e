import type { BpfMap } from './map.js';
import { native } from './native.js';
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
export type RingBufferReaderOptions = BatchReaderOptions<RecordBatch>;

/** Counters of a RingBufferReader. */
export type RingBufferStats = BatchReaderStats;

/**
 * Reads a BPF_MAP_TYPE_RINGBUF map on a native thread and delivers records to JS in batches. The thread never
 * blocks on JS: when `queueCapacity` batches are waiting, further records are counted in `dropped`.
 */
export class RingBufferReader extends BatchReader<RecordBatch> {
  /** Prepares a reader for `map` (a ringbuf map of a loaded object); call start() to begin. */
  constructor(map: BpfMap, options: RingBufferReaderOptions) {
    checkReaderArgs(map, options, 'ringbuf', 'RingBufferReader');
    const handle = new (native().NativeRingBuffer)(
      map.handle,
      positiveInt(options.maxBatch, 4096, 'maxBatch', 'RingBufferReader'),
      positiveInt(options.maxBatchBytes, 1 << 20, 'maxBatchBytes', 'RingBufferReader'),
      positiveInt(options.queueCapacity, 16, 'queueCapacity', 'RingBufferReader'),
      pauseWhenFull(options.whenQueueFull, 'RingBufferReader'),
    );
    super(handle, map, options, 'ring buffer');
  }

  /** Counters since creation. */
  stats(): RingBufferStats {
    const s = this.nativeStats();
    return { records: s.records, batches: s.batches, dropped: s.dropped, bytes: s.bytes };
  }

  protected makeBatch(data: ArrayBuffer, count: number, dataBytes: number, stride: number): RecordBatch {
    return {
      count,
      buffer: Buffer.from(data, stride * 8, dataBytes),
      offsets: new Uint32Array(data, 0, count),
      lengths: new Uint32Array(data, stride * 4, count),
    };
  }
}
