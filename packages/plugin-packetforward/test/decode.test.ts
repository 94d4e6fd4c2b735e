import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DIRECTIONS,
  FORWARD_COUNTERS_SIZE,
  defaultRouteInterfaces,
  directionKey,
  sumPerCpuCounters,
} from '../src/decode.js';

const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

/** One per-CPU pf_counters value as the kernel lays it out. */
function counters(packets: bigint, bytes: bigint): Buffer {
  const b = Buffer.alloc(FORWARD_COUNTERS_SIZE);
  b.writeBigUInt64LE(packets, 0);
  b.writeBigUInt64LE(bytes, 8);
  return b;
}

describe('directionKey', () => {
  it('encodes ingress as 0 and egress as 1, the keys the BPF programs write', () => {
    expect(directionKey('ingress')).toEqual(Buffer.from([0, 0, 0, 0]));
    expect(directionKey('egress')).toEqual(Buffer.from([1, 0, 0, 0]));
    expect(DIRECTIONS).toEqual(['ingress', 'egress']);
  });
});

describe('sumPerCpuCounters', () => {
  it('adds packets and bytes over every CPU', () => {
    expect(sumPerCpuCounters([counters(3n, 300n), counters(0n, 0n), counters(4n, 1000n)])).toEqual({
      packets: 7n,
      bytes: 1300n,
    });
  });

  it('keeps 64-bit precision beyond 2^53', () => {
    const big = 2n ** 60n + 1n;
    expect(sumPerCpuCounters([counters(big, big), counters(1n, 2n)])).toEqual({ packets: big + 1n, bytes: big + 2n });
  });

  it('reads values that sit at an offset inside a larger buffer', () => {
    const backing = Buffer.concat([Buffer.alloc(5), counters(9n, 99n)]);
    expect(sumPerCpuCounters([backing.subarray(5)])).toEqual({ packets: 9n, bytes: 99n });
  });

  it('returns zeros for no CPUs', () => {
    expect(sumPerCpuCounters([])).toEqual({ packets: 0n, bytes: 0n });
  });

  it('rejects a value shorter than the struct, naming the CPU', () => {
    expect(() => sumPerCpuCounters([counters(1n, 1n), Buffer.alloc(8)])).toThrow(/CPU 1 has 8 bytes/);
  });
});

describe('defaultRouteInterfaces', () => {
  it('finds the one default-route interface of a single-NIC host (IPv4 and IPv6 agree)', () => {
    expect(defaultRouteInterfaces(fixture('route.single-nic'), fixture('ipv6_route.single-nic'))).toEqual(['eth0']);
  });

  it('picks the lowest-metric IPv4 default route', () => {
    expect(defaultRouteInterfaces(fixture('route.two-defaults'))).toEqual(['ens6']);
  });

  it('ignores reject (blackhole) routes and non-default routes', () => {
    expect(defaultRouteInterfaces(fixture('route.no-default'))).toEqual([]);
  });

  it('uses the lowest-metric IPv6 default route when there is no IPv4 one, never lo', () => {
    expect(defaultRouteInterfaces(fixture('route.no-default'), fixture('ipv6_route.v6-only'))).toEqual(['wan1']);
  });

  it('lists the IPv6 default interface after the IPv4 one when they differ', () => {
    expect(defaultRouteInterfaces(fixture('route.two-defaults'), fixture('ipv6_route.v6-only'))).toEqual(['ens6', 'wan1']);
  });

  it('tolerates empty, header-only and garbled tables', () => {
    expect(defaultRouteInterfaces('')).toEqual([]);
    expect(defaultRouteInterfaces('Iface\tDestination\n')).toEqual([]);
    expect(defaultRouteInterfaces('eth0 00000000 zz\n\u0000\u0000', 'not a route table')).toEqual([]);
    expect(defaultRouteInterfaces('h\neth9 00000000 0 zz 0 0 0 00000000 0 0 0\n')).toEqual([]);
  });
});
