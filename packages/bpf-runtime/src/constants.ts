import { BpfError } from './errors.js';

/** A `const volatile` global of a BPF object, settable before load. */
export interface ConstantInfo {
  name: string;
  /** Size in bytes. */
  size: number;
  /** `int` (integers and enums), `bool`, or `bytes` (arrays, structs). */
  kind: 'int' | 'bool' | 'bytes';
  /** Whether an `int` constant is signed. */
  signed: boolean;
}

/** Values accepted by BpfObject.setConstant(). */
export type ConstantValue = number | bigint | boolean | Buffer;

/** A global variable of a BPF object: a `.rodata` constant, or a `.data` / `.bss` variable. */
export interface GlobalInfo extends ConstantInfo {
  /** ELF section: `.rodata`, `.data`, `.bss` (or a named `.data.*` / `.bss.*` / `.rodata.*`). */
  section: string;
}

/** Decodes the bytes of a global: integers up to 4 bytes to number, 8-byte ones to bigint, bools, else a copy. */
export function decodeConstant(info: ConstantInfo, bytes: Buffer): ConstantValue {
  if (info.kind === 'bool') return bytes[0] !== 0;
  if (info.kind !== 'int' || ![1, 2, 4, 8].includes(info.size)) return Buffer.from(bytes);
  const le = hostIsLittleEndian();
  if (info.size === 8) {
    if (info.signed) return le ? bytes.readBigInt64LE(0) : bytes.readBigInt64BE(0);
    return le ? bytes.readBigUInt64LE(0) : bytes.readBigUInt64BE(0);
  }
  if (info.signed) return le ? bytes.readIntLE(0, info.size) : bytes.readIntBE(0, info.size);
  return le ? bytes.readUIntLE(0, info.size) : bytes.readUIntBE(0, info.size);
}

function invalid(name: string, message: string): BpfError {
  return new BpfError(`constant '${name}': ${message}`, {
    errno: 0,
    operation: 'set constant',
    target: name,
  });
}

/** Encodes `value` as the bytes of constant `info` (host byte order, as the BPF program reads it). */
export function encodeConstant(info: ConstantInfo, value: ConstantValue): Buffer {
  const { name, size } = info;
  if (Buffer.isBuffer(value)) {
    if (value.length !== size) {
      throw invalid(name, `needs exactly ${size} bytes, got a Buffer of ${value.length}`);
    }
    return Buffer.from(value);
  }
  if (info.kind === 'bytes') {
    throw invalid(name, `is a ${size}-byte array or struct: pass a Buffer of ${size} bytes`);
  }
  let big: bigint;
  if (typeof value === 'boolean') {
    big = value ? 1n : 0n;
  } else if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw invalid(name, `needs an integer, got ${value}`);
    big = BigInt(value);
  } else if (typeof value === 'bigint') {
    big = value;
  } else {
    throw invalid(name, `unsupported value type ${typeof value}; use number, bigint, boolean or Buffer`);
  }
  if (info.kind === 'bool' && big !== 0n && big !== 1n) {
    throw invalid(name, `is a bool: pass true/false (or 0/1), got ${String(value)}`);
  }
  if (![1, 2, 4, 8].includes(size)) throw invalid(name, `has an unsupported integer size of ${size} bytes`);
  const bits = BigInt(size * 8);
  const min = info.signed ? -(1n << (bits - 1n)) : 0n;
  const max = info.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (big < min || big > max) {
    const sign = info.signed ? 'signed' : 'unsigned';
    throw invalid(name, `is a ${size}-byte ${sign} integer; ${String(value)} is outside [${min}, ${max}]`);
  }
  const out = Buffer.alloc(size);
  const littleEndian = hostIsLittleEndian();
  if (size === 8) {
    if (info.signed) {
      if (littleEndian) out.writeBigInt64LE(big);
      else out.writeBigInt64BE(big);
    } else if (littleEndian) out.writeBigUInt64LE(big);
    else out.writeBigUInt64BE(big);
  } else if (info.signed) {
    if (littleEndian) out.writeIntLE(Number(big), 0, size);
    else out.writeIntBE(Number(big), 0, size);
  } else if (littleEndian) out.writeUIntLE(Number(big), 0, size);
  else out.writeUIntBE(Number(big), 0, size);
  return out;
}

/** True on little-endian hosts (BPF uses the host's byte order). */
export function hostIsLittleEndian(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}
