import { describe, expect, it } from 'vitest';

import { decodeConstant, encodeConstant, type ConstantInfo } from '../src/constants.js';

const u16: ConstantInfo = { name: 'port', size: 2, kind: 'int', signed: false };
const i32: ConstantInfo = { name: 'ret', size: 4, kind: 'int', signed: true };
const u64: ConstantInfo = { name: 'big', size: 8, kind: 'int', signed: false };
const flag: ConstantInfo = { name: 'flag', size: 1, kind: 'bool', signed: false };
const tag: ConstantInfo = { name: 'tag', size: 4, kind: 'bytes', signed: false };

describe('encodeConstant', () => {
  it('encodes integers in host order with the constant size', () => {
    expect(encodeConstant(u16, 53)).toEqual(Buffer.from([53, 0]));
    expect(encodeConstant(i32, -2)).toEqual(Buffer.from([0xfe, 0xff, 0xff, 0xff]));
    expect(encodeConstant(u64, 2n ** 63n)).toEqual(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x80]));
    expect(encodeConstant(u64, 5)).toEqual(Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]));
  });

  it('encodes booleans', () => {
    expect(encodeConstant(flag, true)).toEqual(Buffer.from([1]));
    expect(encodeConstant(flag, 0)).toEqual(Buffer.from([0]));
    expect(() => encodeConstant(flag, 2)).toThrow(/is a bool/);
  });

  it('takes Buffers of exactly the constant size', () => {
    expect(encodeConstant(tag, Buffer.from('abcd'))).toEqual(Buffer.from('abcd'));
    expect(() => encodeConstant(tag, Buffer.from('abc'))).toThrow(/exactly 4 bytes, got a Buffer of 3/);
    expect(() => encodeConstant(tag, 1)).toThrow(/pass a Buffer of 4 bytes/);
  });

  it('names the constant and the allowed range when a value does not fit', () => {
    expect(() => encodeConstant(u16, 70000)).toThrow(
      "constant 'port': is a 2-byte unsigned integer; 70000 is outside [0, 65535]",
    );
    expect(() => encodeConstant(u16, -1)).toThrow(/outside \[0, 65535\]/);
    expect(() => encodeConstant(i32, 2 ** 31)).toThrow(/outside \[-2147483648, 2147483647\]/);
    expect(() => encodeConstant(u16, 1.5)).toThrow(/needs an integer/);
  });

  it('decodes what it encodes: numbers up to 4 bytes, bigints for 8, bools, Buffers for the rest', () => {
    const i64: ConstantInfo = { name: 'delta', size: 8, kind: 'int', signed: true };
    expect(decodeConstant(u16, encodeConstant(u16, 65535))).toBe(65535);
    expect(decodeConstant(i32, encodeConstant(i32, -7))).toBe(-7);
    expect(decodeConstant(u64, encodeConstant(u64, 2n ** 63n))).toBe(2n ** 63n);
    expect(decodeConstant(i64, encodeConstant(i64, -1n))).toBe(-1n);
    expect(decodeConstant(flag, encodeConstant(flag, true))).toBe(true);
    const bytes = Buffer.from('abcd');
    const decoded = decodeConstant(tag, bytes);
    expect(decoded).toEqual(bytes);
    expect(decoded).not.toBe(bytes);
  });
});
