import {
  CiliumEventType,
  DropReasonDesc,
  FlowType,
  IpVersion,
  TraceObservationPoint,
  TrafficDirection,
  Verdict,
} from '@retina-ts/core';
import { describe, expect, it } from 'vitest';
import type { BtfEnum } from '@retina-ts/bpf-runtime';
import {
  decodeDropEvent,
  decodeMetricKey,
  DROP_EVENT_SIZE,
  encodeDropEvent,
  encodeMetricKey,
  eventToFlow,
  sumMetricValues,
  toSeries,
  type DropEvent,
} from '../src/decode.js';
import { formatIpv4, formatIpv6, sumPerCpuU64 } from '@retina-ts/bpf-runtime';
import { DropReasonCatalog } from '../src/reasons.js';

const reasons: BtfEnum = {
  name: 'skb_drop_reason',
  typeId: 1,
  size: 4,
  signed: false,
  members: [
    ['SKB_NOT_DROPPED_YET', 0],
    ['SKB_CONSUMED', 1],
    ['SKB_DROP_REASON_NOT_SPECIFIED', 2],
    ['SKB_DROP_REASON_NO_SOCKET', 3],
    ['SKB_DROP_REASON_NETFILTER_DROP', 12],
  ].map(([name, v]) => ({ name: name as string, value: BigInt(v as number) })),
};
const catalog = DropReasonCatalog.fromBtf(reasons);

function perCpu(...pairs: Array<[bigint, bigint]>): Buffer[] {
  return pairs.map(([p, b]) => {
    const buf = Buffer.alloc(16);
    buf.writeBigUInt64LE(p, 0);
    buf.writeBigUInt64LE(b, 8);
    return buf;
  });
}

describe('metric map layout', () => {
  it('round-trips keys', () => {
    const k = encodeMetricKey(12, 1);
    expect([...k]).toEqual([12, 0, 0, 0, 1, 0, 0, 0]);
    expect(decodeMetricKey(k)).toEqual({ reason: 12, dir: 1 });
    expect(() => decodeMetricKey(Buffer.alloc(4))).toThrow('metric key: 4 bytes, expected 8');
  });

  it('sums per-CPU values', () => {
    expect(sumMetricValues(perCpu([1n, 100n], [0n, 0n], [2n ** 40n, 5n]))).toEqual({
      packets: 2n ** 40n + 1n,
      bytes: 105n,
    });
    expect(() => sumMetricValues([Buffer.alloc(8)])).toThrow('per-CPU value of CPU 0 has 8 bytes; metric_val needs 16');
    const one = Buffer.alloc(8);
    one.writeBigUInt64LE(7n);
    expect(sumPerCpuU64([one, one])).toBe(14n);
  });
});

describe('toSeries', () => {
  it('labels reasons and directions, adds values that share a label, skips normal frees', () => {
    const rows = toSeries(
      [
        { reason: 12, dir: 0, packets: 5n, bytes: 500n },
        { reason: 3, dir: 0, packets: 2n, bytes: 80n },
        { reason: 3, dir: 1, packets: 1n, bytes: 40n },
        // two values the kernel does not name both become UNKNOWN_DROP: summed, not overwritten
        { reason: 90, dir: 0, packets: 1n, bytes: 10n },
        { reason: 91, dir: 0, packets: 2n, bytes: 20n },
        { reason: 2, dir: 0, packets: 1000n, bytes: 1n },
        { reason: 1, dir: 1, packets: 1000n, bytes: 1n },
        { reason: 3, dir: 7, packets: 1n, bytes: 1n },
      ],
      catalog,
    );
    expect(rows).toEqual([
      { reason: 'IPTABLE_RULE_DROP', direction: 'ingress', packets: 5, bytes: 500 },
      { reason: 'NO_SOCKET', direction: 'egress', packets: 1, bytes: 40 },
      { reason: 'NO_SOCKET', direction: 'ingress', packets: 2, bytes: 80 },
      { reason: 'NO_SOCKET', direction: 'unknown', packets: 1, bytes: 1 },
      { reason: 'UNKNOWN_DROP', direction: 'ingress', packets: 3, bytes: 30 },
    ]);
  });
});

describe('address formatting', () => {
  const v6 = (s: string) => Buffer.from(s.replace(/ /g, ''), 'hex');
  it('formats IPv4', () => {
    expect(formatIpv4(Buffer.from([0, 10, 201, 0, 255]), 1)).toBe('10.201.0.255');
  });
  it('formats IPv6 canonically', () => {
    expect(formatIpv6(v6('fd00 0042 0000 0000 0000 0000 0000 0001'), 0)).toBe('fd00:42::1');
    expect(formatIpv6(v6('0000 0000 0000 0000 0000 0000 0000 0000'), 0)).toBe('::');
    expect(formatIpv6(v6('0000 0000 0000 0000 0000 0000 0000 0001'), 0)).toBe('::1');
    expect(formatIpv6(v6('2001 0db8 0000 0001 0000 0000 0001 0000'), 0)).toBe('2001:db8:0:1::1:0');
    expect(formatIpv6(v6('2001 0db8 0001 0002 0003 0004 0005 0006'), 0)).toBe('2001:db8:1:2:3:4:5:6');
    // a single zero group is not shortened; the first of two equal runs is
    expect(formatIpv6(v6('2001 0db8 0000 0001 0001 0001 0001 0001'), 0)).toBe('2001:db8:0:1:1:1:1:1');
    expect(formatIpv6(v6('2001 0000 0000 0001 0000 0000 0001 0001'), 0)).toBe('2001::1:0:0:1:1');
    expect(formatIpv6(v6('0000 0000 0000 0000 0000 ffff 0ac9 0001'), 0)).toBe('::ffff:10.201.0.1');
  });
});

const baseEvent: DropEvent = {
  tsMonoNs: 5_000_000_000n,
  reason: 12,
  skbLen: 84,
  packets: 3,
  bytes: 252,
  ipVersion: 4,
  source: '10.201.7.1',
  destination: '10.201.7.2',
  l4proto: 17,
  sport: 40000,
  dport: 9,
  dir: 0,
  ifindex: 4,
  netns: 4026532000,
};

describe('drop event layout', () => {
  it('decodes a record written in the kernel layout at any offset', () => {
    const rec = encodeDropEvent(baseEvent, Buffer.from([10, 201, 7, 1]), Buffer.from([10, 201, 7, 2]));
    expect(rec.length).toBe(DROP_EVENT_SIZE);
    // byte positions of struct drop_event in bpf/dropreason.bpf.c
    expect(rec.readUInt32LE(8)).toBe(12);
    expect(rec.readUInt16LE(64)).toBe(40000);
    expect(rec[68]).toBe(4);
    expect(rec.readUInt32LE(76)).toBe(4026532000);
    const batch = Buffer.concat([Buffer.alloc(8, 0xee), rec]);
    expect(decodeDropEvent(batch, 8)).toEqual(baseEvent);
    expect(() => decodeDropEvent(batch, 16)).toThrow('drop event: need 80 bytes at offset 16, buffer has 88');
  });

  it('decodes IPv6 and records without IP', () => {
    const src = Buffer.from('fd000042000000000000000000000001', 'hex');
    const dst = Buffer.from('fd000042000000000000000000000002', 'hex');
    const e6 = {
      ...baseEvent,
      ipVersion: 6,
      source: 'fd00:42::1',
      destination: 'fd00:42::2',
      l4proto: 58,
      sport: 128,
      dport: 0,
    };
    expect(decodeDropEvent(encodeDropEvent(e6, src, dst))).toEqual(e6);
    const none = { ...baseEvent, ipVersion: 0, source: '', destination: '', l4proto: 0, sport: 0, dport: 0 };
    expect(decodeDropEvent(encodeDropEvent(none, Buffer.alloc(16), Buffer.alloc(16)))).toEqual(none);
  });
});

describe('eventToFlow', () => {
  const ctx = { catalog, nodeName: 'node-a', monoToEpochNs: 1_700_000_000_000_000_000n };

  it('builds a DROPPED flow with Retina reason, Hubble code, 5-tuple and counts', () => {
    expect(eventToFlow(baseEvent, ctx)).toEqual({
      timeNs: 1_700_000_005_000_000_000n,
      verdict: Verdict.DROPPED,
      dropReasonDesc: DropReasonDesc.POLICY_DENIED,
      type: FlowType.L3_L4,
      nodeName: 'node-a',
      eventType: { type: CiliumEventType.DROP, subType: DropReasonDesc.POLICY_DENIED },
      trafficDirection: TrafficDirection.INGRESS,
      traceObservationPoint: TraceObservationPoint.FROM_NETWORK,
      emitter: 'dropreason',
      extensions: { dropReason: 'IPTABLE_RULE_DROP', bytes: 252, packets: 3 },
      ip: { source: '10.201.7.1', destination: '10.201.7.2', ipVersion: IpVersion.IPv4 },
      l4: { udp: { sourcePort: 40000, destinationPort: 9 } },
    });
  });

  it('handles TCP, ICMP, egress, and records without addresses', () => {
    const tcp = eventToFlow({ ...baseEvent, reason: 3, l4proto: 6, dir: 1 }, ctx);
    expect(tcp.l4).toEqual({ tcp: { sourcePort: 40000, destinationPort: 9 } });
    expect(tcp.trafficDirection).toBe(TrafficDirection.EGRESS);
    expect(tcp.traceObservationPoint).toBe(TraceObservationPoint.TO_NETWORK);
    expect(tcp.extensions?.dropReason).toBe('NO_SOCKET');
    expect(tcp.dropReasonDesc).toBe(DropReasonDesc.DROP_REASON_UNKNOWN);
    expect(eventToFlow({ ...baseEvent, l4proto: 1, sport: 8, dport: 0 }, ctx).l4).toEqual({
      icmpv4: { type: 8, code: 0 },
    });
    const v6 = eventToFlow(
      {
        ...baseEvent,
        ipVersion: 6,
        source: 'fd00::1',
        destination: 'fd00::2',
        l4proto: 58,
        sport: 128,
        dport: 0,
      },
      ctx,
    );
    expect(v6.l4).toEqual({ icmpv6: { type: 128, code: 0 } });
    expect(v6.ip?.ipVersion).toBe(IpVersion.IPv6);
    const bare = eventToFlow({ ...baseEvent, ipVersion: 0, source: '', destination: '', l4proto: 0 }, ctx);
    expect(bare.ip).toBeUndefined();
    expect(bare.l4).toBeUndefined();
  });
});
