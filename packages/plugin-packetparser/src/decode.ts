/**
 * Pure parts of the packetparser plugin: the kernel event layout, its decoding, the mapping of an event to a core
 * `Flow`, and the encoding of the keys user space writes into the BPF maps. No I/O, so all of it is tested with
 * fixtures.
 */
import { isIP } from 'node:net';
import {
  CiliumEventType,
  FlowType,
  flowIp,
  TraceObservationPoint,
  TraceSubType,
  Verdict,
  type TrafficDirection,
  type Flow,
  type RetinaExtensions,
  type TcpFlagName,
  type TcpFlags,
} from '@retina-ts/core';
import { defineStruct, formatIpv6 } from '@retina-ts/bpf-runtime';

/**
 * `struct pp_event` of bpf/packetparser.bpf.c, field for field with the C names: the one declaration the decoder
 * takes its offsets from. test/layout.test.ts checks it against the struct in the compiled object's BTF, so a C
 * change that moves a field fails a test instead of decoding garbage.
 */
export const PP_EVENT = defineStruct({
  t_ns: 'u64',
  src: { bytes: 16 },
  dst: { bytes: 16 },
  sport: 'be16',
  dport: 'be16',
  bytes: 'u32',
  seq: 'u32',
  ack: 'u32',
  tsval: 'u32',
  tsecr: 'u32',
  obs: 'u8',
  traffic_direction: 'u8',
  proto: 'u8',
  family: 'u8',
  flags: 'u16',
  is_reply: 'u8',
  pad: 'u8',
  prev_packets: 'u32',
  prev_bytes: 'u32',
  prev_flags: { array: 'u32', length: 9 },
  sample_rate: 'u32',
  ct_bytes_tx: 'u64',
  ct_bytes_rx: 'u64',
  ct_packets_tx: 'u64',
  ct_packets_rx: 'u64',
});

/** Size of `struct pp_event`. */
export const EVENT_SIZE = PP_EVENT.size;

const P = PP_EVENT.offsets;
/** Byte offsets of `struct pp_event`, from PP_EVENT. */
export const EVENT_OFFSETS = {
  tNs: P.t_ns,
  src: P.src,
  dst: P.dst,
  sport: P.sport,
  dport: P.dport,
  bytes: P.bytes,
  seq: P.seq,
  ack: P.ack,
  tsval: P.tsval,
  tsecr: P.tsecr,
  obs: P.obs,
  trafficDirection: P.traffic_direction,
  proto: P.proto,
  family: P.family,
  flags: P.flags,
  isReply: P.is_reply,
  prevPackets: P.prev_packets,
  prevBytes: P.prev_bytes,
  prevFlags: P.prev_flags,
  sampleRate: P.sample_rate,
  ctBytesTx: P.ct_bytes_tx,
  ctBytesRx: P.ct_bytes_rx,
  ctPacketsTx: P.ct_packets_tx,
  ctPacketsRx: P.ct_packets_rx,
} as const;

/** The hook a program sits on, as the kernel numbers it. */
export enum ObservationPoint {
  /** Host side of a pod veth, ingress: the packet leaves the pod. */
  FROM_ENDPOINT = 0,
  /** Host side of a pod veth, egress: the packet goes into the pod. */
  TO_ENDPOINT = 1,
  /** Node interface, ingress. */
  FROM_NETWORK = 2,
  /** Node interface, egress. */
  TO_NETWORK = 3,
}

/** TCP flag bits as the TCP header carries them (and the event's `flags`). */
export const TCP_FLAG_BITS: Readonly<Record<Exclude<TcpFlagName, 'NS'>, number>> = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
};

/** Order of the kernel's `prev_flags` counters. */
export const PREV_FLAG_ORDER: readonly TcpFlagName[] = ['SYN', 'ACK', 'FIN', 'RST', 'PSH', 'URG', 'ECE', 'CWR', 'NS'];

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** One decoded kernel event. Ports are in host order; addresses are text. */
export interface PacketEvent {
  /** CLOCK_MONOTONIC nanoseconds. */
  tNs: bigint;
  family: 4 | 6;
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  proto: number;
  /** skb->len at the hook. */
  bytes: number;
  seq: number;
  ack: number;
  tsval: number;
  tsecr: number;
  observationPoint: number;
  /** flow.TrafficDirection of the connection (its opener's direction). */
  trafficDirection: TrafficDirection;
  /** TCP flags bitmask (TCP_FLAG_BITS); 1 for UDP. */
  flags: number;
  isReply: boolean;
  /** Counters accumulated since the connection's previous report (0 at low aggregation). */
  previouslyObservedPackets: number;
  previouslyObservedBytes: number;
  previouslyObservedFlags: number[];
  /**
   * Connection totals per direction (tx = the opener's direction). Numbers, exact up to 2^53 (8 PiB): reading them
   * as bigint would allocate four BigInts per event on the hot path.
   */
  conntrack: { bytesTx: number; bytesRx: number; packetsTx: number; packetsRx: number };
  /** Under cpuBudget sampling: the kernel reported one event in this many (absent when not sampled). */
  sampleRate?: number;
}

/** IPv4 texts by address: a node sees the same few thousand addresses over and over. */
const ipv4Texts = new Map<number, string>();
const IPV4_TEXTS_MAX = 65_536;

/** Formats 4 or 16 address bytes at `offset` (`bytes` views the same memory as `view`). */
function formatAddress(view: DataView, bytes: Uint8Array, offset: number, family: 4 | 6): string {
  if (family === 4) {
    const n = view.getUint32(offset, false);
    let text = ipv4Texts.get(n);
    if (text === undefined) {
      text = `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
      // Dropping every entry at the cap keeps the cost bounded without LRU bookkeeping per event.
      if (ipv4Texts.size >= IPV4_TEXTS_MAX) ipv4Texts.clear();
      ipv4Texts.set(n, text);
    }
    return text;
  }
  return formatIpv6(bytes, offset);
}

/** Thrown for a record that is not a `pp_event`. */
export class MalformedEventError extends Error {
  override name = 'MalformedEventError';
}

/** Decodes one `pp_event` record. Throws MalformedEventError for a short record or an unknown address family. */
export function decodeEvent(record: Uint8Array): PacketEvent {
  const bytes = new Uint8Array(record.buffer, record.byteOffset, record.byteLength);
  return decodeAt(new DataView(record.buffer, record.byteOffset, record.byteLength), bytes, 0, record.byteLength);
}

/** A little-endian u64 as a number (exact below 2^53). */
function u64(v: DataView, offset: number): number {
  return v.getUint32(offset, true) + v.getUint32(offset + 4, true) * 0x1_0000_0000;
}

/** Decodes the record of `length` bytes at `base` in `v` and `bytes` (two views of one batch serve all of it). */
function decodeAt(v: DataView, bytes: Uint8Array, base: number, length: number): PacketEvent {
  if (length < EVENT_SIZE) {
    throw new MalformedEventError(
      `packetparser event has ${length} bytes, expected ${EVENT_SIZE} (rebuild the package so the BPF object and decoder match)`,
    );
  }
  const o = EVENT_OFFSETS;
  const family = v.getUint8(base + o.family);
  if (family !== 4 && family !== 6) {
    throw new MalformedEventError(`packetparser event has address family ${family}; expected 4 or 6`);
  }
  const prev: number[] = [];
  for (let i = 0; i < PREV_FLAG_ORDER.length; i++) prev.push(v.getUint32(base + o.prevFlags + i * 4, true));
  const ev: PacketEvent = {
    tNs: v.getBigUint64(base + o.tNs, true),
    family,
    source: formatAddress(v, bytes, base + o.src, family),
    destination: formatAddress(v, bytes, base + o.dst, family),
    sourcePort: v.getUint16(base + o.sport, false),
    destinationPort: v.getUint16(base + o.dport, false),
    proto: v.getUint8(base + o.proto),
    bytes: v.getUint32(base + o.bytes, true),
    seq: v.getUint32(base + o.seq, true),
    ack: v.getUint32(base + o.ack, true),
    tsval: v.getUint32(base + o.tsval, true),
    tsecr: v.getUint32(base + o.tsecr, true),
    observationPoint: v.getUint8(base + o.obs),
    trafficDirection: v.getUint8(base + o.trafficDirection) as TrafficDirection,
    flags: v.getUint16(base + o.flags, true),
    isReply: v.getUint8(base + o.isReply) !== 0,
    previouslyObservedPackets: v.getUint32(base + o.prevPackets, true),
    previouslyObservedBytes: v.getUint32(base + o.prevBytes, true),
    previouslyObservedFlags: prev,
    conntrack: {
      bytesTx: u64(v, base + o.ctBytesTx),
      bytesRx: u64(v, base + o.ctBytesRx),
      packetsTx: u64(v, base + o.ctPacketsTx),
      packetsRx: u64(v, base + o.ctPacketsRx),
    },
  };
  const sampleRate = v.getUint32(base + o.sampleRate, true);
  if (sampleRate > 1) ev.sampleRate = sampleRate;
  return ev;
}

/** A ring-buffer batch, as @retina-ts/bpf-runtime delivers it. */
export interface EventBatch {
  count: number;
  buffer: Buffer;
  offsets: Uint32Array;
  lengths: Uint32Array;
}

/** Decodes every record of a batch; records that do not decode are counted, not thrown. */
export function decodeBatch(batch: EventBatch): { events: PacketEvent[]; malformed: number } {
  const events: PacketEvent[] = [];
  let malformed = 0;
  const { buffer } = batch;
  const view = new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  const bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  for (let i = 0; i < batch.count; i++) {
    try {
      events.push(decodeAt(view, bytes, batch.offsets[i]!, batch.lengths[i]!));
    } catch (err) {
      if (!(err instanceof MalformedEventError)) throw err;
      malformed++;
    }
  }
  return { events, malformed };
}

/** (TraceObservationPoint, EventType.SubType) of each kernel observation point, as Retina's ToFlow maps them. */
const OBSERVATION: Record<number, { point: TraceObservationPoint; subType: number }> = {
  [ObservationPoint.FROM_ENDPOINT]: { point: TraceObservationPoint.TO_STACK, subType: TraceSubType.TO_STACK },
  [ObservationPoint.TO_ENDPOINT]: { point: TraceObservationPoint.TO_ENDPOINT, subType: TraceSubType.TO_LXC },
  [ObservationPoint.FROM_NETWORK]: { point: TraceObservationPoint.FROM_NETWORK, subType: TraceSubType.FROM_NETWORK },
  [ObservationPoint.TO_NETWORK]: { point: TraceObservationPoint.TO_NETWORK, subType: TraceSubType.TO_NETWORK },
};

/** The TCP flags bitmask as a flow's `TcpFlags` (only the set ones). */
export function tcpFlagsOf(bits: number): TcpFlags {
  const flags: TcpFlags = {};
  for (const [name, bit] of Object.entries(TCP_FLAG_BITS) as Array<[keyof typeof TCP_FLAG_BITS, number]>) {
    if (bits & bit) flags[name] = true;
  }
  return flags;
}

/** Options of eventToFlow(). */
export interface FlowOptions {
  nodeName: string;
  /** Added to the event's monotonic time to get epoch nanoseconds (readEvents' `clock.epochOffsetNs`). */
  epochOffsetNs: bigint;
}

/**
 * Builds the flow record of one event: verdict FORWARDED, L3_L4, trace event type with the observation point's
 * subtype, IsReply and TrafficDirection from the kernel's connection tracker, and the extensions `bytes`,
 * `previously_observed_*` (only when non-zero), `tcp_id` (TSval leaving the node, TSecr entering it) and, for an
 * event kept by cpuBudget sampling, `sampleRate`.
 */
export function eventToFlow(ev: PacketEvent, opts: FlowOptions): Flow {
  const obs = OBSERVATION[ev.observationPoint];
  const extensions: RetinaExtensions = { bytes: ev.bytes };
  if (ev.previouslyObservedPackets > 0) extensions.previouslyObservedPackets = ev.previouslyObservedPackets;
  if (ev.previouslyObservedBytes > 0) extensions.previouslyObservedBytes = ev.previouslyObservedBytes;
  if (ev.previouslyObservedFlags.some((n) => n > 0)) {
    const prev: Partial<Record<TcpFlagName, number>> = {};
    PREV_FLAG_ORDER.forEach((name, i) => {
      prev[name] = ev.previouslyObservedFlags[i] ?? 0;
    });
    extensions.previouslyObservedTcpFlags = prev;
  }
  const tcpId =
    ev.observationPoint === ObservationPoint.TO_NETWORK
      ? ev.tsval
      : ev.observationPoint === ObservationPoint.FROM_NETWORK
        ? ev.tsecr
        : 0;
  if (ev.proto === IPPROTO_TCP && tcpId !== 0) extensions.tcpId = tcpId;
  if (ev.sampleRate !== undefined) extensions.sampleRate = ev.sampleRate;

  const flow: Flow = {
    timeNs: ev.tNs + opts.epochOffsetNs,
    verdict: Verdict.FORWARDED,
    type: FlowType.L3_L4,
    nodeName: opts.nodeName,
    ip: flowIp(ev.source, ev.destination, ev.family),
    eventType: { type: CiliumEventType.TRACE, subType: obs?.subType ?? 0 },
    traceObservationPoint: obs?.point ?? TraceObservationPoint.UNKNOWN_POINT,
    trafficDirection: ev.trafficDirection,
    isReply: ev.isReply,
    emitter: 'packetparser',
    extensions,
  };
  if (ev.proto === IPPROTO_TCP) {
    flow.l4 = { tcp: { sourcePort: ev.sourcePort, destinationPort: ev.destinationPort, flags: tcpFlagsOf(ev.flags) } };
  } else if (ev.proto === IPPROTO_UDP) {
    flow.l4 = { udp: { sourcePort: ev.sourcePort, destinationPort: ev.destinationPort } };
  }
  return flow;
}

/** `struct pp_addr`: a key of the IPs-of-interest map (checked against BTF like PP_EVENT). */
export const PP_ADDR = defineStruct({ b: { bytes: 16 } });

/** Size of a key of the IPs-of-interest map (`struct pp_addr`). */
export const ADDRESS_KEY_SIZE = PP_ADDR.size;

/**
 * The IPs-of-interest map key of an address: IPv4 in the first 4 bytes (rest zero), IPv6 as its 16 bytes.
 * IPv4-mapped IPv6 (`::ffff:a.b.c.d`) is stored as IPv4, since that is how the packets carry it.
 */
export function addressKey(ip: string): Buffer {
  const key = Buffer.alloc(ADDRESS_KEY_SIZE);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  const text = mapped ? mapped[1]! : ip;
  const version = isIP(text);
  if (version === 4) {
    text.split('.').forEach((part, i) => key.writeUInt8(Number(part), i));
    return key;
  }
  if (version !== 6) throw new TypeError(`"${ip}" is not an IPv4 or IPv6 address; pass addresses such as 10.0.0.1 or fd00::1`);
  const [head = '', tail] = text.split('::') as [string, string | undefined];
  const parse = (s: string) => (s === '' ? [] : s.split(':'));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  // A trailing dotted quad (e.g. 64:ff9b::1.2.3.4) stands for two groups.
  const expand = (groups: string[]) =>
    groups.flatMap((g) => {
      if (!g.includes('.')) return [g];
      const b = g.split('.').map(Number) as [number, number, number, number];
      return [((b[0] << 8) | b[1]).toString(16), ((b[2] << 8) | b[3]).toString(16)];
    });
  const l = expand(left);
  const r = expand(right);
  const groups = tail === undefined ? l : [...l, ...Array<string>(8 - l.length - r.length).fill('0'), ...r];
  groups.forEach((g, i) => key.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return key;
}

/** `struct ct_key` of bpf/packetparser.bpf.c: the connection table's key (checked against BTF like PP_EVENT). */
export const CT_KEY = defineStruct({
  src: { bytes: 16 },
  dst: { bytes: 16 },
  sport: 'be16',
  dport: 'be16',
  proto: 'u8',
  family: 'u8',
  pad: { bytes: 2 },
});

/** `struct ct_dir`: one direction's state inside a `ct_entry` (9 flag counters, as PREV_FLAG_ORDER). */
export const CT_DIR = defineStruct({
  last_report_ns: 'u64',
  bytes_since_report: 'u32',
  packets_since_report: 'u32',
  flags_since_report: { array: 'u32', length: 9 },
  flags_seen: 'u8',
  pad: { bytes: 3 },
  bytes_total: 'u64',
  packets_total: 'u64',
});

/** `struct ct_entry`: the connection table's value; `dir[0]` is the opener's direction (tx), `dir[1]` the replies. */
export const CT_ENTRY = defineStruct({
  eviction_ns: 'u64',
  dir: { array: CT_DIR, length: 2 },
  traffic_direction: 'u8',
  direction_unknown: 'u8',
  pad: { bytes: 6 },
});

/** Sizes of `struct ct_entry` (its `eviction_ns` comes first) and `struct ct_key`. */
export const CT_ENTRY_SIZE = CT_ENTRY.size;
export const CT_KEY_SIZE = CT_KEY.size;

/** Whether a conntrack entry has expired at monotonic time `nowNs` (its `eviction_ns` is in the past). */
export function ctEntryExpired(value: Uint8Array, nowNs: bigint): boolean {
  if (value.byteLength < 8) {
    throw new RangeError(`conntrack entry has ${value.byteLength} bytes; expected ${CT_ENTRY_SIZE} (rebuild the package)`);
  }
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return v.getBigUint64(0, true) < nowNs;
}

/** Offsets in `struct ct_entry` of the per-direction totals, from CT_ENTRY and CT_DIR. */
const CT_TOTALS = {
  bytesTx: CT_ENTRY.offsets.dir + CT_DIR.offsets.bytes_total,
  packetsTx: CT_ENTRY.offsets.dir + CT_DIR.offsets.packets_total,
  bytesRx: CT_ENTRY.offsets.dir + CT_DIR.size + CT_DIR.offsets.bytes_total,
  packetsRx: CT_ENTRY.offsets.dir + CT_DIR.size + CT_DIR.offsets.packets_total,
} as const;

/** Traffic totals of one tracked connection, per direction (tx = the opener's direction). */
export interface ConnectionTotals {
  bytesTx: number;
  bytesRx: number;
  packetsTx: number;
  packetsRx: number;
}

/** Reads the per-direction totals of a conntrack entry. Throws RangeError for a value that is not a `ct_entry`. */
export function ctEntryTotals(value: Uint8Array): ConnectionTotals {
  if (value.byteLength < CT_ENTRY_SIZE) {
    throw new RangeError(`conntrack entry has ${value.byteLength} bytes; expected ${CT_ENTRY_SIZE} (rebuild the package)`);
  }
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  return {
    bytesTx: u64(v, CT_TOTALS.bytesTx),
    bytesRx: u64(v, CT_TOTALS.bytesRx),
    packetsTx: u64(v, CT_TOTALS.packetsTx),
    packetsRx: u64(v, CT_TOTALS.packetsRx),
  };
}
