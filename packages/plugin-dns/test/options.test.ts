import { describe, expect, it } from 'vitest';
import { DnsOptionsError, parseDnsOptions } from '../src/options.js';

describe('parseDnsOptions', () => {
  it('applies the defaults', () => {
    expect(parseDnsOptions(undefined)).toEqual({
      options: {
        port: 53,
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
    expect([options.port, options.maxQueries, options.emitFlows, options.netns]).toEqual([
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

  it('refuses a non-mapping', () => {
    expect(() => parseDnsOptions([1])).toThrow(/must be a mapping of options, got \[1\]/);
  });
});
