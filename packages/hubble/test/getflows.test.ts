import { describe, expect, it } from 'vitest';
import {
  FlowRing,
  hubbleTypes,
  isValidRingCapacity,
  maskFlow,
  parseGetFlowsRequest,
  startSequence,
  toPbFlow,
  RequestError,
} from '../src/index.js';
import type { GetFlowsRequestInput, RingEntry } from '../src/index.js';
import { FlowStreamer, ResponseEncoder } from '../src/getflows.js';
import type { ResponseSink } from '../src/getflows.js';
import { tcpFlow } from './helpers.js';

const types = hubbleTypes();
const encoder = new ResponseEncoder(types.getFlowsResponse);

/** Entry for flow number i (time = base + i seconds); odd flows go to port 443. */
function entry(i: number): RingEntry {
  const flow = tcpFlow(i, {
    uuid: `f${i}`,
    l4: { tcp: { sourcePort: 40000, destinationPort: i % 2 ? 443 : 80, flags: { SYN: true } } },
  });
  const pb = toPbFlow(flow, { nodeName: 'n', structType: types.struct });
  return { timeNs: flow.timeNs, time: pb.time, flow: pb };
}

function ringWith(capacity: number, count: number): FlowRing {
  const ring = new FlowRing(capacity);
  ring.push(Array.from({ length: count }, (_, i) => entry(i)));
  return ring;
}

const sec = (i: number) => ({ seconds: String(1_700_000_000 + i), nanos: 0 });

interface Decoded {
  flow?: { uuid: string };
  lost_events?: { source: number; num_events_lost: number };
}

/** A sink that records decoded responses; `capacity` writes are accepted before it reports backpressure. */
class ArraySink implements ResponseSink {
  readonly out: Decoded[] = [];
  ended = false;
  #drain: (() => void) | undefined;
  constructor(private capacity = Infinity) {}
  write(bytes: Uint8Array): boolean {
    this.out.push(
      types.getFlowsResponse.toObject(types.getFlowsResponse.decode(bytes), { longs: Number }) as Decoded,
    );
    return this.out.length < this.capacity;
  }
  onceDrain(fn: () => void): void {
    this.#drain = fn;
  }
  end(): void {
    this.ended = true;
  }
  /** Lets `more` further writes through and fires drain. */
  release(more: number): void {
    this.capacity = this.out.length + more;
    const fn = this.#drain;
    this.#drain = undefined;
    fn?.();
  }
  uuids(): string[] {
    return this.out.flatMap((r) => (r.flow ? [r.flow.uuid] : []));
  }
}

function run(
  ring: FlowRing,
  req: GetFlowsRequestInput,
  sink = new ArraySink(),
  extra: { maxLag?: number } = {},
) {
  const streamer = new FlowStreamer({
    ring,
    query: parseGetFlowsRequest(req),
    encoder,
    sink,
    nodeName: 'n',
    ...extra,
  });
  streamer.start();
  return { streamer, sink };
}

const tick = () => new Promise((r) => setImmediate(r));
async function settle(times = 5) {
  for (let i = 0; i < times; i++) await tick();
}

describe('FlowRing', () => {
  it('accepts only 2^n-1 capacities up to 65535', () => {
    for (const ok of [1, 3, 7, 4095, 65535]) expect(isValidRingCapacity(ok)).toBe(true);
    for (const bad of [0, 2, 4096, 65536, 131071, 1.5]) expect(isValidRingCapacity(bad)).toBe(false);
    expect(() => new FlowRing(100)).toThrow(/2\^n-1/);
  });

  it('keeps the newest entries and addresses them by sequence number', () => {
    const ring = ringWith(7, 10);
    expect(ring.size).toBe(7);
    expect(ring.start).toBe(3);
    expect(ring.end).toBe(10);
    expect(ring.get(2)).toBeUndefined();
    expect(ring.get(3)?.flow?.uuid).toBe('f3');
    expect(ring.get(9)?.flow?.uuid).toBe('f9');
  });
});

describe('parseGetFlowsRequest', () => {
  it('rejects first with follow and an empty time window', () => {
    expect(() => parseGetFlowsRequest({ first: true, follow: true })).toThrow(RequestError);
    expect(() => parseGetFlowsRequest({ since: sec(5), until: sec(4) })).toThrow(/until is before since/);
  });

  it('accepts number = 2^64-1 (hubble observe --all) and the CLI field mask', () => {
    const q = parseGetFlowsRequest({
      number: '18446744073709551615',
      field_mask: { paths: ['time', 'source.pod_name'] },
    });
    expect(q.number).toBe(18446744073709551615n);
    expect(q.fieldMask).toEqual(['time', 'source.pod_name']);
  });
});

describe('startSequence', () => {
  const ring = ringWith(15, 10);
  it('starts at the oldest entry for first, at the end for plain follow', () => {
    expect(startSequence(ring, parseGetFlowsRequest({ first: true, number: 2 }))).toBe(0);
    expect(startSequence(ring, parseGetFlowsRequest({ follow: true }))).toBe(10);
  });
  it('walks back over matching flows for last N', () => {
    expect(startSequence(ring, parseGetFlowsRequest({ number: 3 }))).toBe(7);
    const port443 = parseGetFlowsRequest({ number: 2, whitelist: [{ destination_port: ['443'] }] });
    expect(startSequence(ring, port443)).toBe(7); // f7 and f9
  });
  it('stops at the first entry older than since', () => {
    expect(startSequence(ring, parseGetFlowsRequest({ since: sec(6) }))).toBe(6);
  });
});

describe('FlowStreamer', () => {
  it('sends the last N matching flows oldest first, then ends', async () => {
    const { sink } = run(ringWith(15, 10), { number: 3, whitelist: [{ destination_port: ['80'] }] });
    await settle();
    expect(sink.uuids()).toEqual(['f4', 'f6', 'f8']);
    expect(sink.ended).toBe(true);
  });

  it('sends the first N flows', async () => {
    const { sink } = run(ringWith(15, 10), { first: true, number: 2 });
    await settle();
    expect(sink.uuids()).toEqual(['f0', 'f1']);
    expect(sink.ended).toBe(true);
  });

  it('sends the whole buffer for number 0, and honours since/until', async () => {
    const all = run(ringWith(15, 10), {}).sink;
    const window = run(ringWith(15, 10), { since: sec(3), until: sec(5) }).sink;
    await settle();
    expect(all.uuids()).toHaveLength(10);
    expect(window.uuids()).toEqual(['f3', 'f4', 'f5']);
    expect(window.ended).toBe(true);
  });

  it('follows: replays the last N, then streams new flows until stopped', async () => {
    const ring = ringWith(15, 5);
    const { sink, streamer } = run(ring, { number: 2, follow: true });
    await settle();
    expect(sink.uuids()).toEqual(['f3', 'f4']);
    ring.push([entry(5), entry(6)]);
    await settle();
    expect(sink.uuids()).toEqual(['f3', 'f4', 'f5', 'f6']);
    expect(sink.ended).toBe(false);
    streamer.stop();
    ring.push([entry(7)]);
    await settle();
    expect(sink.uuids()).toHaveLength(4);
  });

  it('a follower that stops reading loses flows as a lost_events response; a fast one loses nothing', async () => {
    const ring = ringWith(7, 0);
    const slow = run(ring, { follow: true }, new ArraySink(1)).sink;
    const fast = run(ring, { follow: true }).sink;
    await settle();
    for (let i = 0; i < 20; i++) {
      ring.push([entry(i)]);
      await settle(2);
    }
    expect(fast.uuids()).toEqual(Array.from({ length: 20 }, (_, i) => `f${i}`));
    expect(slow.uuids()).toEqual(['f0']);
    slow.release(100);
    await settle();
    const lost = slow.out.find((r) => r.lost_events);
    expect(lost?.lost_events).toEqual({ source: 3, num_events_lost: 12 }); // f1..f12 were overwritten
    expect(slow.uuids()).toEqual(['f0', ...Array.from({ length: 7 }, (_, i) => `f${13 + i}`)]);
  });

  /** A live follower with room for one response and a maxLag of 4, on a 63-slot ring, that has sent f0. */
  async function laggingFollower() {
    const ring = ringWith(63, 0);
    const slow = run(ring, { follow: true }, new ArraySink(1), { maxLag: 4 }).sink;
    await settle();
    ring.push([entry(0)]);
    await settle();
    return { ring, slow };
  }

  /** Lets a lagging follower drain what it is sent: the flows it was told it lost, and the flows it got. */
  async function drain(slow: ArraySink): Promise<{ lost: number | undefined; uuids: string[] }> {
    await settle();
    slow.release(100);
    await settle();
    return { lost: slow.out.find((r) => r.lost_events)?.lost_events?.num_events_lost, uuids: slow.uuids() };
  }

  it('a live follower further behind than maxLag skips ahead', async () => {
    const { ring, slow } = await laggingFollower();
    ring.push(Array.from({ length: 9 }, (_, i) => entry(i + 1)));
    expect(await drain(slow)).toEqual({ lost: 5, uuids: ['f0', 'f6', 'f7', 'f8', 'f9'] });
  });

  it('a follower that skips an intake-overflow notice is told of the flows it stands for, not of one slot', async () => {
    const { ring, slow } = await laggingFollower();
    // The intake dropped 100 flows: one notice in the ring stands for them.
    const notice = entry(1);
    ring.push([
      { timeNs: notice.timeNs, time: notice.time, lost: { source: 2, num_events_lost: 100 } },
      ...Array.from({ length: 8 }, (_, i) => entry(i + 2)),
    ]);
    // Skipped: the notice (100 flows) and f2..f5 (4 flows); f6..f9 are sent.
    expect(await drain(slow)).toEqual({ lost: 104, uuids: ['f0', 'f6', 'f7', 'f8', 'f9'] });
  });

  it('applies a field mask', async () => {
    const pb = entry(1).flow;
    expect(maskFlow(pb!, ['uuid', 'source.pod_name', 'ethernet'])).toEqual({
      uuid: 'f1',
      source: { pod_name: 'web-7c9f-abcde' },
    });
    const { sink } = run(ringWith(3, 2), { number: 1, field_mask: { paths: ['uuid'] } });
    await settle();
    expect(sink.out[0]?.flow).toEqual({ uuid: 'f1' });
  });
});
