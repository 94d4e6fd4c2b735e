/**
 * Builds small raw BTF blobs for tests, byte by byte from the format description, so the reader is checked
 * against independently written data (every kind, both byte orders, split BTF).
 */
/** BTF kinds, as numbered in include/uapi/linux/btf.h. */
export const BtfKind = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

export interface TypeSpec {
  kind: number;
  name?: string;
  vlen?: number;
  kindFlag?: boolean;
  sizeOrType?: number;
  /** Trailing data as u32 words; names inside are given as { str: '...' }. */
  data?: Array<number | { str: string }>;
}

export interface BuildOptions {
  littleEndian?: boolean;
  /** Extra header bytes beyond the 24 that version 1 defines (newer kernels may add fields). */
  extraHeader?: number;
  /** For split BTF: the base's string section, so names found there are referenced by their base offset. */
  baseStrings?: Buffer;
  /** Override the version byte. */
  version?: number;
}

/** Builds a raw BTF blob holding `types` in order (ids from 1, or after the base for split BTF). */
export function buildBtf(types: TypeSpec[], opts: BuildOptions = {}): Buffer {
  const le = opts.littleEndian ?? true;
  const baseStrings = opts.baseStrings;
  const own: Buffer[] = baseStrings ? [] : [Buffer.from([0])];
  let ownLen = baseStrings ? 0 : 1;
  const index = new Map<string, number>();
  const str = (s: string): number => {
    if (s === '') return 0;
    if (baseStrings) {
      const at = findString(baseStrings, s);
      if (at >= 0) return at;
    }
    const known = index.get(s);
    if (known !== undefined) return known;
    const off = (baseStrings ? baseStrings.length : 0) + ownLen;
    const b = Buffer.from(`${s}\0`, 'utf8');
    own.push(b);
    ownLen += b.length;
    index.set(s, off);
    return off;
  };

  const words: number[] = [];
  for (const t of types) {
    const info = ((t.kindFlag ? 1 : 0) << 31) | ((t.kind & 0x1f) << 24) | ((t.vlen ?? 0) & 0xffff);
    words.push(str(t.name ?? ''), info >>> 0, t.sizeOrType ?? 0);
    for (const w of t.data ?? []) words.push(typeof w === 'number' ? w >>> 0 : str(w.str));
  }
  const typeSec = Buffer.alloc(words.length * 4);
  words.forEach((w, i) => (le ? typeSec.writeUInt32LE(w, i * 4) : typeSec.writeUInt32BE(w, i * 4)));
  const strSec = Buffer.concat(own);

  const hdrLen = 24 + (opts.extraHeader ?? 0);
  const hdr = Buffer.alloc(hdrLen);
  const w16 = (v: number, o: number) => (le ? hdr.writeUInt16LE(v, o) : hdr.writeUInt16BE(v, o));
  const w32 = (v: number, o: number) => (le ? hdr.writeUInt32LE(v, o) : hdr.writeUInt32BE(v, o));
  w16(0xeb9f, 0);
  hdr.writeUInt8(opts.version ?? 1, 2);
  hdr.writeUInt8(0, 3);
  w32(hdrLen, 4);
  w32(0, 8);
  w32(typeSec.length, 12);
  w32(typeSec.length, 16);
  w32(strSec.length, 20);
  return Buffer.concat([hdr, typeSec, strSec]);
}

function findString(strings: Buffer, s: string): number {
  const needle = Buffer.from(`${s}\0`, 'utf8');
  for (let i = 0; i + needle.length <= strings.length; i++) {
    if ((i === 0 || strings[i - 1] === 0) && strings.subarray(i, i + needle.length).equals(needle)) return i;
  }
  return -1;
}

/** The string section of a blob built by buildBtf (for use as `baseStrings`). */
export function stringSection(blob: Buffer, littleEndian = true): Buffer {
  const r32 = (o: number) => (littleEndian ? blob.readUInt32LE(o) : blob.readUInt32BE(o));
  const hdrLen = r32(4);
  return blob.subarray(hdrLen + r32(16), hdrLen + r32(16) + r32(20));
}

/** ENUM member words: name, value. */
export function enumData(members: Array<[string, number]>): Array<number | { str: string }> {
  return members.flatMap(([name, value]) => [{ str: name }, value >>> 0]);
}

/** ENUM64 member words: name, low 32 bits, high 32 bits. */
export function enum64Data(members: Array<[string, bigint]>): Array<number | { str: string }> {
  return members.flatMap(([name, value]) => {
    const u = BigInt.asUintN(64, value);
    return [{ str: name }, Number(u & 0xffffffffn), Number(u >> 32n)];
  });
}
