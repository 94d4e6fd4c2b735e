import { describe, expect, it } from 'vitest';

import { formatIpv6, formatMac, writeIpv4, writeIpv6, writeMac } from '../src/index.js';

function v6(text: string): Buffer {
  const b = Buffer.alloc(16);
  writeIpv6(text, b);
  return b;
}

const hex = (h: string): Buffer => Buffer.from(h, 'hex');

describe('IPv6 text (RFC 5952)', () => {
  it.each([
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['00010000000000000000000000000000', '1::'],
    ['fd000077000000000000000000000001', 'fd00:77::1'],
    ['20010db8000000000000000000000000', '2001:db8::'],
    // Lower case, no leading zeros.
    ['20010DB800AB00000000000000000ABC', '2001:db8:ab::abc'],
    // A single zero group is not compressed.
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['00010000000100010001000100010001', '1:0:1:1:1:1:1:1'],
    // The longest run wins; on a tie, the first.
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['20010000000000010000000000000001', '2001:0:0:1::1'],
    ['fe80000000000000abcd00ef0012ff00', 'fe80::abcd:ef:12:ff00'],
    // IPv4-mapped as dotted quad; IPv4-compatible and NAT64 stay hex.
    ['00000000000000000000ffff0a000001', '::ffff:10.0.0.1'],
    ['00000000000000000000ffffc0a80101', '::ffff:192.168.1.1'],
    ['0000000000000000000000000a000001', '::a00:1'],
    ['0064ff9b0000000000000000c0000221', '64:ff9b::c000:221'],
    ['ffffffffffffffffffffffffffffffff', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ])('%s -> %s', (bytes, text) => {
    expect(formatIpv6(hex(bytes))).toBe(text);
    // The same bytes inside a larger buffer, at an offset.
    expect(formatIpv6(Buffer.concat([hex('aabbcc'), hex(bytes)]), 3)).toBe(text);
  });
});

describe('IPv6 text', () => {
  it.each([
    ['::', '::'],
    ['::1', '::1'],
    ['fd00::1', 'fd00::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:0db8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['1:0:1:0:1:0:1:0', '1:0:1:0:1:0:1:0'],
    ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['fe80::1%eth0', 'fe80::1'],
  ])('%s formats as %s (RFC 5952)', (input, expected) => {
    expect(formatIpv6(v6(input))).toBe(expected);
  });

  it('rejects invalid text', () => {
    expect(() => v6('1::2::3')).toThrow(/not an IPv6 address/);
  });
});

describe('IPv4 and MAC text', () => {
  it('writes and reads back', () => {
    const b = Buffer.alloc(10);
    writeIpv4('10.20.30.40', b, 0);
    writeMac('02:42:AC:11:00:02', b, 4);
    expect([...b.subarray(0, 4)]).toEqual([10, 20, 30, 40]);
    expect(formatMac(b, 4)).toBe('02:42:ac:11:00:02');
    expect(() => writeIpv4('10.0.0', b)).toThrow(/not an IPv4 address/);
    expect(() => writeMac('02:42', b)).toThrow(/not a MAC address/);
  });
});
