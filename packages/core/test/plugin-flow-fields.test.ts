import { describe, expect, it } from 'vitest';
import { flowIp, IpVersion } from '../src/index.js';

describe('flowIp', () => {
  it('gives the addresses with the IP version of the record', () => {
    expect(flowIp('10.0.0.1', '10.0.0.2', 4)).toEqual({
      source: '10.0.0.1',
      destination: '10.0.0.2',
      ipVersion: IpVersion.IPv4,
    });
    expect(flowIp('fd00::1', 'fd00::2', 6)).toEqual({
      source: 'fd00::1',
      destination: 'fd00::2',
      ipVersion: IpVersion.IPv6,
    });
  });
});
