// What RingBufferReader and PerfBufferReader share: option checks, the native start/stop lifecycle, turning the
// native callback's ArrayBuffer into batch views, and stopping with the owning object.
import { BpfError, errnoName } from './errors.js';
import type { Releasable, ResourceOwner } from './link.js';
import type { BpfMap } from './map.js';
import type { NativeBatchReaderHandle, NativeReaderStats } from './native.js';

/**
 * Records delivered in one callback. Record `i` is `buffer.subarray(offsets[i], offsets[i] + lengths[i])`; offsets
 * are 8-byte aligned. The views share one ArrayBuffer that belongs to the callee (it is not reused while any
 * view of it is reachable).
 */
export interface RecordBatch {
  count: number;
  buffer: Buffer;
  offsets: Uint32Array;
  lengths: Uint32Array;
}

/** Options common to both readers. */
export interface BatchReaderOptions<B extends RecordBatch> {
  /** Called once per batch on the JS thread. */
  onBatch: (batch: B) => void;
  /** Called if the polling thread fails (the reader is then stopped). Default: a process warning. */
  onError?: (error: BpfError) => void;
  /** Records per batch at most (default 4096). */
  maxBatch?: number;
  /** Bytes per batch at most (default 1 MiB); a larger single record still goes out alone. */
  maxBatchBytes?: number;
  /** Batches that may wait for JS (default 16). */
  queueCapacity?: number;
  /**
   * What the thread does when `queueCapacity` batches wait for JS: `'drop'` (default) keeps draining the kernel
   * buffer and counts the records it cannot queue in `dropped`; `'pause'` stops draining until JS catches up, so
   * the kernel buffer absorbs the burst and what it cannot hold is lost in the kernel (for ring buffers the
   * producer's bpf_ringbuf_reserve() fails: count that in the BPF program; perf buffers report it as `lost`).
   */
  whenQueueFull?: 'drop' | 'pause';
  /**
   * `true`: a batch is valid only while onBatch runs. Its memory is reused as soon as onBatch returns and its
   * ArrayBuffer is detached then (every view of it reads as empty), so copy what you keep. This spares the
   * allocation, page faults and garbage collection of batch memory: the fastest mode at high rates. Default
   * `false`: the batch's memory belongs to the callee until garbage collected.
   */
  recycleBatches?: boolean;
}

/** Reads options.whenQueueFull: true for 'pause'; throws on other values. */
export function pauseWhenFull(value: unknown, reader: string): boolean {
  if (value === undefined || value === 'drop') return false;
  if (value === 'pause') return true;
  throw new BpfError(`${reader}: whenQueueFull must be 'drop' or 'pause', got ${String(value)}`, {
    errno: 0,
    operation: `create ${reader}`,
  });
}

/** Counters of a reader. */
export interface BatchReaderStats {
  /** Records handed to onBatch. */
  records: number;
  /** onBatch calls. */
  batches: number;
  /** Records taken from the kernel buffer but dropped: the queue to JS was full, or the reader stopped first. */
  dropped: number;
  /** Record bytes handed to onBatch (with 8-byte alignment padding). */
  bytes: number;
}

/** Reads a positive integer option or its default; throws naming the option. */
export function positiveInt(
  value: number | undefined,
  fallback: number,
  name: string,
  reader: string,
): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v <= 0) {
    throw new BpfError(`${reader}: ${name} must be a positive integer, got ${v}`, {
      errno: 0,
      operation: `create ${reader}`,
    });
  }
  return v;
}

/** Throws unless `map` has the libbpf type `type` and `options.onBatch` is a function. */
export function checkReaderArgs(
  map: BpfMap,
  options: { onBatch?: unknown },
  type: string,
  reader: string,
): void {
  if (map.type !== type) {
    throw new BpfError(`${reader} needs a ${type} map; '${map.name}' is ${map.type}`, {
      errno: 0,
      operation: `create ${reader}`,
      target: map.name,
    });
  }
  if (typeof options?.onBatch !== 'function') {
    throw new BpfError(`${reader}: options.onBatch must be a function`, {
      errno: 0,
      operation: `create ${reader}`,
      target: map.name,
    });
  }
}

/** A running reader's queue state, for diagnostics (`readerQueues()`). */
export interface ReaderQueueState {
  /** `ring buffer` or `perf buffer`. */
  kind: string;
  /** The BPF map read. */
  map: string;
  /** Records taken from the kernel buffer. */
  read: number;
  /** Records handed to JavaScript. */
  delivered: number;
  /** Records dropped because the queue to JavaScript was full. */
  dropped: number;
  /** Records taken from the kernel and not yet handed to JavaScript or dropped: the queue's depth now. */
  queued: number;
}

/** Readers between start() and stop(), so a diagnostics endpoint can list their queues without holding them. */
const runningReaders = new Set<BatchReader<RecordBatch>>();

/** The queue state of every running ring- and perf-buffer reader of this process. */
export function readerQueues(): ReaderQueueState[] {
  return [...runningReaders].map((r) => r.queueState());
}

/**
 * The lifecycle both readers share. `makeBatch` turns the native callback's arguments into the batch object:
 * the ArrayBuffer holds `arrays` u32 arrays of `stride` slots (offsets, lengths[, cpus]) followed by the records.
 */
export abstract class BatchReader<B extends RecordBatch> implements Releasable {
  readonly #native: NativeBatchReaderHandle;
  readonly #onBatch: (batch: B) => void;
  readonly #onError: ((error: BpfError) => void) | undefined;
  readonly #owner: ResourceOwner | undefined;
  readonly #mapName: string;
  readonly #kind: string;
  #state: 'idle' | 'running' | 'stopped' = 'idle';

  protected constructor(
    native: NativeBatchReaderHandle,
    map: BpfMap,
    options: BatchReaderOptions<B>,
    kind: string,
  ) {
    this.#native = native;
    this.#onBatch = options.onBatch;
    this.#onError = options.onError;
    this.#mapName = map.name;
    this.#kind = kind;
    this.#owner = owners.get(map);
    if (options.recycleBatches !== undefined && typeof options.recycleBatches !== 'boolean') {
      throw new BpfError(`${kind} reader: recycleBatches must be a boolean, got ${String(options.recycleBatches)}`, {
        errno: 0,
        operation: `create ${kind} reader`,
        target: map.name,
      });
    }
    if (options.recycleBatches) native.recycle();
  }

  /** Builds the batch handed to onBatch from the native layout. */
  protected abstract makeBatch(data: ArrayBuffer, count: number, dataBytes: number, stride: number): B;

  /** True between start() and stop(). */
  get running(): boolean {
    return this.#state === 'running';
  }

  /** Starts the polling thread; keeps the event loop alive until stop() (see unref()). */
  start(): this {
    if (this.#state === 'running') return this;
    if (this.#state === 'stopped') {
      throw new BpfError(`${this.#kind} reader for '${this.#mapName}' was stopped; create a new reader`, {
        errno: 0,
        operation: `start ${this.#kind} reader`,
        target: this.#mapName,
      });
    }
    const onBatch = this.#onBatch;
    const onError = this.#onError;
    const mapName = this.#mapName;
    const kind = this.#kind;
    const stop = (): void => this.stop();
    // The native side holds this closure (and through stop() this reader) only while running.
    this.#native.start((data, count, dataBytes, stride) => {
      if (data === null) {
        const error = new BpfError(`${kind} reader for '${mapName}' failed: ${errnoName(count)}`, {
          errno: count,
          operation: `poll ${kind}`,
          target: mapName,
        });
        stop();
        if (onError) onError(error);
        else process.emitWarning(error);
        return;
      }
      onBatch(this.makeBatch(data, count, dataBytes, stride));
    });
    this.#state = 'running';
    this.#owner?.track(this);
    runningReaders.add(this as unknown as BatchReader<RecordBatch>);
    return this;
  }

  /** Stops and joins the polling thread. Batches not yet delivered are dropped (counted). Idempotent. */
  stop(): void {
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopped';
    runningReaders.delete(this as unknown as BatchReader<RecordBatch>);
    this.#native.stop();
    this.#owner?.untrack(this);
  }

  /** This reader's queue state (see readerQueues()). */
  queueState(): ReaderQueueState {
    const s = this.#native.stats();
    return {
      kind: this.#kind,
      map: this.#mapName,
      read: s.read,
      delivered: s.records,
      dropped: s.dropped,
      queued: Math.max(0, s.read - s.records - s.dropped),
    };
  }

  /** Raw native counters. */
  protected nativeStats(): NativeReaderStats {
    return this.#native.stats();
  }

  /** Lets the process exit while the reader runs. */
  unref(): this {
    this.#native.unref();
    return this;
  }

  /** Undoes unref(). */
  ref(): this {
    this.#native.ref();
    return this;
  }

  /** Same as stop(); called when the owning object closes. */
  release(): void {
    this.stop();
  }
}

const owners = new WeakMap<BpfMap, ResourceOwner>();

/** Records which object owns a map, so readers stop when the object closes. */
export function setMapOwner(map: BpfMap, owner: ResourceOwner): void {
  owners.set(map, owner);
}
