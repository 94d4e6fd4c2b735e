/**
 * GetFlows: request validation, where in the ring a request starts, and the per-client streamer.
 *
 * Start position (as Hubble's server picks it): `first` → the oldest entry; `follow` with `number = 0` and no
 * `since` → the current end (only new flows); otherwise walk backwards from the newest entry counting flows that
 * pass the filters (and are not newer than `until`) until `number` of them were seen, or an entry older than `since`
 * is met. Entries are then sent oldest first. While streaming: a flow newer than `until` ends the stream, flows
 * older than `since` are skipped, `number` flows end a non-following stream, and a following stream waits for new
 * flows until the client cancels. Lost-event entries pass every filter and do not count towards `number`.
 *
 * Each client is only a cursor into the shared ring. The streamer writes while the client's HTTP/2 stream accepts
 * data and stops at the first refused write until it drains; a client that falls behind the ring (or further behind
 * the newest flow than `maxLag`) skips ahead and receives a `lost_events` response (source HUBBLE_RING_BUFFER) with
 * the number of flows it missed. No client can delay the writer or another client.
 */
import type protobuf from 'protobufjs';
import type { FlowFilterInput, FlowPredicate } from './filter/flow-filter.js';
import { compileFilterLists } from './filter/flow-filter.js';
import { FilterError } from './filter/errors.js';
import type { FlowRing, RingEntry } from './ring.js';
import type { PbFlow, PbLostEvent, PbTimestamp } from './wire.js';
import { Wire, nsOfTimestamp, timestampOfNs } from './wire.js';

/** A decoded observer.GetFlowsRequest (proto field names; 64-bit integers may be strings). */
export interface GetFlowsRequestInput {
  number?: string | number | bigint;
  first?: boolean;
  follow?: boolean;
  whitelist?: FlowFilterInput[] | null;
  blacklist?: FlowFilterInput[] | null;
  since?: { seconds?: string | number | null; nanos?: number | null } | null;
  until?: { seconds?: string | number | null; nanos?: number | null } | null;
  field_mask?: { paths?: string[] | null } | null;
}

/** A validated GetFlows request. */
export interface FlowQuery {
  /** Flows wanted (0 = no limit); at most 2^64-1. */
  number: bigint;
  first: boolean;
  follow: boolean;
  sinceNs?: bigint;
  untilNs?: bigint;
  predicate: FlowPredicate;
  /** True when the request has no filters: the predicate passes every flow and need not be called. */
  unfiltered?: boolean;
  /** Field-mask paths; undefined when the whole flow is wanted. */
  fieldMask?: string[];
}

/**
 * A request the server refuses (`invalid` → INVALID_ARGUMENT, `unimplemented` → UNIMPLEMENTED, `exhausted` →
 * RESOURCE_EXHAUSTED): a FilterError widened to the whole request, so both carry the same kinds.
 */
export class RequestError extends FilterError {
  override readonly name = 'RequestError';
}

const MAX_UINT64 = (1n << 64n) - 1n;

/** Validates a GetFlows request and compiles its filters. */
export function parseGetFlowsRequest(req: GetFlowsRequestInput): FlowQuery {
  let number: bigint;
  try {
    number = BigInt(req.number ?? 0);
  } catch {
    throw new RequestError(`number: ${String(req.number)} is not an unsigned integer`);
  }
  if (number < 0n || number > MAX_UINT64) throw new RequestError(`number: ${number} is out of range`);
  const first = req.first === true;
  const follow = req.follow === true;
  if (first && follow) {
    throw new RequestError(
      'first cannot be combined with follow: ask for the first N flows, or follow new ones',
    );
  }
  let predicate: FlowPredicate;
  try {
    predicate = compileFilterLists(req.whitelist, req.blacklist);
  } catch (err) {
    if (err instanceof FilterError) throw new RequestError(err.message, err.kind);
    throw err;
  }
  const query: FlowQuery = { number, first, follow, predicate };
  if ((req.whitelist?.length ?? 0) + (req.blacklist?.length ?? 0) === 0) query.unfiltered = true;
  if (req.since) query.sinceNs = nsOfTimestamp(req.since);
  if (req.until) query.untilNs = nsOfTimestamp(req.until);
  if (query.sinceNs !== undefined && query.untilNs !== undefined && query.untilNs < query.sinceNs) {
    throw new RequestError('until is before since: the time window is empty');
  }
  const paths = req.field_mask?.paths?.filter((p) => p !== '');
  if (paths && paths.length > 0) query.fieldMask = paths;
  return query;
}

/** Sequence number of the first ring entry a request reads. */
export function startSequence(ring: FlowRing, query: FlowQuery): number {
  const scan = new StartScan(ring, query);
  while (scan.step(Number.MAX_SAFE_INTEGER) === undefined);
  return scan.step(0) as number;
}

/**
 * The backward walk that finds where a request starts, done a bounded number of entries at a time so a large ring
 * and costly filters never hold the event loop for the whole walk.
 */
export class StartScan {
  readonly #ring: FlowRing;
  readonly #query: FlowQuery;
  #seq: number;
  #matched = 0n;
  #result: number | undefined;

  constructor(ring: FlowRing, query: FlowQuery) {
    this.#ring = ring;
    this.#query = query;
    this.#seq = ring.end - 1;
    if (query.first) this.#result = ring.start;
    else if (query.follow && query.number === 0n && query.sinceNs === undefined) this.#result = ring.end;
  }

  /** Examines up to `budget` entries; returns the start sequence once known, else undefined. */
  step(budget: number): number | undefined {
    if (this.#result !== undefined) return this.#result;
    const ring = this.#ring;
    const query = this.#query;
    for (; budget > 0; budget--, this.#seq--) {
      // Entries overwritten while the walk yielded are gone: start at the oldest kept one.
      if (this.#seq < ring.start) return (this.#result = ring.start);
      const seq = this.#seq;
      const entry = ring.get(seq) as RingEntry;
      if (query.sinceNs !== undefined && entry.timeNs < query.sinceNs) return (this.#result = seq + 1);
      // Only flow entries count; a flow object is needed (decoded) only when the request filters.
      if (entry.lost) continue;
      if (query.untilNs !== undefined && entry.timeNs > query.untilNs) continue;
      if (!query.unfiltered && !query.predicate(entry.flow as PbFlow)) continue;
      this.#matched++;
      if (query.number > 0n && this.#matched === query.number) return (this.#result = seq);
    }
    return undefined;
  }
}

interface MaskNode {
  [field: string]: MaskNode | true;
}

function maskTree(paths: readonly string[]): MaskNode {
  const root: MaskNode = {};
  for (const path of paths) {
    const parts = path.split('.');
    let node = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      if (i === parts.length - 1) {
        node[part] = true;
      } else {
        const next = node[part];
        if (next === true) break;
        node = next ?? (node[part] = {});
      }
    }
  }
  return root;
}

function applyMask(value: Record<string, unknown>, mask: MaskNode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, sub] of Object.entries(mask)) {
    const v = value[field];
    if (v === undefined) continue;
    out[field] =
      sub === true || typeof v !== 'object' || v === null || Array.isArray(v)
        ? v
        : applyMask(v as Record<string, unknown>, sub);
  }
  return out;
}

/** The flow restricted to the field-mask paths (proto field names, `.` for nesting). Unknown paths select nothing. */
export function maskFlow(flow: PbFlow, paths: readonly string[]): Partial<PbFlow> {
  return applyMask(flow as unknown as Record<string, unknown>, maskTree(paths)) as Partial<PbFlow>;
}

/** Encodes GetFlowsResponse messages. */
export class ResponseEncoder {
  readonly #type: protobuf.Type;

  constructor(getFlowsResponseType: protobuf.Type) {
    this.#type = getFlowsResponseType;
  }

  /** The response for a ring entry; whole-flow responses are encoded once and shared by all clients. */
  entry(entry: RingEntry, mask: readonly string[] | undefined): Uint8Array {
    if (entry.lost) return this.lost(entry.lost, entry.time);
    const flow = entry.flow as PbFlow;
    if (mask)
      return this.#encode({ flow: maskFlow(flow, mask), node_name: flow.node_name, time: entry.time });
    entry.encoded ??= this.#encode({ flow, node_name: flow.node_name, time: entry.time });
    return entry.encoded;
  }

  /** A lost_events response. */
  lost(lost: PbLostEvent, time: PbTimestamp, nodeName = ''): Uint8Array {
    return this.#encode({ lost_events: lost, node_name: nodeName, time });
  }

  #encode(message: Record<string, unknown>): Uint8Array {
    return this.#type.encode(message).finish();
  }
}

/** Where a streamer writes: a gRPC server stream in production, an array in tests. */
export interface ResponseSink {
  /** Queues one encoded response; false when the client's buffer is full (wait for drain before writing more). */
  write(bytes: Uint8Array): boolean;
  /** Calls `fn` once when the client's buffer has room again. */
  onceDrain(fn: () => void): void;
  /** Ends the stream with status OK. */
  end(): void;
}

/**
 * Shares one budget of ring entries per event-loop turn among every streamer of a server, so the work of a turn
 * stays bounded however many clients follow: with many followers each gets a smaller slice, falls behind sooner and
 * skips ahead with a lost-events response, while scrapes, health checks and the flow intake keep their turns.
 */
export class TurnScheduler {
  readonly entriesPerTurn: number;
  /** A turn also ends after this many milliseconds; the streamers not served yet go first in the next one. */
  readonly turnMs: number;
  #queue: ((budget: number) => void)[] = [];
  #scheduled = false;

  constructor(entriesPerTurn = 512, turnMs = 4) {
    this.entriesPerTurn = entriesPerTurn;
    this.turnMs = turnMs;
  }

  /** Runs `fn` with its share of the next turn's budget. */
  enqueue(fn: (budget: number) => void): void {
    this.#queue.push(fn);
    this.#wake();
  }

  #wake(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#run());
  }

  #run(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    const share = Math.max(16, Math.floor(this.entriesPerTurn / queue.length));
    const start = performance.now();
    for (let i = 0; i < queue.length; i++) {
      // On a machine short of CPU the per-entry cost grows; the sockets are polled only between turns.
      if (i > 0 && performance.now() - start >= this.turnMs) {
        this.#queue = queue.slice(i).concat(this.#queue);
        this.#wake();
        return;
      }
      (queue[i] as (budget: number) => void)(share);
    }
  }
}

/** Settings of one streamer. */
export interface StreamerOptions {
  ring: FlowRing;
  query: FlowQuery;
  encoder: ResponseEncoder;
  sink: ResponseSink;
  nodeName: string;
  /** A live follower more than this many entries behind the newest skips ahead (default: the ring capacity). */
  maxLag?: number;
  /** Called with the number of flows a client missed. */
  onLost?: (count: number) => void;
  /** Entries examined per turn of the event loop before yielding to other work (without a scheduler). */
  entriesPerTurn?: number;
  /** Shares a per-turn budget with the server's other streamers (then `entriesPerTurn` is unused). */
  scheduler?: TurnScheduler;
  /** Clock in nanoseconds since the epoch, for lost-event times. */
  nowNs?: () => bigint;
}

/** Streams one GetFlows request from the ring to a client. */
export class FlowStreamer {
  readonly #o: Required<Omit<StreamerOptions, 'onLost' | 'scheduler'>> &
    Pick<StreamerOptions, 'onLost' | 'scheduler'>;
  #endSeq = 0;
  #cursor = 0;
  #scan: StartScan | undefined;
  #sent = 0n;
  #live = false;
  #state: 'idle' | 'scheduled' | 'draining' | 'done' = 'idle';
  #unsubscribe: (() => void) | undefined;
  #resolveDone!: () => void;
  /** Resolves when the stream ended (completed, or stopped). */
  readonly done: Promise<void>;

  constructor(options: StreamerOptions) {
    this.#o = {
      maxLag: options.ring.capacity,
      entriesPerTurn: 1024,
      nowNs: () => BigInt(Date.now()) * 1_000_000n,
      ...options,
    };
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
    this.#scan = new StartScan(options.ring, options.query);
    // A non-following request ends at the newest entry when it arrived.
    this.#endSeq = options.ring.end;
    if (options.query.follow) this.#unsubscribe = options.ring.onPush(() => this.#wake());
  }

  /** Begins sending. */
  start(): void {
    this.#schedule();
  }

  /** Stops without ending the stream (the client cancelled or went away). */
  stop(): void {
    this.#finish();
  }

  /** Ends the stream with status OK (the server is shutting down). */
  close(): void {
    this.#complete();
  }

  #finish(): void {
    if (this.#state === 'done') return;
    this.#state = 'done';
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#resolveDone();
  }

  #complete(): void {
    if (this.#state === 'done') return;
    this.#finish();
    this.#o.sink.end();
  }

  #wake(): void {
    if (this.#state === 'idle') this.#schedule();
  }

  #schedule(): void {
    this.#state = 'scheduled';
    const scheduler = this.#o.scheduler;
    if (scheduler) {
      scheduler.enqueue((budget) => {
        if (this.#state === 'scheduled') this.#pump(budget);
      });
      return;
    }
    setImmediate(() => {
      if (this.#state === 'scheduled') this.#pump(this.#o.entriesPerTurn);
    });
  }

  #lost(count: number): boolean {
    this.#o.onLost?.(count);
    const now = this.#o.nowNs();
    const lost: PbLostEvent = { source: Wire.lostEventSource.HUBBLE_RING_BUFFER, num_events_lost: count };
    return this.#o.sink.write(this.#o.encoder.lost(lost, timestampOfNs(now), this.#o.nodeName));
  }

  /**
   * The events a skip from the cursor to `to` makes this client miss: one per entry, except that a lost-events
   * notice still in the ring (the intake's queue overflowed) stands for the flows it counts, so the client learns
   * how many flows it missed rather than how many ring slots.
   */
  #skippedEvents(to: number): number {
    const { ring } = this.#o;
    let events = to - this.#cursor;
    for (let seq = Math.max(this.#cursor, ring.start); seq < to; seq++) {
      const lost = ring.get(seq)?.lost;
      if (lost) events += Math.max(0, Number(lost.num_events_lost) - 1);
    }
    return events;
  }

  #pump(turnBudget: number): void {
    const { ring, query, encoder, sink } = this.#o;
    if (this.#scan) {
      const start = this.#scan.step(turnBudget);
      if (start === undefined) return this.#schedule();
      this.#scan = undefined;
      this.#cursor = start;
    }
    const limit = query.number > 0n && !query.follow ? query.number : 0n;
    let budget = turnBudget;
    let writable = true;
    while (writable && budget-- > 0) {
      const end = query.follow ? ring.end : this.#endSeq;
      if (this.#cursor >= end) {
        if (!query.follow) return this.#complete();
        this.#live = true;
        this.#state = 'idle';
        return;
      }
      let skipTo = ring.start;
      if (this.#live && end - this.#cursor > this.#o.maxLag) skipTo = Math.max(skipTo, end - this.#o.maxLag);
      if (this.#cursor < skipTo) {
        writable = this.#lost(this.#skippedEvents(skipTo));
        this.#cursor = skipTo;
        continue;
      }
      const entry = ring.get(this.#cursor) as RingEntry;
      this.#cursor++;
      if (!entry.lost) {
        if (query.untilNs !== undefined && entry.timeNs > query.untilNs) return this.#complete();
        if (query.sinceNs !== undefined && entry.timeNs < query.sinceNs) continue;
        if (!query.unfiltered && !query.predicate(entry.flow as PbFlow)) continue;
        this.#sent++;
      }
      writable = sink.write(encoder.entry(entry, query.fieldMask));
      if (limit > 0n && this.#sent >= limit) return this.#complete();
    }
    if (!writable) {
      this.#state = 'draining';
      sink.onceDrain(() => {
        if (this.#state === 'draining') this.#schedule();
      });
      return;
    }
    this.#schedule();
  }
}
