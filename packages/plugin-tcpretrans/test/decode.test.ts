import { describe, expect, it } from 'vitest';
import { FlowType, IpVersion, TraceObservationPoint, TrafficDirection, Verdict } from '@retina-ts/core';
import {
  RETRANS_EVENT_SIZE,
  RETRANS_STATS_SIZE,
  RetransDecodeError,
  aggregateRetransEvents,
  decodeRetransBatch,
  decodeRetransEvent,
  retransFlow,
  sumRetransStats,
  tcpFlagsFromBits,
  type RetransEvent,
} from '../src/decode.js';

interface RawEvent {
  ts: bigint;
  family: number;
  saddr: number[];
  daddr: number[];
  sport: number;
  dport: number;
  state: number;
  flags: number;
  segs: number;
}

/** Lays out a `struct tr_event` exactly as the BPF program writes it. */
function rawEvent(e: RawEvent): Buffer {
  const b = Buffer.alloc(RETRANS_EVENT_SIZE, 0xee);
  b.writeBigUInt64LE(e.ts, 0);
  b.fill(0, 8, 40);
  Buffer.from(e.saddr).copy(b, 8);
  Buffer.from(e.daddr).copy(b, 24);
  b.writeUInt16LE(e.sport, 40);
  b.writeUInt16LE(e.dport, 42);
  b.writeUInt16LE(e.segs, 44);
  b.writeUInt16LE(e.flags, 46);
  b.writeUInt8(e.family, 48);
  b.writeUInt8(e.state, 49);
  return b;
}

const v4 = (over: Partial<RawEvent> = {}): Buffer =>
  rawEvent({ ts: 123_456_789n, family: 2, saddr: [10, 231, 0, 1], daddr: [10, 231, 0, 2], sport: 40000, dport: 8080, state: 1, flags: 0x18, segs: 1, ...over });

const v6 = (over: Partial<RawEvent> = {}): Buffer =>
  rawEvent({
    ts: 5n,
    family: 10,
    saddr: [0xfd, 0, 0, 0x7e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
    daddr: [0xfd, 0, 0, 0x7e, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
    sport: 1,
    dport: 65535,
    state: 2,
    flags: 0x02,
    segs: 1,
    ...over,
  });

describe('decodeRetransEvent', () => {
  it('decodes an IPv4 record', () => {
    expect(decodeRetransEvent(v4())).toEqual({
      monotonicNs: 123_456_789n,
      ipVersion: 4,
      source: '10.231.0.1',
      destination: '10.231.0.2',
      sourcePort: 40000,
      destinationPort: 8080,
      state: 'ESTABLISHED',
      tcpFlags: 0x18,
      segments: 1,
    } satisfies RetransEvent);
  });

  it('decodes an IPv6 record in RFC 5952 form', () => {
    expect(decodeRetransEvent(v6())).toMatchObject({
      ipVersion: 6,
      source: 'fd00:7e::1',
      destination: 'fd00:7e::2',
      sourcePort: 1,
      destinationPort: 65535,
      state: 'SYN_SENT',
    });
  });

  it('gives IPv4-mapped addresses of dual-stack sockets as IPv4', () => {
    const mapped = (a: number[]) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a];
    expect(decodeRetransEvent(v6({ saddr: mapped([10, 1, 2, 3]), daddr: mapped([10, 1, 2, 4]) }))).toMatchObject({
      ipVersion: 4,
      source: '10.1.2.3',
      destination: '10.1.2.4',
    });
  });

  it('names every TCP state, CLOSE as the empty string and unknown numbers as UNKNOWN', () => {
    const state = (n: number) => decodeRetransEvent(v4({ state: n })).state;
    expect([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map(state)).toEqual([
      'ESTABLISHED', 'SYN_SENT', 'SYN_RECV', 'FIN_WAIT1', 'FIN_WAIT2', 'TIME_WAIT', '', 'CLOSE_WAIT', 'LAST_ACK',
      'LISTEN', 'CLOSING',
    ]);
    expect(state(0)).toBe('UNKNOWN');
    expect(state(200)).toBe('UNKNOWN');
  });

  it('reads a record at an offset inside a larger buffer', () => {
    const buf = Buffer.concat([Buffer.alloc(16, 1), v4({ sport: 7 }), Buffer.alloc(3)]);
    expect(decodeRetransEvent(buf.subarray(2), 14).sourcePort).toBe(7);
  });

  it('counts a zero segment count as one segment', () => {
    expect(decodeRetransEvent(v4({ segs: 0 })).segments).toBe(1);
    expect(decodeRetransEvent(v4({ segs: 44 })).segments).toBe(44);
  });

  it('rejects a truncated record and an unknown address family, saying what it found', () => {
    expect(() => decodeRetransEvent(v4().subarray(0, 55))).toThrow(/55 bytes, expected 56/);
    expect(() => decodeRetransEvent(v4(), 0, 20)).toThrow(RetransDecodeError);
    expect(() => decodeRetransEvent(v4({ family: 7 }))).toThrow(/address family 7/);
  });
});

describe('decodeRetransBatch', () => {
  it('decodes every record and counts the malformed ones', () => {
    const records = [v4({ sport: 1 }), v4({ family: 0 }), v6({ sport: 3 })];
    const buffer = Buffer.concat(records);
    const batch = {
      count: 4,
      buffer,
      offsets: Uint32Array.from([0, 56, 112, 164]),
      lengths: Uint32Array.from([56, 56, 56, 4]),
    };
    const { events, malformed } = decodeRetransBatch(batch);
    expect(events.map((e) => e.sourcePort)).toEqual([1, 3]);
    expect(malformed).toBe(2);
  });
});

describe('tcpFlagsFromBits', () => {
  it('maps each bit to its flag, AE (0x100) to NS', () => {
    expect(tcpFlagsFromBits(0)).toEqual({});
    expect(tcpFlagsFromBits(0x12)).toEqual({ SYN: true, ACK: true });
    expect(tcpFlagsFromBits(0xff)).toEqual({
      FIN: true, SYN: true, RST: true, PSH: true, ACK: true, URG: true, ECE: true, CWR: true,
    });
    expect(tcpFlagsFromBits(0x110)).toEqual({ ACK: true, NS: true });
  });
});

describe('aggregateRetransEvents', () => {
  it('folds one connection with the same flags into one group that keeps the latest event', () => {
    const a1 = decodeRetransEvent(v4({ ts: 10n, segs: 3 }));
    const a2 = decodeRetransEvent(v4({ ts: 30n, state: 8 }));
    const a3 = decodeRetransEvent(v4({ ts: 20n }));
    const b = decodeRetransEvent(v4({ sport: 40001 }));
    const aFin = decodeRetransEvent(v4({ flags: 0x11 }));
    const groups = aggregateRetransEvents([a1, b, a2, aFin, a3]);
    expect(groups.map((g) => [g.last.sourcePort, g.last.tcpFlags, g.count])).toEqual([
      [40000, 0x18, 5],
      [40001, 0x18, 1],
      [40000, 0x11, 1],
    ]);
    expect(groups[0]?.last.monotonicNs).toBe(30n);
    expect(groups[0]?.last.state).toBe('CLOSE_WAIT');
  });

  it('returns nothing for nothing', () => {
    expect(aggregateRetransEvents([])).toEqual([]);
  });
});

describe('retransFlow', () => {
  it('builds the Retina retransmission flow', () => {
    const e = decodeRetransEvent(v4({ ts: 1_000n, flags: 0x19 }));
    expect(retransFlow({ last: e, count: 1 }, { nodeName: 'node-a', epochOffsetNs: 1_700_000_000_000_000_000n })).toEqual({
      timeNs: 1_700_000_000_000_001_000n,
      verdict: Verdict.RETRANSMISSION,
      type: FlowType.L3_L4,
      nodeName: 'node-a',
      eventType: { type: 4, subType: 3 },
      ip: { source: '10.231.0.1', destination: '10.231.0.2', ipVersion: IpVersion.IPv4 },
      l4: { tcp: { sourcePort: 40000, destinationPort: 8080, flags: { FIN: true, PSH: true, ACK: true } } },
      trafficDirection: TrafficDirection.EGRESS,
      traceObservationPoint: TraceObservationPoint.TO_STACK,
      isReply: false,
      emitter: 'tcpretrans',
    });
    expect(Verdict.RETRANSMISSION).toBe(15);
  });

  it('marks IPv6 and carries the group size in extensions.packets', () => {
    const flow = retransFlow({ last: decodeRetransEvent(v6()), count: 5 }, { nodeName: 'n', epochOffsetNs: 0n });
    expect(flow.ip?.ipVersion).toBe(IpVersion.IPv6);
    expect(flow.extensions).toEqual({ packets: 5 });
  });
});

describe('sumRetransStats', () => {
  it('adds each counter over every CPU', () => {
    const cpu = (a: bigint, b: bigint, c: bigint) => {
      const buf = Buffer.alloc(RETRANS_STATS_SIZE);
      buf.writeBigUInt64LE(a, 0);
      buf.writeBigUInt64LE(b, 8);
      buf.writeBigUInt64LE(c, 16);
      return buf;
    };
    expect(sumRetransStats([cpu(1n, 2n, 3n), cpu(10n, 20n, 30n)])).toEqual({ retransmits: 11n, eventsLost: 22n, eventsLimited: 33n });
    expect(() => sumRetransStats([Buffer.alloc(16)])).toThrow(/CPU 0 has 16 bytes/);
  });
});
