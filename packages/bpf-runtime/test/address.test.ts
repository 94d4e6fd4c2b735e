import { describe, expect, it } from 'vitest';

import { formatIpv6, formatMac, writeIpv4, writeIpv6, writeMac } from '../src/address.js';

function v6(text: string): Buffer {
  const b = Buffer.alloc(16);
  writeIpv6(text, b);
  return b;
}

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
