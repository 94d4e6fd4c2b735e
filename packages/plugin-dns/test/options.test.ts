import { describe, expect, it } from 'vitest';
import { endianness } from 'node:os';
import { DnsOptionsError, dnsPorts, dnsPortsConstant, parseDnsOptions } from '../src/options.js';

describe('parseDnsOptions', () => {
  it('applies the defaults', () => {
    expect(parseDnsOptions(undefined)).toEqual({
      options: {
        captureBytes: 512,
        ringBufferBytes: 1 << 20,
        maxQueries: 500,
        maxQueryTypes: 64,
        maxResponses: 1000,
        queryTrailingDot: false,
        emitFlows: 'auto',
        duplicateWindowMs: 5,
        requestTimeoutMs: 10_000,
        maxPendingRequests: 65_536,
      },
      unknownKeys: [],
    });
  });

  it('keeps valid settings and reports unknown keys', () => {
    const { options, unknownKeys } = parseDnsOptions({
      port: 5353,
      maxQueries: 0,
      emitFlows: true,
      netns: 'x',
      bogus: 1,
    });
    expect([dnsPorts(options)[0], options.maxQueries, options.emitFlows, options.netns]).toEqual([
      5353,
      0,
      true,
      'x',
    ]);
    expect(unknownKeys).toEqual(['bogus']);
  });

  it('names every bad key, its value and the rule', () => {
    let message = '';
    try {
      parseDnsOptions({ captureBytes: 4096, ringBufferBytes: 5000, emitFlows: 'sometimes' });
    } catch (err) {
      expect(err).toBeInstanceOf(DnsOptionsError);
      message = (err as Error).message;
    }
    expect(message).toContain('plugins.dns.captureBytes must be at most 2048 (got 4096)');
    expect(message).toContain('plugins.dns.ringBufferBytes must be a power of two (got 5000)');
    expect(message).toContain('plugins.dns.emitFlows must be true, false or "auto" (got "sometimes")');
  });

  it('watches 53 and 5353 by default; ports lists them, port is the one-port shorthand', () => {
    expect(dnsPorts(parseDnsOptions(undefined).options)).toEqual([53, 5353]);
    expect(dnsPorts(parseDnsOptions({ ports: [53, 5353, 8053] }).options)).toEqual([53, 5353, 8053]);
    expect(dnsPorts(parseDnsOptions({ port: 5300 }).options)).toEqual([5300]);
  });

  it('bounds the port list and names what is wrong', () => {
    const fail = (raw: unknown) => {
      try {
        parseDnsOptions(raw);
      } catch (err) {
        expect(err).toBeInstanceOf(DnsOptionsError);
        return (err as Error).message;
      }
      return 'no error';
    };
    expect(fail({ ports: [] })).toContain('plugins.dns.ports must list at least one port (got [])');
    expect(fail({ ports: [1, 2, 3, 4, 5, 6, 7, 8, 9] })).toContain('plugins.dns.ports must list at most 8 ports');
    expect(fail({ ports: [53, 53] })).toContain('plugins.dns.ports must not list a port twice (got [53,53])');
    expect(fail({ ports: [53, 70000] })).toContain('plugins.dns.ports.1 must be at most 65535 (got 70000)');
    expect(fail({ ports: 53 })).toContain('plugins.dns.ports must be a list of port numbers (got 53)');
    expect(fail({ ports: [53], port: 53 })).toContain(
      'plugins.dns.port cannot be set together with ports; list every port in ports (got 53)',
    );
  });

  it('encodes the ports as the kernel constant: eight u16 slots in host order, unused ones 0', () => {
    const buf = dnsPortsConstant([53, 5353]);
    expect(buf).toHaveLength(16);
    const read = (i: number) => (endianness() === 'LE' ? buf.readUInt16LE(i * 2) : buf.readUInt16BE(i * 2));
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(read)).toEqual([53, 5353, 0, 0, 0, 0, 0, 0]);
    expect(() => dnsPortsConstant([1, 2, 3, 4, 5, 6, 7, 8, 9])).toThrow(RangeError);
  });

  it('refuses a non-mapping', () => {
    expect(() => parseDnsOptions([1])).toThrow(/must be a mapping of options, got \[1\]/);
  });
});
