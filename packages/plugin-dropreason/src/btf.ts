/**
 * A small reader for the kernel's BTF (BPF Type Format, Documentation/bpf/btf.rst): just enough to find enum
 * types by name and list their members, so drop-reason names come from the running kernel, not from a table
 * compiled into this package.
 *
 * Layout: a header (magic 0xEB9F, version 1, flags, hdr_len, then type and string section offsets relative to the
 * end of the header), a type section of variable-length records, and a string section of NUL-terminated names.
 * Each type record is `{ u32 name_off; u32 info; u32 size_or_type }` followed by kind-specific data whose length
 * depends on the kind and `vlen` (bits 0-15 of info); the kind is bits 24-28 and `kind_flag` bit 31. To reach a
 * given enum every earlier record must be skipped, so every kind's trailing size is known here.
 *
 * Split BTF (kernel modules, /sys/kernel/btf/<module>) refers to the base (vmlinux) strings for offsets below the
 * base string section's length; pass the parsed base to read it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

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

const BTF_MAGIC = 0xeb9f;
const HEADER_MIN = 24;
const TYPE_HEADER = 12;

/** Thrown for malformed or unsupported BTF; the message names the offending field and value. */
export class BtfParseError extends Error {
  override readonly name = 'BtfParseError';
}

/** One enumerator: its name and value (bigint: ENUM64 values may exceed 2^53). */
export interface BtfEnumMember {
  readonly name: string;
  readonly value: bigint;
}

/** An enum type read from BTF. */
export interface BtfEnum {
  readonly name: string;
  /** Type id inside the BTF blob it came from. */
  readonly typeId: number;
  /** Size in bytes (4 for ENUM, usually 8 for ENUM64). */
  readonly size: number;
  /** kind_flag: members are signed. */
  readonly signed: boolean;
  readonly members: readonly BtfEnumMember[];
}

/** A parsed BTF blob: header facts plus a string reader. Type records are walked on demand. */
export interface Btf {
  readonly littleEndian: boolean;
  readonly typeCount: number;
  /** First type id of this blob (1, or after the base's last id for split BTF). */
  readonly firstTypeId: number;
  readonly stringsLength: number;
  /** Reads the NUL-terminated string at a BTF name offset (base strings first for split BTF). */
  string(offset: number): string;
  /** @internal walks every type record. */
  readonly forEachType: (visit: (rec: TypeRecord) => void) => void;
}

/** One raw type record as seen while walking (offsets are absolute in the blob). */
export interface TypeRecord {
  readonly id: number;
  readonly kind: number;
  readonly nameOff: number;
  readonly vlen: number;
  readonly kindFlag: boolean;
  readonly sizeOrType: number;
  /** Absolute offset of the kind-specific data that follows the 12-byte header. */
  readonly dataOffset: number;
}

/** Bytes of kind-specific data after the common 12-byte header, or undefined for a kind this reader does not know. */
export function trailingSize(kind: number, vlen: number): number | undefined {
  switch (kind) {
    case BtfKind.INT:
      return 4;
    case BtfKind.PTR:
    case BtfKind.FWD:
    case BtfKind.TYPEDEF:
    case BtfKind.VOLATILE:
    case BtfKind.CONST:
    case BtfKind.RESTRICT:
    case BtfKind.FUNC:
    case BtfKind.FLOAT:
    case BtfKind.TYPE_TAG:
      return 0;
    case BtfKind.ARRAY:
      return 12;
    case BtfKind.STRUCT:
    case BtfKind.UNION:
      return 12 * vlen;
    case BtfKind.ENUM:
      return 8 * vlen;
    case BtfKind.FUNC_PROTO:
      return 8 * vlen;
    case BtfKind.VAR:
      return 4;
    case BtfKind.DATASEC:
      return 12 * vlen;
    case BtfKind.DECL_TAG:
      return 4;
    case BtfKind.ENUM64:
      return 12 * vlen;
    default:
      return undefined;
  }
}

/** Parses a raw BTF blob (as in /sys/kernel/btf/*). `base` is the vmlinux BTF when `buf` is a module's split BTF. */
export function parseBtf(buf: Uint8Array, opts: { base?: Btf } = {}): Btf {
  if (buf.byteLength < HEADER_MIN) {
    throw new BtfParseError(`BTF: ${buf.byteLength} bytes is shorter than the ${HEADER_MIN}-byte header`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let littleEndian: boolean;
  if (view.getUint16(0, true) === BTF_MAGIC) littleEndian = true;
  else if (view.getUint16(0, false) === BTF_MAGIC) littleEndian = false;
  else {
    const magic = view.getUint16(0, true).toString(16);
    throw new BtfParseError(
      `BTF: magic 0x${magic} is not 0xeb9f; is this a raw BTF file such as /sys/kernel/btf/vmlinux?`,
    );
  }
  const version = view.getUint8(2);
  if (version !== 1) throw new BtfParseError(`BTF: version ${version} is not supported (only version 1 is)`);
  const hdrLen = view.getUint32(4, littleEndian);
  if (hdrLen < HEADER_MIN || hdrLen > buf.byteLength) {
    throw new BtfParseError(`BTF: hdr_len ${hdrLen} is outside 24..${buf.byteLength}`);
  }
  const typeOff = view.getUint32(8, littleEndian);
  const typeLen = view.getUint32(12, littleEndian);
  const strOff = view.getUint32(16, littleEndian);
  const strLen = view.getUint32(20, littleEndian);
  const typeStart = hdrLen + typeOff;
  const typeEnd = typeStart + typeLen;
  const strStart = hdrLen + strOff;
  const strEnd = strStart + strLen;
  if (typeEnd > buf.byteLength) {
    throw new BtfParseError(
      `BTF: type section (type_off ${typeOff}, type_len ${typeLen}) runs past the end (${buf.byteLength} bytes)`,
    );
  }
  if (strEnd > buf.byteLength) {
    throw new BtfParseError(
      `BTF: string section (str_off ${strOff}, str_len ${strLen}) runs past the end (${buf.byteLength} bytes)`,
    );
  }
  if (strLen > 0 && buf[strStart] !== 0 && !opts.base) {
    throw new BtfParseError('BTF: the string section must start with an empty string (NUL byte)');
  }

  const base = opts.base;
  const baseStrLen = base ? base.stringsLength : 0;
  const firstTypeId = base ? base.firstTypeId + base.typeCount : 1;
  const decoder = new TextDecoder('utf-8');

  const ownString = (off: number): string => {
    if (off < 0 || off >= strLen) {
      throw new BtfParseError(
        `BTF: string offset ${off + baseStrLen} is outside the string section (length ${strLen + baseStrLen})`,
      );
    }
    const start = strStart + off;
    let end = start;
    while (end < strEnd && buf[end] !== 0) end++;
    return decoder.decode(buf.subarray(start, end));
  };
  const string = (off: number): string => {
    if (base && off < baseStrLen) return base.string(off);
    return ownString(off - baseStrLen);
  };

  // Count the records once: it validates the whole type section and gives split BTF its first id.
  const walk = (visit?: (rec: TypeRecord) => void): number => {
    let pos = typeStart;
    let id = firstTypeId;
    while (pos < typeEnd) {
      if (pos + TYPE_HEADER > typeEnd) {
        throw new BtfParseError(
          `BTF: type ${id} header at byte ${pos} is cut off by the end of the type section`,
        );
      }
      const nameOff = view.getUint32(pos, littleEndian);
      const info = view.getUint32(pos + 4, littleEndian);
      const sizeOrType = view.getUint32(pos + 8, littleEndian);
      const kind = (info >>> 24) & 0x1f;
      const vlen = info & 0xffff;
      const extra = trailingSize(kind, vlen);
      if (extra === undefined) {
        throw new BtfParseError(
          `BTF: type ${id} has kind ${kind}, which this reader does not know (known: 1..19)`,
        );
      }
      const dataOffset = pos + TYPE_HEADER;
      if (dataOffset + extra > typeEnd) {
        throw new BtfParseError(
          `BTF: type ${id} (kind ${kind}, vlen ${vlen}) runs past the end of the type section`,
        );
      }
      visit?.({ id, kind, nameOff, vlen, kindFlag: info >>> 31 === 1, sizeOrType, dataOffset });
      pos = dataOffset + extra;
      id++;
    }
    return id - firstTypeId;
  };
  const typeCount = walk();

  return {
    littleEndian,
    typeCount,
    firstTypeId,
    stringsLength: baseStrLen + strLen,
    string,
    forEachType: (visit) => {
      walk(visit);
    },
  };
}

function readEnum(btf: Btf, view: DataView, rec: TypeRecord): BtfEnum {
  const members: BtfEnumMember[] = [];
  const le = btf.littleEndian;
  if (rec.kind === BtfKind.ENUM) {
    for (let i = 0; i < rec.vlen; i++) {
      const at = rec.dataOffset + i * 8;
      const raw = rec.kindFlag ? view.getInt32(at + 4, le) : view.getUint32(at + 4, le);
      members.push({ name: btf.string(view.getUint32(at, le)), value: BigInt(raw) });
    }
  } else {
    for (let i = 0; i < rec.vlen; i++) {
      const at = rec.dataOffset + i * 12;
      const lo = BigInt(view.getUint32(at + 4, le));
      const hi = BigInt(view.getUint32(at + 8, le));
      const unsigned = (hi << 32n) | lo;
      members.push({
        name: btf.string(view.getUint32(at, le)),
        value: rec.kindFlag ? BigInt.asIntN(64, unsigned) : unsigned,
      });
    }
  }
  return {
    name: btf.string(rec.nameOff),
    typeId: rec.id,
    size: rec.sizeOrType,
    signed: rec.kindFlag,
    members,
  };
}

/**
 * Finds named enum types (ENUM or ENUM64) in a BTF blob. `match` is a list of exact names or a predicate on the
 * name. Returns them by name; when two enums share a name the first one wins.
 */
export function findBtfEnums(
  buf: Uint8Array,
  match: readonly string[] | ((name: string) => boolean),
  opts: { base?: Btf } = {},
): Map<string, BtfEnum> {
  const btf = parseBtf(buf, opts);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const wanted = typeof match === 'function' ? match : (name: string) => match.includes(name);
  const found = new Map<string, BtfEnum>();
  btf.forEachType((rec) => {
    if ((rec.kind !== BtfKind.ENUM && rec.kind !== BtfKind.ENUM64) || rec.nameOff === 0) return;
    const name = btf.string(rec.nameOff);
    if (!found.has(name) && wanted(name)) found.set(name, readEnum(btf, view, rec));
  });
  return found;
}

/** The kernel's own BTF, exposed by kernels built with CONFIG_DEBUG_INFO_BTF. */
export const KERNEL_BTF_PATH = '/sys/kernel/btf/vmlinux';

/** Reads enums by name from the kernel BTF file (default /sys/kernel/btf/vmlinux). */
export function readKernelEnums(
  names: readonly string[],
  path: string = KERNEL_BTF_PATH,
): Map<string, BtfEnum> {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new BtfParseError(
      `BTF: cannot read ${path} (${code}); the kernel needs CONFIG_DEBUG_INFO_BTF=y and sysfs mounted`,
    );
  }
  try {
    return findBtfEnums(buf, names);
  } catch (err) {
    if (err instanceof BtfParseError) throw new BtfParseError(`${path}: ${err.message}`);
    throw err;
  }
}

/** An enum found in a kernel module's BTF, with the module's name. */
export interface ModuleBtfEnum extends BtfEnum {
  readonly module: string;
}

/**
 * Reads enums whose names satisfy `match` from every loaded module's split BTF (`<dir>/<module>`, vmlinux itself
 * excluded). Modules whose BTF cannot be read or parsed are skipped: a module can unload while we read.
 */
export function readModuleEnums(
  match: (name: string) => boolean,
  opts: { dir?: string; basePath?: string } = {},
): ModuleBtfEnum[] {
  const dir = opts.dir ?? '/sys/kernel/btf';
  const basePath = opts.basePath ?? join(dir, 'vmlinux');
  const base = parseBtf(readFileSync(basePath));
  const out: ModuleBtfEnum[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const module of entries.sort()) {
    if (join(dir, module) === basePath) continue;
    try {
      for (const e of findBtfEnums(readFileSync(join(dir, module)), match, { base }).values())
        out.push({ ...e, module });
    } catch {
      // unreadable or unloaded meanwhile: nothing to learn from it
    }
  }
  return out;
}
