import { BpfError, errnoName } from './errors.js';
import type { Releasable, ResourceOwner } from './link.js';
import type { BpfMap } from './map.js';
import { native, type NativeRingBufferHandle } from './native.js';

/**
 * Records delivered in one callback. Record `i` is `buffer.subarray(offsets[i], offsets[i] + lengths[i])`; offsets
 * are 8-byte aligned. The three views share one ArrayBuffer that belongs to the callee (it is not reused).
 */
export interface RecordBatch {
  count: number;
  buffer: Buffer;
  offsets: Uint32Array;
  lengths: Uint32Array;
}

/** Options of RingBufferReader. */
export interface RingBufferReaderOptions {
  /** Called once per batch on the JS thread. */
  onBatch: (batch: RecordBatch) => void;
  /** Called if the polling thread fails (the reader is then stopped). Default: a process warning. */
  onError?: (error: BpfError) => void;
  /** Records per batch at most (default 4096). */
  maxBatch?: number;
  /** Bytes per batch at most (default 1 MiB); a larger single record still goes out alone. */
  maxBatchBytes?: number;
  /** Batches that may wait for JS before records are dropped (default 16). */
  queueCapacity?: number;
}

/** Counters of a reader. */
export interface RingBufferStats {
  /** Records handed to onBatch. */
  records: number;
  /** onBatch calls. */
  batches: number;
  /** Records taken from the ring but dropped: the queue to JS was full, or the reader stopped first. */
  dropped: number;
  /** Record bytes handed to onBatch (with 8-byte alignment padding). */
  bytes: number;
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v <= 0) {
    throw new BpfError(`RingBufferReader: ${name} must be a positive integer, got ${v}`, {
      errno: 0,
      operation: 'create ring buffer reader',
    });
  }
  return v;
}

/**
 * Reads a BPF_MAP_TYPE_RINGBUF map on a native thread and delivers records to JS in batches. The thread never
 * blocks on JS: when `queueCapacity` batches are waiting, further records are counted in `dropped`.
 */
export class RingBufferReader implements Releasable {
  readonly #native: NativeRingBufferHandle;
  readonly #options: RingBufferReaderOptions;
  readonly #owner: ResourceOwner | undefined;
  readonly #mapName: string;
  #state: 'idle' | 'running' | 'stopped' = 'idle';

  /** Prepares a reader for `map` (a ringbuf map of a loaded object); call start() to begin. */
  constructor(map: BpfMap, options: RingBufferReaderOptions) {
    if (map.type !== 'ringbuf') {
      throw new BpfError(`RingBufferReader needs a ringbuf map; '${map.name}' is ${map.type}`, {
        errno: 0,
        operation: 'create ring buffer reader',
        target: map.name,
      });
    }
    if (typeof options?.onBatch !== 'function') {
      throw new BpfError('RingBufferReader: options.onBatch must be a function', {
        errno: 0,
        operation: 'create ring buffer reader',
        target: map.name,
      });
    }
    this.#options = options;
    this.#mapName = map.name;
    this.#native = new (native().NativeRingBuffer)(
      map.handle,
      positiveInt(options.maxBatch, 4096, 'maxBatch'),
      positiveInt(options.maxBatchBytes, 1 << 20, 'maxBatchBytes'),
      positiveInt(options.queueCapacity, 16, 'queueCapacity'),
    );
    this.#owner = ownerOf(map);
  }

  /** True between start() and stop(). */
  get running(): boolean {
    return this.#state === 'running';
  }

  /** Starts the polling thread; keeps the event loop alive until stop() (see unref()). */
  start(): this {
    if (this.#state === 'running') return this;
    if (this.#state === 'stopped') {
      throw new BpfError(`RingBufferReader for '${this.#mapName}' was stopped; create a new reader`, {
        errno: 0,
        operation: 'start ring buffer reader',
        target: this.#mapName,
      });
    }
    const { onBatch } = this.#options;
    const onError = this.#options.onError;
    const mapName = this.#mapName;
    const stop = (): void => this.stop();
    // The native side holds this closure (and through stop() this reader) only while running.
    this.#native.start((data, count, dataBytes) => {
      if (data === null) {
        const error = new BpfError(`ring buffer reader for '${mapName}' failed: ${errnoName(count)}`, {
          errno: count,
          operation: 'poll ring buffer',
          target: mapName,
        });
        stop();
        if (onError) onError(error);
        else process.emitWarning(error);
        return;
      }
      onBatch({
        count,
        buffer: Buffer.from(data, 0, dataBytes),
        offsets: new Uint32Array(data, dataBytes, count),
        lengths: new Uint32Array(data, dataBytes + count * 4, count),
      });
    });
    this.#state = 'running';
    this.#owner?.track(this);
    return this;
  }

  /** Stops and joins the polling thread. Batches not yet delivered are dropped (counted). Idempotent. */
  stop(): void {
    if (this.#state !== 'running') {
      this.#state = 'stopped';
      return;
    }
    this.#state = 'stopped';
    this.#native.stop();
    this.#owner?.untrack(this);
  }

  /** Counters since creation. */
  stats(): RingBufferStats {
    const s = this.#native.stats();
    return { records: s.records, batches: s.batches, dropped: s.dropped, bytes: s.bytes };
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

function ownerOf(map: BpfMap): ResourceOwner | undefined {
  return owners.get(map);
}
