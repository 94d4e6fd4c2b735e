/**
 * The flow ring: a fixed number of the most recent events (served flows and lost-event notices), each addressed by a
 * sequence number that only grows. Readers hold a sequence number, not a copy: a reader that falls behind by more
 * than the capacity finds its next entry overwritten and reports the gap as lost events, so no reader can hold up
 * the writer or another reader.
 */
import type protobuf from 'protobufjs';
import type { PbFlow, PbLostEvent, PbTimestamp } from './wire.js';
import { Wire } from './wire.js';

/** One ring entry: a flow or a notice that events were lost before they reached the ring. */
export interface RingEntry {
  /** Event time in nanoseconds since the epoch (flow time, or when the loss was noticed). */
  timeNs: bigint;
  time: PbTimestamp;
  flow?: PbFlow;
  lost?: PbLostEvent;
  /** Encoded GetFlowsResponse, filled by the first reader that sends the entry and reused by the others. */
  encoded?: Uint8Array;
}

/**
 * A flow entry held only as its encoded GetFlowsResponse. Keeping the flow object graph (some 30 objects) alive for
 * the ring's lifetime made the young-generation collector copy and promote every flow under a flood; bytes are one
 * object. The flow object is decoded again only when a request needs it (filters, field masks), once per entry.
 */
export class EncodedFlowEntry implements RingEntry {
  readonly timeNs: bigint;
  readonly time: PbTimestamp;
  readonly encoded: Uint8Array;
  readonly #type: protobuf.Type;
  #flow: PbFlow | undefined;

  constructor(timeNs: bigint, time: PbTimestamp, encoded: Uint8Array, getFlowsResponseType: protobuf.Type) {
    this.timeNs = timeNs;
    this.time = time;
    this.encoded = encoded;
    this.#type = getFlowsResponseType;
  }

  get flow(): PbFlow {
    return (this.#flow ??= decodeFlow(this.#type, this.encoded));
  }
}

const DECODE_OPTIONS: protobuf.IConversionOptions = { longs: Number, enums: Number, defaults: false };

type Loose = Record<string, unknown>;

/** Sets `fields` of `obj` missing after decoding (proto3 does not encode default values) to their defaults. */
function fill(obj: unknown, defaults: Loose): void {
  if (obj === null || typeof obj !== 'object') return;
  const o = obj as Loose;
  for (const [k, v] of Object.entries(defaults)) if (o[k] === undefined) o[k] = Array.isArray(v) ? [] : v;
}

/**
 * The flow of an encoded GetFlowsResponse, in the shape the converter produces: scalars the converter always sets
 * are filled in with their defaults where the wire form omitted them.
 */
export function decodeFlow(getFlowsResponseType: protobuf.Type, bytes: Uint8Array): PbFlow {
  const msg = getFlowsResponseType.toObject(getFlowsResponseType.decode(bytes), DECODE_OPTIONS) as {
    flow: Loose;
  };
  const f = msg.flow;
  fill(f, { uuid: '', verdict: 0, Type: 0, node_name: '', traffic_direction: 0 });
  fill(f.time, { seconds: 0, nanos: 0 });
  fill(f.event_type, { type: 0, sub_type: 0 });
  if (f.verdict === Wire.verdict.DROPPED) fill(f, { drop_reason_desc: 0, drop_reason: 0 });
  fill(f.IP, { source: '', destination: '', ipVersion: 0 });
  const l4 = f.l4 as Loose | undefined;
  if (l4) {
    for (const k of ['TCP', 'UDP', 'SCTP']) fill(l4[k], { source_port: 0, destination_port: 0 });
    for (const k of ['ICMPv4', 'ICMPv6']) fill(l4[k], { type: 0, code: 0 });
  }
  const l7 = f.l7 as Loose | undefined;
  if (l7) {
    fill(l7, { type: 0, latency_ns: 0 });
    fill(l7.dns, {
      query: '',
      ips: [],
      ttl: 0,
      cnames: [],
      observation_source: '',
      rcode: 0,
      qtypes: [],
      rrtypes: [],
    });
  }
  if (f.is_reply) {
    fill(f.is_reply, { value: false });
    fill(f, { reply: false });
  }
  fill(f.interface, { index: 0, name: '' });
  fill(f.emitter, { name: '', version: '' });
  for (const side of ['source', 'destination']) {
    for (const w of ((f[side] as Loose | undefined)?.workloads as unknown[] | undefined) ?? [])
      fill(w, { name: '', kind: '' });
    fill(f[`${side}_service`], { name: '', namespace: '' });
  }
  return f as unknown as PbFlow;
}

/** Capacities Hubble accepts: 2^n - 1 from 1 to 65535. */
export function isValidRingCapacity(capacity: number): boolean {
  return (
    Number.isInteger(capacity) && capacity >= 1 && capacity <= 65535 && ((capacity + 1) & capacity) === 0
  );
}

/** Fixed-capacity ring of recent events. */
export class FlowRing {
  readonly capacity: number;
  readonly #slots: (RingEntry | undefined)[];
  /** Sequence number the next write gets. */
  #next = 0;
  readonly #listeners = new Set<() => void>();

  constructor(capacity: number) {
    if (!isValidRingCapacity(capacity)) {
      throw new RangeError(
        `flow ring capacity ${String(capacity)} is not allowed: use 2^n-1 between 1 and 65535 (1, 3, 7, ..., 4095, ..., 65535)`,
      );
    }
    this.capacity = capacity;
    this.#slots = new Array<RingEntry | undefined>(capacity);
  }

  /** Sequence number of the next write (one past the newest entry). */
  get end(): number {
    return this.#next;
  }

  /** Sequence number of the oldest entry still held. */
  get start(): number {
    return Math.max(0, this.#next - this.capacity);
  }

  /** Entries currently held. */
  get size(): number {
    return this.#next - this.start;
  }

  /** Appends entries (overwriting the oldest) and then wakes waiting readers once. */
  push(entries: readonly RingEntry[]): void {
    if (entries.length === 0) return;
    for (const entry of entries) {
      this.#slots[this.#next % this.capacity] = entry;
      this.#next++;
    }
    for (const listener of [...this.#listeners]) listener();
  }

  /** The entry with this sequence number, or undefined when it was overwritten or not written yet. */
  get(seq: number): RingEntry | undefined {
    if (seq < this.start || seq >= this.#next) return undefined;
    return this.#slots[seq % this.capacity];
  }

  /** Calls `fn` after each push until the returned function is called. */
  onPush(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => {
      this.#listeners.delete(fn);
    };
  }
}
