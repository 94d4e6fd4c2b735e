/**
 * Pure parts of the tcpretrans plugin: the kernel record and counter layouts, their decoding, the folding of a
 * batch of records into one flow per connection, and the flow record itself. No I/O, so it is tested with bytes.
 */
import { defineStruct, formatIpv4, formatIpv6, sumPerCpuFields } from '@retina-ts/bpf-runtime';
import {
  CiliumEventType,
  FlowType,
  flowIp,
  TraceObservationPoint,
  TrafficDirection,
  Verdict,
  type Flow,
  type TcpFlags,
} from '@retina-ts/core';

/**
 * `struct tr_event` of bpf/tcpretrans.bpf.c (a ring-buffer record), field for field with the C names: the one
 * declaration the decoder takes its offsets from. test/layout.test.ts checks it against the compiled object's BTF.
 */
export const TR_EVENT = defineStruct({
  ts_ns: 'u64',
  saddr: { bytes: 16 },
  daddr: { bytes: 16 },
  sport: 'u16',
  dport: 'u16',
  segs: 'u16',
  tcp_flags: 'u16',
  family: 'u8',
  state: 'u8',
  _pad: { bytes: 6 },
});
/** `struct tr_stats`: one CPU's counters (checked against BTF like TR_EVENT). */
export const TR_STATS = defineStruct({ retransmits: 'u64', events_lost: 'u64', events_limited: 'u64' });

/** Size of `struct tr_event`. */
export const RETRANS_EVENT_SIZE = TR_EVENT.size;
/** Size of `struct tr_stats`, one per CPU. */
export const RETRANS_STATS_SIZE = TR_STATS.size;

const E = TR_EVENT.offsets;

const AF_INET = 2;
const AF_INET6 = 10;

/** Cilium's trace sub-type for "to stack" (the observation point Retina gives retransmissions). */
const TRACE_TO_STACK = 3;

/** Linux TCP states by number (include/net/tcp_states.h); CLOSE is the empty string, as in `tcp_state`. */
export const TCP_STATE_NAMES: readonly string[] = [
  'UNKNOWN',
  'ESTABLISHED',
  'SYN_SENT',
  'SYN_RECV',
  'FIN_WAIT1',
  'FIN_WAIT2',
  'TIME_WAIT',
  '',
  'CLOSE_WAIT',
  'LAST_ACK',
  'LISTEN',
  'CLOSING',
  'NEW_SYN_RECV',
  'BOUND_INACTIVE',
];

/** One retransmission as the kernel reported it. */
export interface RetransEvent {
  /** CLOCK_MONOTONIC nanoseconds (bpf_ktime_get_ns). */
  monotonicNs: bigint;
  ipVersion: 4 | 6;
  /** Local address of the socket (IPv4-mapped IPv6 addresses are given as IPv4). */
  source: string;
  /** Remote address of the socket. */
  destination: string;
  sourcePort: number;
  destinationPort: number;
  /** The socket's TCP state name (`ESTABLISHED`, ...; `UNKNOWN` for numbers this table does not know). */
  state: string;
  /** The retransmitted segment's TCP flags (FIN 0x01 ... CWR 0x80, AE/NS 0x100). */
  tcpFlags: number;
  /** Segments retransmitted at once (a TSO skb carries several); at least 1. */
  segments: number;
}

/** Thrown for a record that cannot be a `tr_event`; carries what was wrong. */
export class RetransDecodeError extends Error {
  override name = 'RetransDecodeError';
}

/** Formats the network-order address at `offset`; an IPv4-mapped IPv6 address comes back as IPv4. */
function formatAddress(buf: Uint8Array, offset: number, family: number): { text: string; v4: boolean } {
  if (family === AF_INET) return { text: formatIpv4(buf, offset), v4: true };
  const mapped =
    buf.subarray(offset, offset + 10).every((b) => b === 0) && buf[offset + 10] === 0xff && buf[offset + 11] === 0xff;
  return mapped ? { text: formatIpv4(buf, offset + 12), v4: true } : { text: formatIpv6(buf, offset), v4: false };
}

/** Decodes one `tr_event` starting at `offset` of `buf`. */
export function decodeRetransEvent(buf: Uint8Array, offset = 0, length = buf.byteLength - offset): RetransEvent {
  if (length < RETRANS_EVENT_SIZE || offset + RETRANS_EVENT_SIZE > buf.byteLength) {
    throw new RetransDecodeError(`retransmission record has ${Math.min(length, buf.byteLength - offset)} bytes, expected ${RETRANS_EVENT_SIZE}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset + offset, RETRANS_EVENT_SIZE);
  const family = view.getUint8(E.family);
  if (family !== AF_INET && family !== AF_INET6) {
    throw new RetransDecodeError(`retransmission record has address family ${family}; expected ${AF_INET} (IPv4) or ${AF_INET6} (IPv6)`);
  }
  const src = formatAddress(buf, offset + E.saddr, family);
  const dst = formatAddress(buf, offset + E.daddr, family);
  const stateNum = view.getUint8(E.state);
  return {
    monotonicNs: view.getBigUint64(E.ts_ns, true),
    ipVersion: src.v4 && dst.v4 ? 4 : 6,
    source: src.text,
    destination: dst.text,
    sourcePort: view.getUint16(E.sport, true),
    destinationPort: view.getUint16(E.dport, true),
    state: TCP_STATE_NAMES[stateNum] ?? 'UNKNOWN',
    tcpFlags: view.getUint16(E.tcp_flags, true),
    segments: Math.max(1, view.getUint16(E.segs, true)),
  };
}

/** The shape of a ring-buffer batch (bpf-runtime's RecordBatch): records are views into one buffer. */
export interface RecordBatchLike {
  count: number;
  buffer: Uint8Array;
  offsets: Uint32Array;
  lengths: Uint32Array;
}

/** Decodes every record of a batch; records that cannot be decoded are counted, not thrown. */
export function decodeRetransBatch(batch: RecordBatchLike): { events: RetransEvent[]; malformed: number } {
  const events: RetransEvent[] = [];
  let malformed = 0;
  for (let i = 0; i < batch.count; i++) {
    try {
      events.push(decodeRetransEvent(batch.buffer, batch.offsets[i] ?? 0, batch.lengths[i] ?? 0));
    } catch (err) {
      if (!(err instanceof RetransDecodeError)) throw err;
      malformed++;
    }
  }
  return { events, malformed };
}

/** Retransmissions of one connection with the same flags, folded together. */
export interface RetransAggregate {
  /** The most recent event of the group. */
  last: RetransEvent;
  /** Segments retransmitted in the group (the sum of the events' `segments`). */
  count: number;
}

/**
 * Folds events of the same connection (addresses, ports) and TCP flags into one group, in order of first
 * appearance, so a storm on a few connections becomes a few flows per batch instead of one per segment.
 */
export function aggregateRetransEvents(events: readonly RetransEvent[]): RetransAggregate[] {
  const groups = new Map<string, RetransAggregate>();
  for (const e of events) {
    const key = `${e.source}|${e.sourcePort}|${e.destination}|${e.destinationPort}|${e.tcpFlags}`;
    const g = groups.get(key);
    if (g) {
      g.count += e.segments;
      if (e.monotonicNs >= g.last.monotonicNs) g.last = e;
    } else {
      groups.set(key, { last: e, count: e.segments });
    }
  }
  return [...groups.values()];
}

const FLAG_BITS: ReadonlyArray<[keyof TcpFlags, number]> = [
  ['FIN', 0x01],
  ['SYN', 0x02],
  ['RST', 0x04],
  ['PSH', 0x08],
  ['ACK', 0x10],
  ['URG', 0x20],
  ['ECE', 0x40],
  ['CWR', 0x80],
  // AccECN renamed the old NS bit to AE; Hubble still calls it NS.
  ['NS', 0x100],
];

/** The flags set in the kernel's TCP flags word (`tcp_skb_cb.tcp_flags`). */
export function tcpFlagsFromBits(bits: number): TcpFlags {
  const flags: TcpFlags = {};
  for (const [name, bit] of FLAG_BITS) if (bits & bit) flags[name] = true;
  return flags;
}

/** Options of `retransFlow`. */
export interface RetransFlowOptions {
  nodeName: string;
  /** Added to the event's monotonic time to get epoch nanoseconds (readEvents' `clock.epochOffsetNs`). */
  epochOffsetNs: bigint;
}

/**
 * The flow record of a (group of) retransmission(s): verdict RETRANSMISSION, observed at TO_STACK going EGRESS
 * (the sender retransmits), TCP with the segment's flags; `extensions.packets` when it stands for more than one.
 */
export function retransFlow(group: RetransAggregate, opts: RetransFlowOptions): Flow {
  const e = group.last;
  const flow: Flow = {
    timeNs: e.monotonicNs + opts.epochOffsetNs,
    verdict: Verdict.RETRANSMISSION,
    type: FlowType.L3_L4,
    nodeName: opts.nodeName,
    eventType: { type: CiliumEventType.TRACE, subType: TRACE_TO_STACK },
    ip: flowIp(e.source, e.destination, e.ipVersion),
    l4: { tcp: { sourcePort: e.sourcePort, destinationPort: e.destinationPort, flags: tcpFlagsFromBits(e.tcpFlags) } },
    trafficDirection: TrafficDirection.EGRESS,
    traceObservationPoint: TraceObservationPoint.TO_STACK,
    isReply: false,
    emitter: 'tcpretrans',
  };
  if (group.count > 1) flow.extensions = { packets: group.count };
  return flow;
}

/** Totals of the kernel's per-CPU `tr_stats`. */
export interface RetransStats {
  /** Every retransmission the tracepoint saw. */
  retransmits: bigint;
  /** Events the ring buffer had no room for. */
  eventsLost: bigint;
  /** Events held back by the per-CPU rate limit. */
  eventsLimited: bigint;
}

/** Sums the per-CPU `tr_stats` values. */
export function sumRetransStats(values: readonly Uint8Array[]): RetransStats {
  const t = sumPerCpuFields(values, TR_STATS, 'tr_stats', ['retransmits', 'events_lost', 'events_limited']);
  return { retransmits: t.retransmits, eventsLost: t.events_lost, eventsLimited: t.events_limited };
}
