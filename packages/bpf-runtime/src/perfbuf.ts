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
import { BpfError } from './errors.js';

/** A batch from a perf event array: `cpus[i]` is the CPU whose buffer held record `i`. */
export interface PerfRecordBatch extends RecordBatch {
  cpus: Uint32Array;
}

/** Options of PerfBufferReader. */
export interface PerfBufferReaderOptions extends BatchReaderOptions<PerfRecordBatch> {
  /** Pages of the buffer of each CPU, a power of two (default 64: 256 KiB with 4 KiB pages). */
  pageCount?: number;
  /**
   * The kernel wakes the reader when this many records wait on a CPU (default 1: every record, the lowest
   * latency). Each wakeup costs the producing CPU an interrupt, which at high rates dominates; a larger value
   * (e.g. 64) spares most of them, and the reader then also drains every 10 ms, so a few records never wait
   * longer than that.
   */
  wakeupEvents?: number;
}

/** Counters of a PerfBufferReader. */
export interface PerfBufferStats extends BatchReaderStats {
  /** Records the kernel could not write because a CPU's buffer was full (PERF_RECORD_LOST). */
  lost: number;
}

/**
 * Reads a BPF_MAP_TYPE_PERF_EVENT_ARRAY map (one buffer per CPU, filled by bpf_perf_event_output) on a native
 * thread and delivers records to JS in batches, like RingBufferReader. Perf records are padded by the kernel so
 * that each occupies a multiple of 8 bytes with its 4-byte size header: `lengths[i]` can exceed what the program
 * wrote by up to 7 bytes. The per-CPU buffers are created by the constructor, so records written between
 * construction and start() are kept.
 */
export class PerfBufferReader extends BatchReader<PerfRecordBatch> {
  /** Prepares a reader for `map` (a perf_event_array map of a loaded object); call start() to begin. */
  constructor(map: BpfMap, options: PerfBufferReaderOptions) {
    checkReaderArgs(map, options, 'perf_event_array', 'PerfBufferReader');
    const pages = positiveInt(options.pageCount, 64, 'pageCount', 'PerfBufferReader');
    if ((pages & (pages - 1)) !== 0) {
      throw new BpfError(`PerfBufferReader: pageCount must be a power of two, got ${pages}`, {
        errno: 0,
        operation: 'create PerfBufferReader',
        target: map.name,
      });
    }
    const handle = new (native().NativePerfBuffer)(
      map.handle,
      positiveInt(options.maxBatch, 4096, 'maxBatch', 'PerfBufferReader'),
      positiveInt(options.maxBatchBytes, 1 << 20, 'maxBatchBytes', 'PerfBufferReader'),
      positiveInt(options.queueCapacity, 16, 'queueCapacity', 'PerfBufferReader'),
      pauseWhenFull(options.whenQueueFull, 'PerfBufferReader'),
      pages,
      positiveInt(options.wakeupEvents, 1, 'wakeupEvents', 'PerfBufferReader'),
    );
    super(handle, map, options, 'perf buffer');
  }

  /** Counters since creation. */
  stats(): PerfBufferStats {
    const s = this.nativeStats();
    return { records: s.records, batches: s.batches, dropped: s.dropped, bytes: s.bytes, lost: s.lost };
  }

  protected makeBatch(data: ArrayBuffer, count: number, dataBytes: number, stride: number): PerfRecordBatch {
    return {
      count,
      buffer: Buffer.from(data, stride * 12, dataBytes),
      offsets: new Uint32Array(data, 0, count),
      lengths: new Uint32Array(data, stride * 4, count),
      cpus: new Uint32Array(data, stride * 8, count),
    };
  }
}
