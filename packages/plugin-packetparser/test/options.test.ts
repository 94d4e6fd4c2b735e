import { describe, expect, it } from 'vitest';
import { createLogger, createMetricsModule, InMemoryIpCache, parseConfig } from '@retina-ts/core';
import {
  DEFAULT_RING_BUFFER_BYTES,
  PacketParserOptionsError,
  parsePacketParserOptions,
  ringBufferBytes,
} from '../src/options.js';
import { PacketParserPlugin } from '../src/plugin.js';
import plugin from '../src/index.js';

describe('parsePacketParserOptions', () => {
  it('accepts the documented keys', () => {
    expect(parsePacketParserOptions(undefined)).toEqual({});
    expect(
      parsePacketParserOptions({
        interfaces: ['veth1', 'veth2'],
        hostInterface: 'eth0',
        ipsOfInterest: ['10.0.0.1', 'fd00::1'],
      }),
    ).toEqual({
      interfaces: ['veth1', 'veth2'],
      hostInterface: 'eth0',
      ipsOfInterest: ['10.0.0.1', 'fd00::1'],
    });
    expect(parsePacketParserOptions({ hostInterface: false })).toEqual({ hostInterface: false });
    expect(parsePacketParserOptions({ ringBufferBytes: 1 << 16 })).toEqual({ ringBufferBytes: 1 << 16 });
  });

  it('names the offending key and value', () => {
    expect(() => parsePacketParserOptions({ interfaces: ['a-name-longer-than-15'] })).toThrow(
      /plugins\.packetparser\.interfaces\.0: interface names have at most 15 characters \(got "a-name-longer-than-15"\)/,
    );
    expect(() => parsePacketParserOptions({ ipsOfInterest: ['10.0.0.300'] })).toThrow(
      /plugins\.packetparser\.ipsOfInterest\.0: not an IPv4 or IPv6 address \(got "10\.0\.0\.300"\)/,
    );
    expect(() => parsePacketParserOptions({ hostInterface: true })).toThrow(
      /plugins\.packetparser\.hostInterface/,
    );
    expect(() => parsePacketParserOptions({ interface: ['x'] })).toThrow(
      /allowed: interfaces, hostInterface, ipsOfInterest, ringBufferBytes/,
    );
    expect(() => parsePacketParserOptions({ ringBufferBytes: 5000 })).toThrow(
      /plugins\.packetparser\.ringBufferBytes: must be a power of two \(got 5000\)/,
    );
    expect(() => parsePacketParserOptions({ ringBufferBytes: 1024 })).toThrow(
      /ringBufferBytes: at least one page/,
    );
  });

  it("sizes the ring by packetParserRingBufferSize only when Retina's ring buffer mode is enabled", () => {
    const options = parsePacketParserOptions({});
    expect(ringBufferBytes('disabled', 8 << 20, options)).toBe(DEFAULT_RING_BUFFER_BYTES);
    expect(DEFAULT_RING_BUFFER_BYTES).toBe(2 << 20);
    expect(ringBufferBytes('enabled', 8 << 20, options)).toBe(8 << 20);
    expect(ringBufferBytes('disabled', 8 << 20, parsePacketParserOptions({ ringBufferBytes: 1 << 22 }))).toBe(
      1 << 22,
    );
  });

  it('refuses an interface listed twice or also as hostInterface', () => {
    expect(() => parsePacketParserOptions({ interfaces: ['v1', 'v1'] })).toThrow(PacketParserOptionsError);
    expect(() => parsePacketParserOptions({ interfaces: ['eth0'], hostInterface: 'eth0' })).toThrow(
      /listed twice/,
    );
  });
});

describe('PacketParserPlugin without enablePodLevel', () => {
  it('does nothing: no BPF object, no attachment, and its API says why', async () => {
    const p = new PacketParserPlugin();
    await p.init({
      name: 'packetparser',
      config: parseConfig({ enablePodLevel: false }).config,
      options: {},
      logger: createLogger({ level: 'silent' }),
      metrics: createMetricsModule(),
      emit: () => true,
      ipCache: new InMemoryIpCache(),
      nodeName: 'n',
    });
    expect(p.enabled).toBe(false);
    expect(p.programIds).toEqual([]);
    expect(() => p.attachInterface('veth0')).toThrow(/enablePodLevel: true/);
    const ac = new AbortController();
    const running = p.start(ac.signal);
    ac.abort();
    await running;
    await p.stop();
  });
});

describe('plugin definition', () => {
  it('is named packetparser and runs on Linux', () => {
    expect(plugin.name).toBe('packetparser');
    expect(plugin.platforms).toEqual(['linux']);
    expect(plugin.create()).toBeInstanceOf(PacketParserPlugin);
  });
});
