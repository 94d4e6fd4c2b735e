// Struct layouts for map keys/values and ring-buffer records: C alignment rules, one compiled decoder per layout.
import { formatIpv4, formatIpv6, formatMac, writeIpv4, writeIpv6, writeMac } from './address.js';
import { hostIsLittleEndian } from './constants.js';

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

/**
 * The records of a reader batch (RingBufferReader's RecordBatch has this shape). Declared here rather than imported
 * so the layout code depends on no reader (map.ts imports this file, and the readers import map.ts).
 */
export interface RecordsView {
  readonly count: number;
  readonly buffer: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
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
  decodeBatch(batch: RecordsView): V[];
  /**
   * Decodes into an existing object (every field is assigned) and returns it: no allocation for numeric fields.
   * Throws RangeError if the buffer is too short.
   */
  decodeInto(target: V, buf: Buffer, offset?: number): V;
  /**
   * Calls `fn` for each record of a batch with one object that is reused: each call overwrites its fields, so
   * copy what must outlive the call. The fastest way to consume a batch (no allocation per record for numeric
   * fields). Throws if a record is shorter than the layout.
   */
  forEach(batch: RecordsView, fn: (record: V, index: number) => void): void;
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

/** A compiled reader: `b` and `v` view the same bytes (a Buffer and a DataView over it), `at` is the offset. */
type Helper = (b: Buffer, v: DataView, at: number) => unknown;

/** Internal entry of a layout: decodes without a bounds check, with a DataView the caller made once. */
const DECODE_AT = Symbol('retina.structDecodeAt');
type DecodeAt<V> = (b: Buffer, v: DataView, at: number) => V;

/** A DataView over exactly the bytes of `b`, so both take the same offsets. */
function viewOf(b: Buffer): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/**
 * Builds JS source reading type `t` at byte expression `at` from `b` (Buffer) and `v` (DataView over b); helpers
 * collects closures it needs. DataView getters compile to single loads in V8's optimizing tiers, where the Buffer
 * read methods are calls that a decoder of more than a few fields no longer inlines.
 */
function readExpr(t: FieldType, at: string, u64: U64Mode, packed: boolean, helpers: Helper[]): string {
  const le = hostIsLittleEndian();
  const LE = String(le);
  const hi = le ? `${at} + 4` : at;
  const lo = le ? at : `${at} + 4`;
  if (typeof t === 'string') {
    switch (t) {
      case 'u8':
        return `b[${at}]`;
      case 'i8':
        return `v.getInt8(${at})`;
      case 'bool':
        return `(b[${at}] !== 0)`;
      case 'u16':
        return `v.getUint16(${at}, ${LE})`;
      case 'i16':
        return `v.getInt16(${at}, ${LE})`;
      case 'be16':
        return `v.getUint16(${at}, false)`;
      case 'u32':
        return `v.getUint32(${at}, ${LE})`;
      case 'i32':
        return `v.getInt32(${at}, ${LE})`;
      case 'be32':
        return `v.getUint32(${at}, false)`;
      case 'u64':
        return u64 === 'bigint'
          ? `v.getBigUint64(${at}, ${LE})`
          : `(v.getUint32(${hi}, ${LE}) * 4294967296 + v.getUint32(${lo}, ${LE}))`;
      case 'i64':
        return u64 === 'bigint'
          ? `v.getBigInt64(${at}, ${LE})`
          : `(v.getInt32(${hi}, ${LE}) * 4294967296 + v.getUint32(${lo}, ${LE}))`;
      case 'be64':
        return u64 === 'bigint'
          ? `v.getBigUint64(${at}, false)`
          : `(v.getUint32(${at}, false) * 4294967296 + v.getUint32(${at} + 4, false))`;
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
    helper = (t as unknown as { [DECODE_AT]: Helper })[DECODE_AT];
  } else if ('array' in t) {
    const elem = compileReader(t.array, u64, packed);
    const step = sizeAlign(t.array, packed).size;
    const length = t.length;
    helper = (b, v, o) => {
      const out = new Array<unknown>(length);
      for (let i = 0; i < length; i++) out[i] = elem(b, v, o + i * step);
      return out;
    };
  } else if ('bytes' in t) {
    const n = t.bytes;
    helper = (b, _v, o) => Buffer.from(b.subarray(o, o + n));
  } else if ('string' in t) {
    const n = t.string;
    helper = (b, _v, o) => readCString(b, o, n);
  } else {
    throw new TypeError(`unknown field type ${describe(t)}`);
  }
  helpers.push(helper);
  return `h[${helpers.length - 1}](b, v, ${at})`;
}

/**
 * Builds JS source reading scalar `t` at byte `off` of a record through aligned typed-array views in host order
 * (`u8`, `u16`, `u32` over the batch; `o2`, `o4` the record's start in their units), or undefined for types that
 * need the DataView or a helper. For forEach on a little-endian host: one load per 32 bits, and no call. A u64 as
 * `number` is computed from its two halves, with no BigInt in between.
 */
function viewExpr(t: FieldType, off: number, u64: U64Mode): string | undefined {
  if (typeof t !== 'string') return undefined;
  const w16 = `u16[o2 + ${off >> 1}]`;
  const w32 = (k: number) => `u32[o4 + ${(off >> 2) + k}]`;
  // Byte swaps read their word once into the loop's scratch variable `w`.
  const swap32 = (word: string) =>
    `(w = ${word}, ((w & 0xff) << 24 | (w & 0xff00) << 8 | (w >>> 8) & 0xff00 | w >>> 24) >>> 0)`;
  switch (t) {
    case 'u8':
      return `u8[o + ${off}]`;
    case 'i8':
      return `(u8[o + ${off}] << 24 >> 24)`;
    case 'bool':
      return `(u8[o + ${off}] !== 0)`;
    case 'u16':
      return w16;
    case 'i16':
      return `(${w16} << 16 >> 16)`;
    case 'be16':
      return `(w = ${w16}, (w & 0xff) << 8 | w >>> 8)`;
    case 'u32':
      return w32(0);
    case 'i32':
      return `(${w32(0)} | 0)`;
    case 'be32':
      return swap32(w32(0));
    case 'u64':
      return u64 === 'number' ? `(${w32(1)} * 4294967296 + ${w32(0)})` : undefined;
    case 'i64':
      return u64 === 'number' ? `((${w32(1)} | 0) * 4294967296 + ${w32(0)})` : undefined;
    case 'be64':
      return u64 === 'number' ? `(${swap32(w32(0))} * 4294967296 + ${swap32(w32(1))})` : undefined;
    default:
      return undefined;
  }
}

/** The typed-array views forEach reads a batch buffer through, kept while batches come in the same buffer. */
interface BatchViews {
  of: Buffer | undefined;
  /** Whether the typed views may be used: a little-endian host, natural alignment, an 8-aligned buffer. */
  aligned: boolean;
  u8: Uint8Array;
  u16: Uint16Array;
  u32: Uint32Array;
  view: DataView;
}

/**
 * Compiles forEach for one layout: its own function (so V8 keeps type feedback, and optimized code, per layout
 * rather than one shared loop going megamorphic over every layout of the process), with the field reads written
 * out in the loop body: constant offsets from the record's index in the u8/u16/u32 views, no call per field and
 * none per record but the callback's. Records not aligned for the views take decodeIntoAt.
 */
function compileForEach<V extends object>(
  infos: readonly FieldInfo[],
  size: number,
  alignMask: number,
  u64: U64Mode,
  packed: boolean,
  helpers: Helper[],
  Target: new () => V,
  decodeIntoAt: (t: V, b: Buffer, v: DataView, o: number) => V,
): (batch: RecordsView, fn: (record: V, index: number) => void) => void {
  const viewsUsable = !packed && hostIsLittleEndian();
  // The views of the last batch buffer: an inline ring reader hands every batch the same buffer.
  const views: BatchViews = {
    of: undefined,
    aligned: false,
    u8: new Uint8Array(0),
    u16: new Uint16Array(0),
    u32: new Uint32Array(0),
    view: new DataView(new ArrayBuffer(0)),
  };
  const viewsFor = (b: Buffer): BatchViews => {
    if (b === views.of) return views;
    views.aligned = viewsUsable && (b.byteOffset & 7) === 0;
    views.u8 = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    views.u16 = new Uint16Array(b.buffer, b.byteOffset, views.aligned ? b.byteLength >>> 1 : 0);
    views.u32 = new Uint32Array(b.buffer, b.byteOffset, views.aligned ? b.byteLength >>> 2 : 0);
    views.view = viewOf(b);
    views.of = b;
    return views;
  };
  const fail = (batch: RecordsView, i: number): never => {
    if (i < 0) {
      throw new RangeError(
        `batch count ${batch.count} exceeds its ${batch.offsets.length} offsets or ${batch.lengths.length} lengths`,
      );
    }
    const at = batch.offsets[i]!;
    const length = batch.lengths[i]!;
    if (length < size) throw new RangeError(`record ${i} has ${length} bytes; the layout needs ${size}`);
    throw new RangeError(
      `record ${i} at offset ${at} (struct of ${size} bytes) is outside a buffer of ${batch.buffer.length}`,
    );
  };
  const assigns = infos.map(
    (f) =>
      `t[${JSON.stringify(f.name)}] = ${viewExpr(f.type, f.offset, u64) ?? readExpr(f.type, `o + ${f.offset}`, u64, packed, helpers)};`,
  );
  const source = `return function forEach(batch, fn) {
  let w = 0;
  const count = batch.count, b = batch.buffer, starts = batch.offsets, lengths = batch.lengths;
  if (count > starts.length || count > lengths.length) fail(batch, -1);
  if (count <= 0) return;
  const s = viewsFor(b);
  const u8 = s.u8, u16 = s.u16, u32 = s.u32, v = s.view, aligned = s.aligned;
  const limit = b.length - ${size};
  // One object for the batch, overwritten by each record.
  const t = new Target();
  for (let i = 0; i < count; i++) {
    const o = starts[i];
    if (lengths[i] < ${size} || o > limit) fail(batch, i);
    if (aligned && (o & ${alignMask}) === 0) {
      const o2 = o >>> 1, o4 = o >>> 2;
      ${assigns.join('\n      ')}
    } else {
      decodeIntoAt(t, b, v, o);
    }
    fn(t, i);
  }
};`;
  return new Function('h', 'fmt4', 'fmt6', 'fmtMac', 'Target', 'viewsFor', 'fail', 'decodeIntoAt', source)(
    helpers,
    formatIpv4,
    formatIpv6,
    formatMac,
    Target,
    viewsFor,
    fail,
    decodeIntoAt,
  ) as (batch: RecordsView, fn: (record: V, index: number) => void) => void;
}

function compileReader(t: FieldType, u64: U64Mode, packed: boolean): Helper {
  const helpers: Helper[] = [];
  const expr = readExpr(t, 'o', u64, packed, helpers);
  const factory = new Function(
    'h',
    'fmt4',
    'fmt6',
    'fmtMac',
    `return function read(b, v, o) { return ${expr}; };`,
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
  const decodeAt = new Function(
    'h',
    'fmt4',
    'fmt6',
    'fmtMac',
    `return function decodeAt(b, v, o) {\n  return { ${props.join(', ')} };\n};`,
  )(helpers, formatIpv4, formatIpv6, formatMac) as DecodeAt<StructValue<F, U>>;
  const assigns = infos.map(
    (f) => `t[${JSON.stringify(f.name)}] = ${readExpr(f.type, `o + ${f.offset}`, u64, packed, helpers)};`,
  );
  const decodeIntoAt = new Function(
    'h',
    'fmt4',
    'fmt6',
    'fmtMac',
    `return function decodeIntoAt(t, b, v, o) {\n  ${assigns.join('\n  ')}\n  return t;\n};`,
  )(helpers, formatIpv4, formatIpv6, formatMac) as (
    t: StructValue<F, U>,
    b: Buffer,
    v: DataView,
    o: number,
  ) => StructValue<F, U>;
  const alignMask = maxAlign - 1;
  // forEach's reused object. Its 64-bit fields start as a fraction so V8 gives them a double representation, whose
  // value is then overwritten in place; a field that first held an integer would instead box every new value in a
  // fresh heap number (one allocation per record, and young-generation collections at high rates). Unsigned 32-bit
  // fields too: their values from 2^31 on are no small integers, and the first such value would change the field's
  // representation, which throws away forEach's optimized code in the middle of a flood.
  const initial = infos.map((f) => {
    const t = f.type;
    const init =
      t === 'u64' || t === 'i64' || t === 'be64'
        ? u64 === 'number'
          ? '0.5'
          : '0n'
        : t === 'u32' || t === 'be32'
          ? '0.5'
          : t === 'bool'
            ? 'false'
            : typeof t === 'string' && !['ipv4', 'ipv6', 'mac'].includes(t)
              ? '0'
              : 'null';
    return `this[${JSON.stringify(f.name)}] = ${init};`;
  });
  const Target = new Function(
    `return function Record() {\n  ${initial.join('\n  ')}\n};`,
  )() as new () => StructValue<F, U>;
  const forEach = compileForEach(infos, size, alignMask, u64, packed, helpers, Target, decodeIntoAt);
  const checkBounds = (b: Buffer, o: number): void => {
    if (o < 0 || o + size > b.length) {
      throw new RangeError(`struct of ${size} bytes at offset ${o} is outside a buffer of ${b.length}`);
    }
  };
  const decode = (b: Buffer, o = 0): StructValue<F, U> => {
    checkBounds(b, o);
    return decodeAt(b, viewOf(b), o);
  };

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

  const layout: StructLayout<StructValue<F, U>> & {
    [LAYOUT]: true;
    [DECODE_AT]: DecodeAt<StructValue<F, U>>;
  } = {
    [LAYOUT]: true,
    [DECODE_AT]: decodeAt,
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
    decodeInto(target, buf, at = 0) {
      checkBounds(buf, at);
      return decodeIntoAt(target, buf, viewOf(buf), at);
    },
    forEach,
    decodeBatch(batch) {
      const out = new Array<StructValue<F, U>>(batch.count);
      const { buffer, offsets: starts, lengths } = batch;
      const view = viewOf(buffer);
      for (let i = 0; i < batch.count; i++) {
        const at = starts[i] ?? 0;
        if ((lengths[i] ?? 0) < size || at + size > buffer.length) {
          throw new RangeError(`record ${i} has ${lengths[i]} bytes; the layout needs ${size}`);
        }
        out[i] = decodeAt(buffer, view, at);
      }
      return out;
    },
  };
  return layout;
}
