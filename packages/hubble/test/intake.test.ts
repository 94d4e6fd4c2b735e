import { describe, expect, it } from 'vitest';
import type { Flow } from '@retina-ts/core';
import { Verdict } from '@retina-ts/core';
import { HubbleObserver, hubbleTypes, toPbFlow } from '../src/index.js';
import type { FlowSource } from '../src/index.js';
import { EncodedFlowEntry, decodeFlow } from '../src/ring.js';
import { Wire } from '../src/wire.js';
import { hubbleMetricsFor, tcpFlow } from './helpers.js';

/** A flow source the test pushes batches through by hand. */
class ManualSource implements FlowSource {
  #fn: ((flows: readonly Flow[]) => void) | undefined;
  subscribe(fn: (flows: readonly Flow[]) => void): () => void {
    this.#fn = fn;
    return () => (this.#fn = undefined);
  }
  push(flows: readonly Flow[]): void {
    this.#fn?.(flows);
  }
}

function convertOptions() {
  return { nodeName: 'node-a', structType: hubbleTypes().struct };
}

const metrics = () => hubbleMetricsFor([]);

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('flow intake queue', () => {
  it('drops the oldest waiting flows beyond the ring capacity, counts them lost, and never blocks the caller', async () => {
    const m = metrics();
    const observer = new HubbleObserver({ ringCapacity: 15, convert: convertOptions(), metrics: m });
    const source = new ManualSource();
    observer.attach(source);
    // 10 batches of 4 flows arrive within one turn: 40 flows for a queue of 15 (the ring's capacity).
    const flows = Array.from({ length: 40 }, (_, i) => tcpFlow(i));
    for (let b = 0; b < 10; b++) source.push(flows.slice(b * 4, b * 4 + 4));
    // Nothing was converted while the batches arrived: the intake only queued them.
    expect(observer.ring.size).toBe(0);
    while (observer.ring.size === 0) await nextTurn();
    for (let i = 0; i < 5; i++) await nextTurn();

    const entries = [];
    for (let seq = observer.ring.start; seq < observer.ring.end; seq++) entries.push(observer.ring.get(seq));
    const lostEntries = entries.filter((e) => e?.lost);
    const flowEntries = entries.filter((e) => e && !e.lost);
    // The 3 newest batches (12 flows) fit; the 7 oldest (28 flows) were dropped and reported once.
    expect(lostEntries).toHaveLength(1);
    expect(lostEntries[0]?.lost).toEqual({
      source: Wire.lostEventSource.OBSERVER_EVENTS_QUEUE,
      num_events_lost: 28,
    });
    expect(entries[0]?.lost).toBeDefined();
    expect(flowEntries.map((e) => e?.timeNs)).toEqual(flows.slice(28).map((f) => f.timeNs));
    expect(observer.seenFlows).toBe(12);
    const text = (await m.expose()).body;
    expect(text).toContain('hubble_lost_events_total{source="observer_events_queue"} 28');
    observer.detach();
    m.close();
  });

  it('adds flows the source itself dropped to the lost count', async () => {
    const m = metrics();
    const observer = new HubbleObserver({ ringCapacity: 15, convert: convertOptions(), metrics: m });
    let dropped = 0;
    let fn: ((flows: readonly Flow[]) => void) | undefined;
    observer.attach({
      subscribe: (f) => ((fn = f), () => (fn = undefined)),
      get dropped() {
        return dropped;
      },
    });
    dropped = 5;
    fn?.([tcpFlow(1)]);
    while (observer.ring.size === 0) await nextTurn();
    expect(observer.ring.get(observer.ring.start)?.lost?.num_events_lost).toBe(5);
    expect((await m.expose()).body).toContain('hubble_lost_events_total{source="observer_events_queue"} 5');
    observer.detach();
    m.close();
  });
});

describe('encoded ring entries', () => {
  const variants: [string, Flow][] = [
    ['tcp', tcpFlow(1)],
    ['dropped with reason 0', tcpFlow(2, { verdict: Verdict.DROPPED, dropReasonDesc: 0, isReply: true })],
    ['unknown direction', tcpFlow(3, { trafficDirection: 0, isReply: undefined })],
    [
      'dns',
      tcpFlow(4, {
        l4: { udp: { sourcePort: 0, destinationPort: 53 } },
        l7: {
          type: 1,
          dns: { query: 'a.example.', ips: [], ttl: 0, rcode: 0, qtypes: ['A'], rrtypes: [] },
        },
        extensions: { bytes: 0 },
      }),
    ],
  ];
  for (const [name, flow] of variants) {
    it(`decodes to the converter's flow object (${name})`, () => {
      const t = hubbleTypes();
      const pb = toPbFlow(flow, convertOptions());
      const bytes = t.getFlowsResponse.encode({ flow: pb, node_name: pb.node_name, time: pb.time }).finish();
      const decoded = decodeFlow(t.getFlowsResponse, bytes);
      expect(JSON.parse(JSON.stringify(decoded))).toEqual(JSON.parse(JSON.stringify(pb)));
      const entry = new EncodedFlowEntry(flow.timeNs, pb.time, bytes, t.getFlowsResponse);
      expect(entry.flow).toBe(entry.flow);
    });
  }
});
