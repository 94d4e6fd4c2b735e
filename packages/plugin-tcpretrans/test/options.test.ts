import { describe, expect, it } from 'vitest';
import { TcpRetransOptionsError, parseTcpRetransOptions } from '../src/options.js';

describe('parseTcpRetransOptions', () => {
  it('accepts no options', () => {
    expect(parseTcpRetransOptions(undefined)).toEqual({});
    expect(parseTcpRetransOptions({})).toEqual({});
  });

  it('accepts every option', () => {
    const all = { flows: true, ringBufferBytes: 1 << 20, maxEventsPerSecondPerCpu: 0, netnsInode: 4026531840 };
    expect(parseTcpRetransOptions(all)).toEqual(all);
  });

  it('names the key and value of a bad ring-buffer size', () => {
    expect(() => parseTcpRetransOptions({ ringBufferBytes: 100_000 })).toThrow(
      /plugins\.tcpretrans\.ringBufferBytes: the ring buffer size must be a power of two .*\(got 100000\)/,
    );
    expect(() => parseTcpRetransOptions({ ringBufferBytes: 2048 })).toThrow(/at least one page/);
    expect(() => parseTcpRetransOptions({ ringBufferBytes: 2 ** 31 })).toThrow(/at most 1 GiB/);
  });

  it('rejects a negative or fractional rate limit and a non-boolean flows', () => {
    expect(() => parseTcpRetransOptions({ maxEventsPerSecondPerCpu: -1 })).toThrow(/maxEventsPerSecondPerCpu/);
    expect(() => parseTcpRetransOptions({ maxEventsPerSecondPerCpu: 1.5 })).toThrow(/maxEventsPerSecondPerCpu/);
    expect(() => parseTcpRetransOptions({ flows: 'yes' })).toThrow(/plugins\.tcpretrans\.flows: .*\(got "yes"\)/);
    expect(() => parseTcpRetransOptions({ netnsInode: 0 })).toThrow(/plugins\.tcpretrans\.netnsInode/);
  });

  it('rejects unknown keys, listing the allowed ones', () => {
    expect(() => parseTcpRetransOptions({ ringbuffer: 4096 })).toThrow(TcpRetransOptionsError);
    expect(() => parseTcpRetransOptions({ ringbuffer: 4096 })).toThrow(/allowed: flows, ringBufferBytes, maxEventsPerSecondPerCpu, netnsInode/);
  });
});
