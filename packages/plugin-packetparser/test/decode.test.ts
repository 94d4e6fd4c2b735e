import { describe, expect, it } from 'vitest';
import { CiliumEventType, FlowType, IpVersion, TraceObservationPoint, TrafficDirection, Verdict } from '@retina-ts/core';
import {
  EVENT_OFFSETS as O,
  EVENT_SIZE,
  MalformedEventError,
  ObservationPoint,
  addressKey,
  ctEntryExpired,
  ctEntryTotals,
  decodeBatch,
  decodeEvent,
  eventToFlow,
  tcpFlagsOf,
} from '../src/decode.js';

/** Writes a pp_event the way the BPF program lays it out. */
function rawEvent(fields: {
  t?: bigint;
  family?: number;
  src: number[];
  dst: number[];
  sport: number;
  dport: number;
  proto: number;
  bytes?: number;
  tsval?: number;
  tsecr?: number;
  obs?: number;
  dir?: number;
  flags?: number;
  reply?: boolean;
  prevPackets?: number;
  prevBytes?: number;
  prevFlags?: number[];
  ct?: [bigint, bigint, bigint, bigint];
}): Buffer {
  const b = Buffer.alloc(EVENT_SIZE);
  b.writeBigUInt64LE(fields.t ?? 1_000n, O.tNs);
  Buffer.from(fields.src).copy(b, O.src);
  Buffer.from(fields.dst).copy(b, O.dst);
  b.writeUInt16BE(fields.sport, O.sport);
  b.writeUInt16BE(fields.dport, O.dport);
  b.writeUInt32LE(fields.bytes ?? 0, O.bytes);
  b.writeUInt32LE(fields.tsval ?? 0, O.tsval);
  b.writeUInt32LE(fields.tsecr ?? 0, O.tsecr);
  b.writeUInt8(fields.obs ?? 0, O.obs);
  b.writeUInt8(fields.dir ?? 0, O.trafficDirection);
  b.writeUInt8(fields.proto, O.proto);
  b.writeUInt8(fields.family ?? (fields.src.length === 4 ? 4 : 6), O.family);
  b.writeUInt16LE(fields.flags ?? 0, O.flags);
  b.writeUInt8(fields.reply ? 1 : 0, O.isReply);
  b.writeUInt32LE(fields.prevPackets ?? 0, O.prevPackets);
  b.writeUInt32LE(fields.prevBytes ?? 0, O.prevBytes);
  (fields.prevFlags ?? []).forEach((n, i) => b.writeUInt32LE(n, O.prevFlags + i * 4));
  const [btx, brx, ptx, prx] = fields.ct ?? [0n, 0n, 0n, 0n];
  b.writeBigUInt64LE(btx, O.ctBytesTx);
  b.writeBigUInt64LE(brx, O.ctBytesRx);
  b.writeBigUInt64LE(ptx, O.ctPacketsTx);
  b.writeBigUInt64LE(prx, O.ctPacketsRx);
  return b;
}

const SYN = 0x02;
const ACK = 0x10;
const PSH = 0x08;

const v6 = (tail: number) => [0xfd, 0, 0, 0x42, ...Array<number>(10).fill(0), 0, tail];

describe('decodeEvent', () => {
  it('decodes an IPv4 TCP event with ports in host order and all counters', () => {
    const ev = decodeEvent(
      rawEvent({
        t: 123_456_789n,
        src: [10, 240, 1, 2],
        dst: [10, 240, 1, 3],
        sport: 40_000,
        dport: 8080,
        proto: 6,
        bytes: 74,
        tsval: 11,
        tsecr: 22,
        obs: ObservationPoint.TO_NETWORK,
        dir: TrafficDirection.EGRESS,
        flags: SYN,
        prevPackets: 3,
        prevBytes: 300,
        prevFlags: [1, 2, 0, 0, 1],
        ct: [500n, 600n, 5n, 6n],
      }),
    );
    expect(ev).toEqual({
      tNs: 123_456_789n,
      family: 4,
      source: '10.240.1.2',
      destination: '10.240.1.3',
      sourcePort: 40_000,
      destinationPort: 8080,
      proto: 6,
      bytes: 74,
      seq: 0,
      ack: 0,
      tsval: 11,
      tsecr: 22,
      observationPoint: 3,
      trafficDirection: TrafficDirection.EGRESS,
      flags: SYN,
      isReply: false,
      previouslyObservedPackets: 3,
      previouslyObservedBytes: 300,
      previouslyObservedFlags: [1, 2, 0, 0, 1, 0, 0, 0, 0],
      conntrack: { bytesTx: 500, bytesRx: 600, packetsTx: 5, packetsRx: 6 },
    });
  });

  it('reads connection totals above 2^32 exactly, and the same address twice as the same text', () => {
    const src = [10, 240, 1, 2];
    const dst = [192, 168, 255, 254];
    const raw = rawEvent({ src, dst, sport: 1, dport: 2, proto: 17, ct: [(1n << 40n) + 5n, 2n ** 52n, 7n, 0n] });
    const ev = decodeEvent(raw);
    expect(ev.conntrack).toEqual({ bytesTx: 2 ** 40 + 5, bytesRx: 2 ** 52, packetsTx: 7, packetsRx: 0 });
    expect(ev.destination).toBe('192.168.255.254');
    expect(decodeEvent(raw).destination).toBe(ev.destination);
  });

  it('formats IPv6 addresses in their shortest form', () => {
    const ev = decodeEvent(rawEvent({ src: v6(1), dst: [0x20, 1, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], sport: 1, dport: 2, proto: 17 }));
    expect(ev.family).toBe(6);
    expect(ev.source).toBe('fd00:42::1');
    expect(ev.destination).toBe('2001:db8:1::2');
    const full = decodeEvent(rawEvent({ src: [0x20, 1, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7], dst: v6(0), sport: 1, dport: 2, proto: 17 }));
    expect(full.source).toBe('2001:1:2:3:4:5:6:7');
    expect(full.destination).toBe('fd00:42::');
  });

  it('formats IPv4-mapped IPv6 addresses as ::ffff:a.b.c.d (RFC 5952)', () => {
    const mapped = [...Array<number>(10).fill(0), 0xff, 0xff, 10, 0, 0, 7];
    const ev = decodeEvent(rawEvent({ src: mapped, dst: v6(1), sport: 1, dport: 2, proto: 17, family: 6 }));
    expect(ev.source).toBe('::ffff:10.0.0.7');
    expect(ev.destination).toBe('fd00:42::1');
  });

  it('refuses short records and unknown families', () => {
    expect(() => decodeEvent(Buffer.alloc(EVENT_SIZE - 1))).toThrow(MalformedEventError);
    expect(() => decodeEvent(rawEvent({ family: 5, src: [1, 2, 3, 4], dst: [1, 2, 3, 4], sport: 1, dport: 1, proto: 6 }))).toThrow(
      /address family 5/,
    );
  });
});

describe('decodeBatch', () => {
  it('decodes each record of a batch and counts the malformed ones', () => {
    const a = rawEvent({ src: [10, 0, 0, 1], dst: [10, 0, 0, 2], sport: 1, dport: 2, proto: 17 });
    const bad = Buffer.alloc(16);
    const c = rawEvent({ src: [10, 0, 0, 3], dst: [10, 0, 0, 4], sport: 3, dport: 4, proto: 6 });
    const buffer = Buffer.concat([a, bad, c]);
    const { events, malformed } = decodeBatch({
      count: 3,
      buffer,
      offsets: Uint32Array.from([0, EVENT_SIZE, EVENT_SIZE + 16]),
      lengths: Uint32Array.from([EVENT_SIZE, 16, EVENT_SIZE]),
    });
    expect(malformed).toBe(1);
    expect(events.map((e) => [e.source, e.sourcePort])).toEqual([
      ['10.0.0.1', 1],
      ['10.0.0.3', 3],
    ]);
  });
});

describe('eventToFlow', () => {
  const opts = { nodeName: 'node-a', epochOffsetNs: 1_700_000_000_000_000_000n };

  it('maps a TCP SYN leaving a pod to a FORWARDED TO_STACK flow with conntrack direction', () => {
    const flow = eventToFlow(
      decodeEvent(
        rawEvent({
          t: 5n,
          src: [10, 240, 0, 5],
          dst: [10, 240, 0, 6],
          sport: 5555,
          dport: 80,
          proto: 6,
          bytes: 60,
          obs: ObservationPoint.FROM_ENDPOINT,
          dir: TrafficDirection.EGRESS,
          flags: SYN,
          tsval: 99,
        }),
      ),
      opts,
    );
    expect(flow).toEqual({
      timeNs: 1_700_000_000_000_000_005n,
      verdict: Verdict.FORWARDED,
      type: FlowType.L3_L4,
      nodeName: 'node-a',
      ip: { source: '10.240.0.5', destination: '10.240.0.6', ipVersion: IpVersion.IPv4 },
      l4: { tcp: { sourcePort: 5555, destinationPort: 80, flags: { SYN: true } } },
      eventType: { type: CiliumEventType.TRACE, subType: 3 },
      traceObservationPoint: TraceObservationPoint.TO_STACK,
      trafficDirection: TrafficDirection.EGRESS,
      isReply: false,
      emitter: 'packetparser',
      extensions: { bytes: 60 },
    });
  });

  it('maps each observation point as Retina does', () => {
    const points = [0, 1, 2, 3, 9].map((obs) => {
      const f = eventToFlow(decodeEvent(rawEvent({ src: [1, 1, 1, 1], dst: [2, 2, 2, 2], sport: 1, dport: 2, proto: 17, obs })), opts);
      return [f.traceObservationPoint, f.eventType?.subType];
    });
    expect(points).toEqual([
      [TraceObservationPoint.TO_STACK, 3],
      // Cilium's TraceToLxc: Hubble prints it as to-endpoint (1 would read to-proxy).
      [TraceObservationPoint.TO_ENDPOINT, 0],
      [TraceObservationPoint.FROM_NETWORK, 10],
      [TraceObservationPoint.TO_NETWORK, 11],
      [TraceObservationPoint.UNKNOWN_POINT, 0],
    ]);
  });

  it('sets tcp_id from TSval leaving the node and TSecr entering it, nowhere else', () => {
    const tcpId = (obs: number) =>
      eventToFlow(
        decodeEvent(rawEvent({ src: [1, 1, 1, 1], dst: [2, 2, 2, 2], sport: 1, dport: 2, proto: 6, obs, tsval: 111, tsecr: 222, flags: ACK })),
        opts,
      ).extensions?.tcpId;
    expect([0, 1, 2, 3].map(tcpId)).toEqual([undefined, undefined, 222, 111]);
  });

  it('carries a reply UDP IPv6 flow with previously-observed counters', () => {
    const flow = eventToFlow(
      decodeEvent(
        rawEvent({
          src: v6(2),
          dst: v6(1),
          sport: 53,
          dport: 40_000,
          proto: 17,
          bytes: 90,
          obs: ObservationPoint.TO_ENDPOINT,
          dir: TrafficDirection.EGRESS,
          reply: true,
          flags: 1,
          prevPackets: 4,
          prevBytes: 360,
        }),
      ),
      opts,
    );
    expect(flow.ip).toEqual({ source: 'fd00:42::2', destination: 'fd00:42::1', ipVersion: IpVersion.IPv6 });
    expect(flow.l4).toEqual({ udp: { sourcePort: 53, destinationPort: 40_000 } });
    expect(flow.isReply).toBe(true);
    expect(flow.trafficDirection).toBe(TrafficDirection.EGRESS);
    expect(flow.extensions).toEqual({ bytes: 90, previouslyObservedPackets: 4, previouslyObservedBytes: 360 });
  });

  it('names all nine previously-observed TCP flags once any is non-zero', () => {
    const flow = eventToFlow(
      decodeEvent(rawEvent({ src: [1, 1, 1, 1], dst: [2, 2, 2, 2], sport: 1, dport: 2, proto: 6, flags: ACK | PSH, prevFlags: [0, 7, 0, 0, 3] })),
      opts,
    );
    expect(flow.l4?.tcp?.flags).toEqual({ ACK: true, PSH: true });
    expect(flow.extensions?.previouslyObservedTcpFlags).toEqual({ SYN: 0, ACK: 7, FIN: 0, RST: 0, PSH: 3, URG: 0, ECE: 0, CWR: 0, NS: 0 });
  });
});

describe('tcpFlagsOf', () => {
  it('names every bit of the TCP flags byte', () => {
    expect(tcpFlagsOf(0xff)).toEqual({ FIN: true, SYN: true, RST: true, PSH: true, ACK: true, URG: true, ECE: true, CWR: true });
    expect(tcpFlagsOf(0)).toEqual({});
  });
});

describe('addressKey', () => {
  it('puts IPv4 in the first four bytes', () => {
    expect(addressKey('10.240.1.2').toString('hex')).toBe('0af00102' + '00'.repeat(12));
    expect(addressKey('::ffff:10.240.1.2').toString('hex')).toBe('0af00102' + '00'.repeat(12));
  });

  it('writes IPv6 addresses in full, whatever their text form', () => {
    expect(addressKey('fd00:42::1').toString('hex')).toBe('fd000042' + '00'.repeat(11) + '01');
    expect(addressKey('::').toString('hex')).toBe('00'.repeat(16));
    expect(addressKey('2001:db8:0:0:0:0:0:ff').toString('hex')).toBe('20010db8' + '00'.repeat(10) + '00ff');
    expect(addressKey('64:ff9b::1.2.3.4').toString('hex')).toBe('0064ff9b' + '00'.repeat(8) + '01020304');
  });

  it('refuses text that is not an address', () => {
    expect(() => addressKey('10.0.0.256')).toThrow(/not an IPv4 or IPv6 address/);
  });
});

describe('conntrack helpers', () => {
  it('tells expired conntrack entries by their eviction time', () => {
    const entry = Buffer.alloc(160);
    entry.writeBigUInt64LE(1_000n, 0);
    expect(ctEntryExpired(entry, 999n)).toBe(false);
    expect(ctEntryExpired(entry, 1_001n)).toBe(true);
  });

  it('reads the per-direction totals of a conntrack entry, and refuses a short one', () => {
    const entry = Buffer.alloc(160);
    entry.writeBigUInt64LE(1_500n, 64); // dir[0].bytes_total
    entry.writeBigUInt64LE(3n, 72); // dir[0].packets_total
    entry.writeBigUInt64LE(2n ** 40n, 136); // dir[1].bytes_total, above 32 bits
    entry.writeBigUInt64LE(2n, 144); // dir[1].packets_total
    expect(ctEntryTotals(entry)).toEqual({ bytesTx: 1_500, packetsTx: 3, bytesRx: 2 ** 40, packetsRx: 2 });
    expect(() => ctEntryTotals(Buffer.alloc(152))).toThrow(/152 bytes; expected 160/);
  });
});
