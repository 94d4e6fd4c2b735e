import { hostIsLittleEndian } from './constants.js';
import { BpfError, BpfNotSupportedError } from './errors.js';
import { native, type NativeMapHandle } from './native.js';
import type { StructLayout } from './struct.js';

/** Update semantics: `any` (create or replace), `noexist` (create only), `exist` (replace only). */
export type MapUpdateFlag = 'any' | 'noexist' | 'exist';

const UPDATE_FLAGS: Record<MapUpdateFlag, number> = { any: 0, noexist: 1, exist: 2 };

/** Options of lookupBatch() / lookupAndDeleteBatch(). */
export interface BatchOptions {
  /** Entries per kernel call (default 256). */
  batchSize?: number;
}

/** Number of possible CPUs: the length of every per-CPU value. */
export function possibleCpus(): number {
  return native().possibleCpus();
}

/** Sums a u64 (host byte order) at `offset` across per-CPU values. */
export function sumPerCpuU64(values: readonly Buffer[], offset = 0): bigint {
  let total = 0n;
  const le = hostIsLittleEndian();
  for (const v of values) total += le ? v.readBigUInt64LE(offset) : v.readBigUInt64BE(offset);
  return total;
}

/**
 * Sums every numeric field of a per-CPU struct value across CPUs; non-numeric fields are taken from CPU 0.
 * Typical use: `sumPerCpuStruct(map.lookupPerCpu(key), Counters)` for `{ packets: 'u64', bytes: 'u64' }`.
 */
export function sumPerCpuStruct<V extends object>(values: readonly Buffer[], layout: StructLayout<V>): V {
  if (values.length === 0) throw new RangeError('no per-CPU values to sum');
  const decoded = values.map((v) => layout.decode(v, 0));
  const first = decoded[0] as Record<string, unknown>;
  const out: Record<string, unknown> = { ...first };
  for (const key of Object.keys(first)) {
    const v0 = first[key];
    if (typeof v0 === 'bigint') {
      out[key] = decoded.reduce((acc, d) => acc + ((d as Record<string, unknown>)[key] as bigint), 0n);
    } else if (typeof v0 === 'number') {
      out[key] = decoded.reduce((acc, d) => acc + ((d as Record<string, unknown>)[key] as number), 0);
    }
  }
  return out as V;
}

/** What sumPerCpuFields reads of a struct declaration (a defineStruct() layout has both). */
export interface PerCpuLayout<K extends string> {
  readonly size: number;
  readonly offsets: { readonly [F in K]: number };
}

/**
 * Sums the u64 fields `fields` of `layout` (host byte order) over one map key's per-CPU values; no values give
 * zeros. Unlike sumPerCpuStruct it decodes only those fields and checks each value's length: a value shorter than
 * the struct means the BPF object and the package that decodes it are out of step, and a RangeError names the CPU
 * and `struct`, the C struct's name.
 */
export function sumPerCpuFields<K extends string>(
  values: readonly Uint8Array[],
  layout: PerCpuLayout<K>,
  struct: string,
  fields: readonly K[],
): Record<K, bigint> {
  const total = Object.fromEntries(fields.map((f) => [f, 0n])) as Record<K, bigint>;
  const le = hostIsLittleEndian();
  for (const [cpu, value] of values.entries()) {
    if (value.byteLength < layout.size) {
      throw new RangeError(
        `per-CPU value of CPU ${cpu} has ${value.byteLength} bytes; ${struct} needs ${layout.size} ` +
          '(the BPF object and this package are out of step: rebuild the package)',
      );
    }
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    for (const f of fields) total[f] += view.getBigUint64(layout.offsets[f], le);
  }
  return total;
}

/** Something that closes with the map (the owning object's liveness check). */
interface MapOwner {
  assertOpen(operation: string): void;
}

/**
 * A BPF map: keys and values are Buffers of exactly keySize / valueSize bytes (use defineStruct() layouts to
 * build and read them). Per-CPU maps take and return one value per possible CPU.
 */
export class BpfMap {
  readonly #native: NativeMapHandle;
  readonly #owner: MapOwner | undefined;

  /** Wraps a native map; obtain maps from BpfObject.map() or BpfMap.fromPinned(). */
  constructor(handle: NativeMapHandle, owner?: MapOwner) {
    this.#native = handle;
    this.#owner = owner;
  }

  /** Opens a map pinned in bpffs (e.g. one shared by another plugin). Close it with close(). */
  static fromPinned(path: string): BpfMap {
    return new BpfMap(native().NativeMap.fromPinned(path));
  }

  /** Number of possible CPUs (length of per-CPU values). */
  static possibleCpus(): number {
    return possibleCpus();
  }

  /** Map name (kernel names keep 15 characters). */
  get name(): string {
    return this.#native.name;
  }

  /** libbpf's type name: `hash`, `array`, `percpu_array`, `ringbuf`, ... */
  get type(): string {
    return this.#native.typeName;
  }

  /** Key size in bytes. */
  get keySize(): number {
    return this.#native.keySize;
  }

  /** Value size in bytes (of one CPU's value for per-CPU maps). */
  get valueSize(): number {
    return this.#native.valueSize;
  }

  /** Maximum number of entries. */
  get maxEntries(): number {
    return this.#native.maxEntries;
  }

  /** Map file descriptor (-1 once closed). */
  get fd(): number {
    return this.#native.fd;
  }

  /** Kernel map id. */
  get id(): number {
    return this.#native.id;
  }

  /** True for per-CPU maps (values are per possible CPU). */
  get perCpu(): boolean {
    return this.#native.perCpu;
  }

  /** The native handle (used by readers). */
  get handle(): NativeMapHandle {
    this.#check('use');
    return this.#native;
  }

  #check(operation: string): void {
    this.#owner?.assertOpen(`${operation} on map '${this.name}'`);
  }

  #key(key: Buffer, operation: string): Buffer {
    this.#check(operation);
    if (!Buffer.isBuffer(key) || key.length !== this.keySize) {
      throw new BpfError(
        `map '${this.name}': ${operation} needs a key of ${this.keySize} bytes, got ${Buffer.isBuffer(key) ? `${key.length} bytes` : typeof key}`,
        { errno: 0, operation, target: this.name },
      );
    }
    return key;
  }

  #value(value: Buffer, operation: string): Buffer {
    const expected = this.#native.valueBufferSize;
    if (!Buffer.isBuffer(value) || value.length !== expected) {
      const perCpu = this.perCpu ? ` (per-CPU: use updatePerCpu() with ${possibleCpus()} values)` : '';
      throw new BpfError(
        `map '${this.name}': ${operation} needs a value of ${expected} bytes${perCpu}, got ${Buffer.isBuffer(value) ? `${value.length} bytes` : typeof value}`,
        { errno: 0, operation, target: this.name },
      );
    }
    return value;
  }

  /** Value for `key`, or undefined. Per-CPU maps return all CPUs' values concatenated (see lookupPerCpu()). */
  lookup(key: Buffer): Buffer | undefined {
    return this.#native.lookup(this.#key(key, 'lookup'));
  }

  /** Looks up and removes `key` atomically (hash maps, queues, stacks); undefined when absent. */
  lookupAndDelete(key: Buffer): Buffer | undefined {
    return this.#native.lookupAndDelete(this.#key(key, 'lookup and delete'));
  }

  /** Creates or replaces `key` according to `flags`. */
  update(key: Buffer, value: Buffer, flags: MapUpdateFlag = 'any'): void {
    const k = this.#key(key, 'update');
    const code = UPDATE_FLAGS[flags];
    if (code === undefined) {
      throw new BpfError(
        `map '${this.name}': update flag must be any, noexist or exist, got '${String(flags)}'`,
        {
          errno: 0,
          operation: 'update',
          target: this.name,
        },
      );
    }
    this.#native.update(k, this.#value(value, 'update'), code);
  }

  /** Removes `key`; false when it was not present. */
  delete(key: Buffer): boolean {
    return this.#native.delete(this.#key(key, 'delete'));
  }

  /** Iterates keys. Entries added or removed meanwhile may be missed or seen twice (kernel semantics). */
  *keys(): IterableIterator<Buffer> {
    this.#check('iterate keys');
    let prev: Buffer | null = null;
    for (;;) {
      const next: Buffer | null = this.#native.nextKey(prev);
      if (next === null) return;
      yield next;
      prev = next;
    }
  }

  /** Iterates [key, value] pairs (one lookup per key; keys deleted meanwhile are skipped). */
  *entries(): IterableIterator<[Buffer, Buffer]> {
    for (const key of this.keys()) {
      const value = this.#native.lookup(key);
      if (value !== undefined) yield [key, value];
    }
  }

  /** Per-CPU value of `key`, one Buffer of valueSize bytes per possible CPU; undefined when absent. */
  lookupPerCpu(key: Buffer): Buffer[] | undefined {
    if (!this.perCpu) {
      throw new BpfError(`map '${this.name}' (${this.type}) is not a per-CPU map; use lookup()`, {
        errno: 0,
        operation: 'lookup per CPU',
        target: this.name,
      });
    }
    const raw = this.lookup(key);
    return raw === undefined ? undefined : this.splitPerCpu(raw);
  }

  /** Writes one value per possible CPU. */
  updatePerCpu(key: Buffer, values: readonly Buffer[], flags: MapUpdateFlag = 'any'): void {
    const cpus = possibleCpus();
    if (!this.perCpu || values.length !== cpus) {
      throw new BpfError(
        `map '${this.name}': updatePerCpu needs a per-CPU map and ${cpus} values, got ${values.length} for a ${this.type} map`,
        { errno: 0, operation: 'update per CPU', target: this.name },
      );
    }
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const raw = Buffer.alloc(stride * cpus);
    values.forEach((v, i) => {
      if (v.length !== this.valueSize) {
        throw new BpfError(
          `map '${this.name}': CPU ${i} value has ${v.length} bytes, needs ${this.valueSize}`,
          {
            errno: 0,
            operation: 'update per CPU',
            target: this.name,
          },
        );
      }
      v.copy(raw, i * stride);
    });
    this.update(key, raw, flags);
  }

  /** Splits a concatenated per-CPU value (as lookup() and batch values return it) into one view per CPU. */
  splitPerCpu(raw: Buffer): Buffer[] {
    const stride = Math.ceil(this.valueSize / 8) * 8;
    const out: Buffer[] = [];
    for (let off = 0; off + this.valueSize <= raw.length; off += stride)
      out.push(raw.subarray(off, off + this.valueSize));
    return out;
  }

  #batch(deleteAfter: boolean, options: BatchOptions): Array<[Buffer, Buffer]> {
    const operation = deleteAfter ? 'lookup and delete batch' : 'lookup batch';
    this.#check(operation);
    const batchSize = options.batchSize ?? 256;
    if (!Number.isInteger(batchSize) || batchSize <= 0) {
      throw new BpfError(`map '${this.name}': batchSize must be a positive integer, got ${batchSize}`, {
        errno: 0,
        operation,
        target: this.name,
      });
    }
    const out: Array<[Buffer, Buffer]> = [];
    const valueBytes = this.#native.valueBufferSize;
    let token: Buffer | null = null;
    for (;;) {
      let result;
      try {
        result = this.#native.batch(deleteAfter, token, batchSize);
      } catch (err) {
        if (
          err instanceof BpfError &&
          (err.code === 'EINVAL' || err.code === 'ENOTSUPP' || err.code === 'EOPNOTSUPP') &&
          token === null
        ) {
          throw new BpfNotSupportedError(
            `map '${this.name}' (${this.type}): ${operation} is not supported here (needs Linux 5.6+; lookup batch works on hash and array maps, lookup-and-delete batch on hash maps); iterate with entries() instead`,
            {
              errno: err.errno,
              operation,
              target: this.name,
              feature: `${operation} on ${this.type} maps`,
              minKernel: '5.6',
              cause: err,
            },
          );
        }
        throw err;
      }
      for (let i = 0; i < result.count; i++) {
        out.push([
          result.keys.subarray(i * this.keySize, (i + 1) * this.keySize),
          result.values.subarray(i * valueBytes, (i + 1) * valueBytes),
        ]);
      }
      if (result.done) return out;
      token = result.token;
    }
  }

  /** Reads every entry with BPF_MAP_LOOKUP_BATCH (Linux 5.6+). Per-CPU values come concatenated (splitPerCpu()). */
  lookupBatch(options: BatchOptions = {}): Array<[Buffer, Buffer]> {
    return this.#batch(false, options);
  }

  /** Reads and removes every entry with BPF_MAP_LOOKUP_AND_DELETE_BATCH (hash maps, Linux 5.6+). */
  lookupAndDeleteBatch(options: BatchOptions = {}): Array<[Buffer, Buffer]> {
    return this.#batch(true, options);
  }

  /** Pins the map at `path` in bpffs (see probes.ensureBpffs()). */
  pin(path: string): void {
    this.#check('pin');
    this.#native.pin(path);
  }

  /** Closes a map opened with fromPinned(); maps of an object close with the object. */
  close(): void {
    this.#native.close();
  }
}
