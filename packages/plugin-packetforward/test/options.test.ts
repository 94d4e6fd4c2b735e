import { describe, expect, it } from 'vitest';
import { PacketForwardOptionsError, parsePacketForwardOptions } from '../src/options.js';

describe('parsePacketForwardOptions', () => {
  it('accepts no options (the default-route interface is used)', () => {
    expect(parsePacketForwardOptions(undefined)).toEqual({});
    expect(parsePacketForwardOptions({})).toEqual({});
  });

  it('accepts a list of interface names', () => {
    expect(parsePacketForwardOptions({ interfaces: ['eth0', 'ens5.100', 'bond0'] })).toEqual({
      interfaces: ['eth0', 'ens5.100', 'bond0'],
    });
  });

  it('names the bad entry and its value', () => {
    expect(() => parsePacketForwardOptions({ interfaces: ['eth0', 'a/b'] })).toThrow(
      /plugins\.packetforward\.interfaces\.1: interface names contain no white space.*\(got "a\/b"\)/,
    );
    expect(() => parsePacketForwardOptions({ interfaces: ['averyveryverylongname'] })).toThrow(/at most 15 characters/);
    expect(() => parsePacketForwardOptions({ interfaces: [] })).toThrow(/list at least one interface/);
    expect(() => parsePacketForwardOptions({ interfaces: 'eth0' })).toThrow(/plugins\.packetforward\.interfaces: .*\(got "eth0"\)/);
  });

  it('rejects unknown keys so a typo does not pass silently', () => {
    expect(() => parsePacketForwardOptions({ interface: ['eth0'] })).toThrow(PacketForwardOptionsError);
    expect(() => parsePacketForwardOptions({ interface: ['eth0'] })).toThrow(/"interface".*\(allowed: interfaces\)/);
  });

  it('rejects an interface listed twice (it would be counted twice)', () => {
    expect(() => parsePacketForwardOptions({ interfaces: ['eth0', 'eth0'] })).toThrow(/"eth0" is listed twice/);
  });
});
