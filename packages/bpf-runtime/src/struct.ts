// Struct layouts for map keys/values and ring-buffer records: C alignment rules, one compiled decoder per layout.
import { formatIpv4, formatIpv6, formatMac, writeIpv4, writeIpv6, writeMac } from './address.js';
import { hostIsLittleEndian } from './constants.js';
import type { RecordBatch } from './ringbuf.js';

/**
 * Scalar field types. Unprefixed integers are in host byte order (as BPF writes them); `be*` are network order
 * (`__be16`, `__be32`, `__be64`) decoded to host numbers. `ipv4` is a `__be32`, `ipv6` a `struct in6_addr`
 * (16 bytes, 4-byte aligned), `mac` 6 bytes: all decoded to text.
 */
export type ScalarType =
  | 'u8'
  | 'u16'
  | 'u32'
  | 'u64'
  | 'i8'
  | 'i16'
  | 'i32'
  | 'i64'
  | 'be16'
  | 'be32'
  | 'be64'
  | 'bool'
  | 'ipv4'
  | 'ipv6'
  | 'mac';

/** A fixed-length C array (`__u32 x[4]`), decoded to a JS array. */
export interface ArrayField {
  readonly array: FieldType;
  readonly length: number;
}

/** Raw bytes (`__u8 x[n]`), decoded to a Buffer copy. */
export interface BytesField {
  readonly bytes: number;
}

/** A NUL-padded C string (`char comm[16]`), decoded to a string. */
export interface StringField {
  readonly string: number;
}

/** Any field type, including a nested layout made by defineStruct(). */
export type FieldType = ScalarType | ArrayField | BytesField | StringField | StructLayout<object>;

/** The field list given to defineStruct(), in C declaration order. */
export type StructFields = Readonly<Record<string, FieldType>>;

/** How 64-bit integers decode: `bigint` (exact) or `number` (exact up to 2^53, faster). */
export type U64Mode = 'bigint' | 'number';

type Decoded<T, U extends U64Mode> = T extends 'u64' | 'i64' | 'be64'
  ? U extends 'number'
    ? number
    : bigint
  : T extends ScalarType
    ? T extends 'bool'
      ? boolean
      : T extends 'ipv4' | 'ipv6' | 'mac'
        ? string
        : number
    : T extends ArrayField
      ? Decoded<T['array'], U>[]
      : T extends BytesField
        ? Buffer
        : T extends StringField
          ? string
          : T extends StructLayout<infer V>
            ? V
            : never;

/** The decoded JS object for a field list. */
export type StructValue<F extends StructFields, U extends U64Mode = 'bigint'> = {
  -readonly [K in keyof F]: Decoded<F[K], U>;
};

type EncodeField<T> = T extends number | bigint
  ? number | bigint
  : T extends string | boolean
    ? T
    : T extends Buffer
      ? Uint8Array
      : T extends readonly (infer E)[]
        ? readonly EncodeField<E>[]
        : T extends object
          ? StructInput<T>
          : T;

/** Input accepted by encode(): every field optional (missing fields are zero), 64-bit fields as number or bigint. */
export type StructInput<V> = { [K in keyof V]?: EncodeField<V[K]> };

/** Where a field sits in the layout. */
export interface FieldInfo {
  readonly name: string;
  readonly type: FieldType;
  readonly offset: number;
  readonly size: number;
  readonly align: number;
}

/** A compiled struct layout. */
export interface StructLayout<V extends object> {
  /** Size in bytes, including tail padding (sizeof). */
  readonly size: number;
  /** Alignment in bytes (alignof). */
  readonly align: number;
  /** Byte offset of each field. */
  readonly offsets: { readonly [K in keyof V]: number };
  /** Field details in declaration order. */
  readonly fields: readonly FieldInfo[];
  /** Decodes one struct at `offset`; throws RangeError if the buffer is too short. */
  decode(buf: Buffer, offset?: number): V;
  /** Encodes to a new zero-padded Buffer of `size` bytes. */
  encode(value: StructInput<V>): Buffer;
  /** Encodes into `buf` at `offset` (the struct's bytes are zeroed first). */
  encodeInto(value: StructInput<V>, buf: Buffer, offset?: number): void;
  /** Decodes every record of a ring-buffer batch; throws if a record is shorter than the layout. */
  decodeBatch(batch: RecordBatch): V[];
}

/** Options of defineStruct(). */
export interface StructOptions<U extends U64Mode> {
  /** Decode 64-bit integers as `bigint` (default) or `number`. */
  u64?: U;
  /** No padding between fields (`__attribute__((packed))`). */
  packed?: boolean;
}

const SCALARS: Record<ScalarType, { size: number; align: number }> = {
  u8: { size: 1, align: 1 },
  i8: { size: 1, align: 1 },
  bool: { size: 1, align: 1 },
  u16: { size: 2, align: 2 },
  i16: { size: 2, align: 2 },
  be16: { size: 2, align: 2 },
  u32: { size: 4, align: 4 },
  i32: { size: 4, align: 4 },
  be32: { size: 4, align: 4 },
  ipv4: { size: 4, align: 4 },
  u64: { size: 8, align: 8 },
  i64: { size: 8, align: 8 },
  be64: { size: 8, align: 8 },
  ipv6: { size: 16, align: 4 },
  mac: { size: 6, align: 1 },
};

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;
const LAYOUT = Symbol('retina.structLayout');

function isLayout(t: FieldType): t is StructLayout<object> {
  return typeof t === 'object' && t !== null && LAYOUT in t;
}

function describe(t: FieldType): string {
  return typeof t === 'string' ? t : JSON.stringify(t);
}

function sizeAlign(t: FieldType, packed: boolean): { size: number; align: number } {
  let result: { size: number; align: number };
  if (typeof t === 'string') {
    const s = SCALARS[t];
    if (!s) throw new TypeError(`unknown field type '${t}'; use one of ${Object.keys(SCALARS).join(', ')}`);
    result = s;
  } else if (isLayout(t)) {
    result = { size: t.size, align: t.align };
  } else if ('array' in t) {
    if (!Number.isInteger(t.length) || t.length < 0)
      throw new TypeError(`array length must be a non-negative integer`);
    const e = sizeAlign(t.array, packed);
    result = { size: e.size * t.length, align: e.align };
  } else if ('bytes' in t) {
    if (!Number.isInteger(t.bytes) || t.bytes < 0)
      throw new TypeError(`bytes must be a non-negative integer`);
    result = { size: t.bytes, align: 1 };
  } else if ('string' in t) {
    if (!Number.isInteger(t.string) || t.string < 0)
      throw new TypeError(`string must be a non-negative integer`);
    result = { size: t.string, align: 1 };
  } else {
    throw new TypeError(`unknown field type ${describe(t)}`);
  }
  return packed ? { size: result.size, align: 1 } : result;
}

function alignUp(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

/** Text of a NUL-padded C string. */
function readCString(b: Buffer, at: number, n: number): string {
  let end = at;
  const limit = at + n;
  while (end < limit && b[end] !== 0) end++;
  return b.toString('utf8', at, end);
}

type Helper = (b: Buffer, at: number) => unknown;

/** Builds JS source for reading type `t` at byte expression `at`; helpers collects closures it needs. */
function readExpr(t: FieldType, at: string, u64: U64Mode, packed: boolean, helpers: Helper[]): string {
  const E = hostIsLittleEndian() ? 'LE' : 'BE';
  const hi = E === 'LE' ? `${at} + 4` : at;
  const lo = E === 'LE' ? at : `${at} + 4`;
  if (typeof t === 'string') {
    switch (t) {
      case 'u8':
        return `b[${at}]`;
      case 'i8':
        return `b.readInt8(${at})`;
      case 'bool':
        return `(b[${at}] !== 0)`;
      case 'u16':
        return `b.readUInt16${E}(${at})`;
      case 'i16':
        return `b.readInt16${E}(${at})`;
      case 'be16':
        return `b.readUInt16BE(${at})`;
      case 'u32':
        return `b.readUInt32${E}(${at})`;
      case 'i32':
        return `b.readInt32${E}(${at})`;
      case 'be32':
        return `b.readUInt32BE(${at})`;
      case 'u64':
        return u64 === 'bigint'
          ? `b.readBigUInt64${E}(${at})`
          : `(b.readUInt32${E}(${hi}) * 4294967296 + b.readUInt32${E}(${lo}))`;
      case 'i64':
        return u64 === 'bigint'
          ? `b.readBigInt64${E}(${at})`
          : `(b.readInt32${E}(${hi}) * 4294967296 + b.readUInt32${E}(${lo}))`;
      case 'be64':
        return u64 === 'bigint'
          ? `b.readBigUInt64BE(${at})`
          : `(b.readUInt32BE(${at}) * 4294967296 + b.readUInt32BE(${at} + 4))`;
      case 'ipv4':
        return `fmt4(b, ${at})`;
      case 'ipv6':
        return `fmt6(b, ${at})`;
      case 'mac':
        return `fmtMac(b, ${at})`;
    }
  }
  let helper: Helper;
  if (isLayout(t)) {
    helper = (b, o) => t.decode(b, o);
  } else if ('array' in t) {
    const elem = compileReader(t.array, u64, packed);
    const step = sizeAlign(t.array, packed).size;
    const length = t.length;
    helper = (b, o) => {
      const out = new Array<unknown>(length);
      for (let i = 0; i < length; i++) out[i] = elem(b, o + i * step);
      return out;
    };
  } else if ('bytes' in t) {
    const n = t.bytes;
    helper = (b, o) => Buffer.from(b.subarray(o, o + n));
  } else if ('string' in t) {
    const n = t.string;
    helper = (b, o) => readCString(b, o, n);
  } else {
    throw new TypeError(`unknown field type ${describe(t)}`);
  }
  helpers.push(helper);
  return `h[${helpers.length - 1}](b, ${at})`;
}

function compileReader(t: FieldType, u64: U64Mode, packed: boolean): Helper {
  const helpers: Helper[] = [];
  const expr = readExpr(t, 'o', u64, packed, helpers);
  const factory = new Function(
    'h',
    'fmt4',
    'fmt6',
    'fmtMac',
    `return function read(b, o) { return ${expr}; };`,
  );
  return factory(helpers, formatIpv4, formatIpv6, formatMac) as Helper;
}

function toBigInt(name: string, v: unknown): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  throw new TypeError(`field '${name}': expected an integer (number or bigint), got ${String(v)}`);
}

function toNumber(name: string, v: unknown): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  throw new TypeError(`field '${name}': expected an integer, got ${String(v)}`);
}

function writeField(name: string, t: FieldType, v: unknown, b: Buffer, at: number, packed: boolean): void {
  if (v === undefined || v === null) return;
  const le = hostIsLittleEndian();
  if (typeof t === 'string') {
    switch (t) {
      case 'u8':
        b.writeUInt8(toNumber(name, v), at);
        return;
      case 'i8':
        b.writeInt8(toNumber(name, v), at);
        return;
      case 'bool':
        b[at] = v ? 1 : 0;
        return;
      case 'u16':
        if (le) b.writeUInt16LE(toNumber(name, v), at);
        else b.writeUInt16BE(toNumber(name, v), at);
        return;
      case 'i16':
        if (le) b.writeInt16LE(toNumber(name, v), at);
        else b.writeInt16BE(toNumber(name, v), at);
        return;
      case 'be16':
        b.writeUInt16BE(toNumber(name, v), at);
        return;
      case 'u32':
        if (le) b.writeUInt32LE(toNumber(name, v), at);
        else b.writeUInt32BE(toNumber(name, v), at);
        return;
      case 'i32':
        if (le) b.writeInt32LE(toNumber(name, v), at);
        else b.writeInt32BE(toNumber(name, v), at);
        return;
      case 'be32':
        b.writeUInt32BE(toNumber(name, v), at);
        return;
      case 'u64':
        if (le) b.writeBigUInt64LE(toBigInt(name, v), at);
        else b.writeBigUInt64BE(toBigInt(name, v), at);
        return;
      case 'i64':
        if (le) b.writeBigInt64LE(toBigInt(name, v), at);
        else b.writeBigInt64BE(toBigInt(name, v), at);
        return;
      case 'be64':
        b.writeBigUInt64BE(toBigInt(name, v), at);
        return;
      case 'ipv4':
        writeIpv4(String(v), b, at);
        return;
      case 'ipv6':
        writeIpv6(String(v), b, at);
        return;
      case 'mac':
        writeMac(String(v), b, at);
        return;
    }
  }
  if (isLayout(t)) {
    t.encodeInto(v as StructInput<object>, b, at);
  } else if ('array' in t) {
    if (!Array.isArray(v)) throw new TypeError(`field '${name}': expected an array of ${t.length}`);
    if (v.length > t.length)
      throw new TypeError(`field '${name}': ${v.length} elements for an array of ${t.length}`);
    const step = sizeAlign(t.array, packed).size;
    v.forEach((e, i) => writeField(`${name}[${i}]`, t.array, e, b, at + i * step, packed));
  } else if ('bytes' in t) {
    if (!(v instanceof Uint8Array)) throw new TypeError(`field '${name}': expected a Buffer or Uint8Array`);
    if (v.length > t.bytes)
      throw new TypeError(`field '${name}': ${v.length} bytes for a field of ${t.bytes}`);
    b.set(v, at);
  } else if ('string' in t) {
    const bytes = Buffer.from(String(v), 'utf8');
    if (bytes.length > t.string) {
      throw new TypeError(`field '${name}': ${bytes.length} bytes of text for a field of ${t.string}`);
    }
    b.set(bytes, at);
  }
}

/**
 * Describes a C struct: field offsets follow C alignment rules (each field aligned to its own alignment, the
 * size rounded up to the largest one), unless `packed`. Fields are listed in declaration order.
 *
 * ```ts
 * const Event = defineStruct({ ts: 'u64', pid: 'u32', saddr: 'ipv4', sport: 'be16', comm: { string: 16 } });
 * const e = Event.decode(buf); // { ts: 123n, pid: 42, saddr: '10.0.0.1', sport: 53, comm: 'node' }
 * ```
 */
export function defineStruct<const F extends StructFields, U extends U64Mode = 'bigint'>(
  fields: F,
  options: StructOptions<U> = {},
): StructLayout<StructValue<F, U>> {
  const packed = options.packed ?? false;
  const u64: U64Mode = options.u64 ?? 'bigint';
  const infos: FieldInfo[] = [];
  let offset = 0;
  let maxAlign = 1;
  for (const [name, type] of Object.entries(fields)) {
    if (!IDENTIFIER.test(name)) throw new TypeError(`field name '${name}' must be a JavaScript identifier`);
    const { size, align } = sizeAlign(type, packed);
    offset = alignUp(offset, align);
    infos.push({ name, type, offset, size, align });
    offset += size;
    maxAlign = Math.max(maxAlign, align);
  }
  const size = alignUp(offset, maxAlign);

  const helpers: Helper[] = [];
  const props = infos.map(
    (f) => `${JSON.stringify(f.name)}: ${readExpr(f.type, `o + ${f.offset}`, u64, packed, helpers)}`,
  );
  const source =
    `return function decode(b, o = 0) {\n` +
    `  if (o < 0 || o + ${size} > b.length) throw new RangeError('struct of ${size} bytes at offset ' + o + ' is outside a buffer of ' + b.length);\n` +
    `  return { ${props.join(', ')} };\n};`;
  const decode = new Function('h', 'fmt4', 'fmt6', 'fmtMac', source)(
    helpers,
    formatIpv4,
    formatIpv6,
    formatMac,
  ) as (b: Buffer, o?: number) => StructValue<F, U>;

  const offsets = Object.fromEntries(infos.map((f) => [f.name, f.offset])) as { [K in keyof F]: number };

  const encodeInto = (value: StructInput<StructValue<F, U>>, buf: Buffer, at = 0): void => {
    if (at < 0 || at + size > buf.length) {
      throw new RangeError(`struct of ${size} bytes at offset ${at} is outside a buffer of ${buf.length}`);
    }
    buf.fill(0, at, at + size);
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      if (!(key in offsets)) {
        throw new TypeError(`unknown field '${key}'; the layout has ${infos.map((f) => f.name).join(', ')}`);
      }
    }
    for (const f of infos) writeField(f.name, f.type, record[f.name], buf, at + f.offset, packed);
  };

  const layout: StructLayout<StructValue<F, U>> & { [LAYOUT]: true } = {
    [LAYOUT]: true,
    size,
    align: maxAlign,
    offsets,
    fields: infos,
    decode,
    encodeInto,
    encode(value) {
      const buf = Buffer.alloc(size);
      encodeInto(value, buf, 0);
      return buf;
    },
    decodeBatch(batch) {
      const out = new Array<StructValue<F, U>>(batch.count);
      const { buffer, offsets: starts, lengths } = batch;
      for (let i = 0; i < batch.count; i++) {
        if ((lengths[i] ?? 0) < size) {
          throw new RangeError(`record ${i} has ${lengths[i]} bytes; the layout needs ${size}`);
        }
        out[i] = decode(buffer, starts[i]);
      }
      return out;
    },
  };
  return layout;
}
