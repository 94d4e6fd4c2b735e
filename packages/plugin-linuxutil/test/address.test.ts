import { describe, expect, it } from 'vitest';
import { formatEndpoint, formatIpv4, formatIpv6, isIpv4Mapped } from '../src/proc/address.js';

const v6 = (hex: string) => Uint8Array.from(Buffer.from(hex.replace(/[^0-9a-f]/gi, ''), 'hex'));

describe('formatIpv6 (RFC 5952)', () => {
  it.each([
    ['00000000000000000000000000000000', '::'],
    ['00000000000000000000000000000001', '::1'],
    ['fd000077000000000000000000000001', 'fd00:77::1'],
    ['20010db8000000000000000000000000', '2001:db8::'],
    // A single zero group is not compressed.
    ['20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    // The longest run wins; on a tie, the first.
    ['20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['20010000000000010000000000000001', '2001:0:0:1::1'],
    ['fe80000000000000abcd00ef0012ff00', 'fe80::abcd:ef:12:ff00'],
    ['00000000000000000000ffff0a000001', '::ffff:10.0.0.1'],
    // IPv4-compatible (not mapped) addresses stay hex.
    ['0000000000000000000000000a000001', '::a00:1'],
  ])('%s -> %s', (hex, text) => {
    expect(formatIpv6(v6(hex))).toBe(text);
  });

  it('refuses a byte array of the wrong length', () => {
    expect(() => formatIpv6(new Uint8Array(4))).toThrow(/16 bytes, got 4/);
    expect(() => formatIpv4(new Uint8Array(16))).toThrow(/4 bytes, got 16/);
  });
});

describe('formatEndpoint', () => {
  it('writes IPv4 as a.b.c.d:port', () => {
    expect(formatEndpoint(Uint8Array.from([10, 200, 0, 1]), 443)).toBe('10.200.0.1:443');
  });

  it('brackets IPv6 and unmaps IPv4-mapped addresses', () => {
    expect(formatEndpoint(v6('fd000077000000000000000000000002'), 80)).toBe('[fd00:77::2]:80');
    expect(formatEndpoint(v6('00000000000000000000ffff7f000001'), 8443)).toBe('127.0.0.1:8443');
    expect(isIpv4Mapped(v6('00000000000000000000ffff7f000001'))).toBe(true);
    expect(isIpv4Mapped(v6('00000000000000000001ffff7f000001'))).toBe(false);
  });
});
