/**
 * Layouts shared with bpf/dropreason.bpf.c, and the pure functions that turn kernel records into metric rows and
 * flows. Everything here is little-endian host data written by the BPF program (x86_64 and arm64).
 */
import {
  CiliumEventType,
  FlowType,
  flowIp,
  TraceObservationPoint,
  TrafficDirection,
  Verdict,
} from '@retina-ts/core';
import { defineStruct, formatIpv4, formatIpv6, sumPerCpuFields } from '@retina-ts/bpf-runtime';
import type { Flow, Layer4 } from '@retina-ts/core';
import { dropReasonDesc, type DropReasonCatalog } from './reasons.js';

/** Code-unit order: the same on every host, and no ICU collation data loaded (unlike localeCompare). */
const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Direction values written by the kernel program. */
export const DIR_INGRESS = 0;
export const DIR_EGRESS = 1;

/** The `direction` label for a kernel direction value. */
export function directionLabel(dir: number): 'ingress' | 'egress' | 'unknown' {
  if (dir === DIR_INGRESS) return 'ingress';
  if (dir === DIR_EGRESS) return 'egress';
  return 'unknown';
}

/*
 * The structs shared with bpf/dropreason.bpf.c, field for field with the C names: the one declaration each decoder
 * below takes its offsets from. test/layout.test.ts checks them against the compiled object's BTF.
 */

/** `struct metric_key`: a key of the per-CPU counters map. */
export const METRIC_KEY = defineStruct({ reason: 'u32', dir: 'u32' });
/** `struct metric_val`: one CPU's counters of a key. */
export const METRIC_VAL = defineStruct({ packets: 'u64', bytes: 'u64' });
/** `struct drop_event`: a ring-buffer record. */
export const DROP_EVENT = defineStruct({
  ts_mono_ns: 'u64',
  reason: 'u32',
  skb_len: 'u32',
  packets: 'u64',
  bytes: 'u64',
  saddr: { bytes: 16 },
  daddr: { bytes: 16 },
  sport: 'u16',
  dport: 'u16',
  ip_version: 'u8',
  l4proto: 'u8',
  dir: 'u8',
  pad: 'u8',
  ifindex: 'u32',
  netns: 'u32',
});

/** Size of `struct metric_key`. */
export const METRIC_KEY_SIZE = METRIC_KEY.size;
/** Size of `struct metric_val` (one per CPU). */
export const METRIC_VALUE_SIZE = METRIC_VAL.size;

const K = METRIC_KEY.offsets;
const E = DROP_EVENT.offsets;

/** Indexes of the kernel's rts_dr_stats per-CPU array, and the lost-event reason each one reports. */
export const KERNEL_STATS = [
  { index: 0, reason: 'dropreason_ringbuf_full' },
  { index: 1, reason: 'dropreason_rate_limited' },
  { index: 2, reason: 'dropreason_metrics_map_full' },
] as const;

/** One (reason, direction) counter summed over CPUs. */
export interface DropCounter {
  reason: number;
  dir: number;
  packets: bigint;
  bytes: bigint;
}

/** Decodes a metrics map key. */
export function decodeMetricKey(key: Uint8Array): { reason: number; dir: number } {
  if (key.byteLength < METRIC_KEY_SIZE) {
    throw new RangeError(`metric key: ${key.byteLength} bytes, expected ${METRIC_KEY_SIZE}`);
  }
  const v = new DataView(key.buffer, key.byteOffset, key.byteLength);
  return { reason: v.getUint32(K.reason, true), dir: v.getUint32(K.dir, true) };
}

/** Encodes a metrics map key (used by tests and map look-ups). */
export function encodeMetricKey(reason: number, dir: number): Buffer {
  const b = Buffer.alloc(METRIC_KEY_SIZE);
  b.writeUInt32LE(reason >>> 0, K.reason);
  b.writeUInt32LE(dir >>> 0, K.dir);
  return b;
}

/** Sums a per-CPU metrics value (one 16-byte slot per CPU) into packets and bytes. */
export function sumMetricValues(perCpu: readonly Uint8Array[]): { packets: bigint; bytes: bigint } {
  return sumPerCpuFields(perCpu, METRIC_VAL, 'metric_val', ['packets', 'bytes']);
}

/** One metric series: label values and the cumulative totals to set. */
export interface DropSeries {
  reason: string;
  direction: string;
  packets: number;
  bytes: number;
}

/**
 * Folds kernel counters into metric series. Several kernel values can share one label (e.g. unnamed values all
 * become UNKNOWN_DROP), so their totals are added, never overwritten. Output is sorted for stable exposition.
 */
export function toSeries(counters: Iterable<DropCounter>, catalog: DropReasonCatalog): DropSeries[] {
  const byLabel = new Map<string, DropSeries>();
  for (const c of counters) {
    if (catalog.isNormalFree(c.reason)) continue;
    const reason = catalog.label(c.reason);
    const direction = directionLabel(c.dir);
    const id = `${reason}\u0000${direction}`;
    const row = byLabel.get(id) ?? { reason, direction, packets: 0, bytes: 0 };
    row.packets += Number(c.packets);
    row.bytes += Number(c.bytes);
    byLabel.set(id, row);
  }
  return [...byLabel.values()].sort(
    (a, b) => compareStrings(a.reason, b.reason) || compareStrings(a.direction, b.direction),
  );
}

/** Size of `struct drop_event`. */
export const DROP_EVENT_SIZE = DROP_EVENT.size;

/** A decoded ring-buffer record. */
export interface DropEvent {
  /** CLOCK_MONOTONIC nanoseconds when the record was written (the clock of process.hrtime). */
  tsMonoNs: bigint;
  reason: number;
  /** skb->len of the packet that triggered the record. */
  skbLen: number;
  /** Packets this record stands for (1 plus drops of the same flow folded into it). */
  packets: number;
  bytes: number;
  /** 4, 6, or 0 when the packet had no readable IP header. */
  ipVersion: number;
  source: string;
  destination: string;
  /** Transport protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...), 0 if unknown. */
  l4proto: number;
  /** Ports in host order; for ICMP the type and code. */
  sport: number;
  dport: number;
  dir: number;
  ifindex: number;
  netns: number;
}

/** Decodes one `struct drop_event` at `off`. Throws RangeError when fewer than DROP_EVENT_SIZE bytes remain. */
export function decodeDropEvent(buf: Uint8Array, off = 0): DropEvent {
  if (off < 0 || off + DROP_EVENT_SIZE > buf.byteLength) {
    throw new RangeError(
      `drop event: need ${DROP_EVENT_SIZE} bytes at offset ${off}, buffer has ${buf.byteLength}`,
    );
  }
  const v = new DataView(buf.buffer, buf.byteOffset + off, DROP_EVENT_SIZE);
  const ipVersion = v.getUint8(E.ip_version);
  const base = buf.byteOffset + off;
  const bytes = new Uint8Array(buf.buffer, base, DROP_EVENT_SIZE);
  let source = '';
  let destination = '';
  if (ipVersion === 4) {
    source = formatIpv4(bytes, E.saddr);
    destination = formatIpv4(bytes, E.daddr);
  } else if (ipVersion === 6) {
    source = formatIpv6(bytes, E.saddr);
    destination = formatIpv6(bytes, E.daddr);
  }
  return {
    tsMonoNs: v.getBigUint64(E.ts_mono_ns, true),
    reason: v.getUint32(E.reason, true),
    skbLen: v.getUint32(E.skb_len, true),
    packets: Number(v.getBigUint64(E.packets, true)),
    bytes: Number(v.getBigUint64(E.bytes, true)),
    source,
    destination,
    sport: v.getUint16(E.sport, true),
    dport: v.getUint16(E.dport, true),
    ipVersion,
    l4proto: v.getUint8(E.l4proto),
    dir: v.getUint8(E.dir),
    ifindex: v.getUint32(E.ifindex, true),
    netns: v.getUint32(E.netns, true),
  };
}

/** Encodes a DropEvent into the kernel layout (for fixtures and tests). */
export function encodeDropEvent(e: DropEvent, srcBytes: Uint8Array, dstBytes: Uint8Array): Buffer {
  const b = Buffer.alloc(DROP_EVENT_SIZE);
  b.writeBigUInt64LE(e.tsMonoNs, E.ts_mono_ns);
  b.writeUInt32LE(e.reason, E.reason);
  b.writeUInt32LE(e.skbLen, E.skb_len);
  b.writeBigUInt64LE(BigInt(e.packets), E.packets);
  b.writeBigUInt64LE(BigInt(e.bytes), E.bytes);
  b.set(srcBytes.subarray(0, 16), E.saddr);
  b.set(dstBytes.subarray(0, 16), E.daddr);
  b.writeUInt16LE(e.sport, E.sport);
  b.writeUInt16LE(e.dport, E.dport);
  b.writeUInt8(e.ipVersion, E.ip_version);
  b.writeUInt8(e.l4proto, E.l4proto);
  b.writeUInt8(e.dir, E.dir);
  b.writeUInt32LE(e.ifindex, E.ifindex);
  b.writeUInt32LE(e.netns, E.netns);
  return b;
}

/** What eventToFlow needs besides the record. */
export interface FlowContext {
  catalog: DropReasonCatalog;
  nodeName: string;
  /** Wall clock minus CLOCK_MONOTONIC, in ns: added to the record time. */
  monoToEpochNs: bigint;
}

function layer4(e: DropEvent): Layer4 | undefined {
  switch (e.l4proto) {
    case 6:
      return { tcp: { sourcePort: e.sport, destinationPort: e.dport } };
    case 17:
      return { udp: { sourcePort: e.sport, destinationPort: e.dport } };
    case 132:
      return { sctp: { sourcePort: e.sport, destinationPort: e.dport } };
    case 1:
      return e.ipVersion === 4 ? { icmpv4: { type: e.sport, code: e.dport } } : undefined;
    case 58:
      return e.ipVersion === 6 ? { icmpv6: { type: e.sport, code: e.dport } } : undefined;
    default:
      return undefined;
  }
}

/** Turns a drop record into a DROPPED flow, shaped as Retina's dropreason flows (event type 1 = drop). */
export function eventToFlow(e: DropEvent, ctx: FlowContext): Flow {
  const label = ctx.catalog.label(e.reason);
  const desc = dropReasonDesc(label);
  const ingress = e.dir === DIR_INGRESS;
  const flow: Flow = {
    timeNs: e.tsMonoNs + ctx.monoToEpochNs,
    verdict: Verdict.DROPPED,
    dropReasonDesc: desc,
    type: FlowType.L3_L4,
    nodeName: ctx.nodeName,
    eventType: { type: CiliumEventType.DROP, subType: desc },
    trafficDirection: ingress ? TrafficDirection.INGRESS : TrafficDirection.EGRESS,
    traceObservationPoint: ingress ? TraceObservationPoint.FROM_NETWORK : TraceObservationPoint.TO_NETWORK,
    emitter: 'dropreason',
    extensions: { dropReason: label, bytes: e.bytes, packets: e.packets },
  };
  if (e.ipVersion === 4 || e.ipVersion === 6) {
    flow.ip = flowIp(e.source, e.destination, e.ipVersion);
  }
  const l4 = layer4(e);
  if (l4) flow.l4 = l4;
  return flow;
}
