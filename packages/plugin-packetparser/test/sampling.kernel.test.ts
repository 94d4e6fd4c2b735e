/**
 * cpuBudget sampling in the kernel: with a budget the plugin registers with the agent's sampling hub, the hub's rate
 * lands in the programs' sampling map, and every packet is accounted for exactly: events reported plus events the
 * kernel counted as sampled away equal the packets sent times the hooks they passed. Without a budget nothing
 * registers and every event is reported (the other kernel tests assert those exact counts).
 */
import { expect, it } from 'vitest';
import { BpfObject, RingBufferReader, probes } from '@retina-ts/bpf-runtime';
import { CpuBudgetController, TraceObservationPoint, samplingHubOf, type Flow } from '@retina-ts/core';
import { describeKernel, waitFor } from '@retina-ts/testkit';
import { decodeEvent, type PacketEvent } from '../src/decode.js';
import { bpfObjectPath } from '../src/plugin.js';
import { sendUdpFrom, startPlugin, topologySuite, type Harness } from './kernel-env.js';

const MARKER_PORT = 47_899;
const dport = (f: Flow) => f.l4?.udp?.destinationPort;
const atB = (f: Flow) => f.traceObservationPoint === TraceObservationPoint.TO_ENDPOINT;
const sched = () => (probes.programTypeSupported('sched_cls') ? undefined : 'the kernel refuses sched_cls programs');

/** Ethernet + IPv4 + UDP with an 8-byte payload. */
function udpFrame(): Buffer {
  const eth = Buffer.from('020000000001020000000002' + '0800', 'hex');
  const udp = Buffer.alloc(16);
  udp.writeUInt16BE(40_000, 0);
  udp.writeUInt16BE(53, 2);
  udp.writeUInt16BE(udp.length, 4);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(ip.length + udp.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  ip.set([10, 239, 0, 1], 12);
  ip.set([10, 239, 0, 2], 16);
  return Buffer.concat([eth, ip, udp]);
}

/**
 * Runs a program `runs` times on one UDP frame with nobody reading a ring of `ringBytes` (an event takes 160 bytes
 * of it: one page holds 25); returns the kernel's counters.
 */
function runUnread(sample: number | undefined, runs: number, ringBytes: number) {
  const obj = BpfObject.open(bpfObjectPath());
  obj.setConstant('bypass_ioi', 1).setMapMaxEntries('rts_pp_events', ringBytes);
  obj.load();
  if (sample !== undefined) {
    const v = Buffer.alloc(4);
    v.writeUInt32LE(sample);
    obj.map('rts_pp_sample').update(Buffer.alloc(4), v);
  }
  const frame = udpFrame();
  for (let i = 0; i < runs; i++) obj.program('rts_pp_ep_in').testRun(frame);
  const stat = (slot: number) => {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(slot);
    return (obj.map('rts_pp_stats').lookupPerCpu(key) ?? []).reduce((a, v) => a + Number(v.readBigUInt64LE(0)), 0);
  };
  return { obj, ringFull: stat(0), sampledAway: stat(1) };
}

/** Reads `count` events from the object's ring, then closes it. */
async function drain(obj: BpfObject, count: number): Promise<PacketEvent[]> {
  const events: PacketEvent[] = [];
  const reader = new RingBufferReader(obj.map('rts_pp_events'), {
    onBatch: (b) => {
      for (let i = 0; i < b.count; i++) events.push(decodeEvent(b.buffer.subarray(b.offsets[i], b.offsets[i]! + b.lengths[i]!)));
    },
  }).start();
  try {
    await waitFor(() => events.length >= count, { description: `${count} events from the ring` });
  } finally {
    reader.stop();
    obj.close();
  }
  return events;
}

describeKernel(
  'packetparser backpressure under cpuBudget (BPF_PROG_TEST_RUN)',
  () => {
    it('a reader that falls behind costs no event under a budget: past half the ring the programs keep fewer, counted', async () => {
      // 102 events fit in four pages: 51 at rate 1, about 25 at 1 in 16 (some 400 runs), then 1 in 256 for the
      // remaining ~550 runs keeps about 2 of the 25 slots left. (With one page, 6 slots after three quarters, the
      // 1-in-256 phase would overflow in about one run in ten: the design bounds a stall's cost, it does not make
      // an unread ring infinite.)
      const runs = 1000;
      const { obj, ringFull, sampledAway } = runUnread(1, runs, 16384);
      expect(ringFull).toBe(0);
      const kept = runs - sampledAway;
      const events = await drain(obj, kept);
      expect(events).toHaveLength(kept);
      // The first half of the ring at the budget's rate (1), then one in 16, then one in 256.
      expect(events[0]?.sampleRate).toBeUndefined();
      expect(events.some((e) => e.sampleRate === 16)).toBe(true);
      for (const e of events) expect([undefined, 16, 256]).toContain(e.sampleRate);
      // What the kept events stand for adds up to about what was sent (each stands for its rate).
      const represented = events.reduce((a, e) => a + (e.sampleRate ?? 1), 0);
      expect(represented).toBeGreaterThan(runs / 4);
    });

    it('without a budget nothing is sampled: the full ring loses events as it always did, and says so', async () => {
      const runs = 100;
      // One page: 25 events fit, so a reader that never reads fills it at once.
      const { obj, ringFull, sampledAway } = runUnread(undefined, runs, 4096);
      expect(sampledAway).toBe(0);
      expect(ringFull).toBeGreaterThan(0);
      const events = await drain(obj, runs - ringFull);
      expect(events).toHaveLength(runs - ringFull);
      for (const e of events) expect(e.sampleRate).toBeUndefined();
    });
  },
  { requires: sched },
);

describeKernel(
  'packetparser sampling under cpuBudget',
  () => {
    const suite = topologySuite(43_000);

    /** Sends an unsampled marker datagram and waits for its event: every earlier event has been read then. */
    async function flush(h: Harness): Promise<void> {
      const hub = samplingHubOf(h.metrics);
      const rate = hub.rate;
      hub.setRate(1);
      const before = h.flows.filter((f) => dport(f) === MARKER_PORT && atB(f)).length;
      sendUdpFrom(suite.topo.a.ns, { address: suite.topo.b.ip4, port: MARKER_PORT, sourcePort: suite.sourcePort(), count: 1, size: 1 });
      await waitFor(() => h.flows.filter((f) => dport(f) === MARKER_PORT && atB(f)).length > before, {
        description: 'the marker datagram to be reported',
      });
      hub.setRate(rate);
    }

    it('reports one event in N and counts the rest, so reported + sampled away = packets × hooks, exactly', async () => {
      const h = (suite.harness = await startPlugin(suite.topo, {}, { bypassLookupIPOfInterest: true, cpuBudget: 0.5 }));
      const hub = samplingHubOf(h.metrics);
      expect(hub.samplers).toEqual(['packetparser']);
      expect(h.plugin.samplingRate()).toBe(1);

      hub.setRate(4);
      expect(h.plugin.samplingRate()).toBe(4);
      const sent = 1500;
      const port = 47_801;
      sendUdpFrom(suite.topo.a.ns, { address: suite.topo.b.ip4, port, sourcePort: suite.sourcePort(), count: sent, size: 32 });
      await flush(h);

      const reported = h.flows.filter((f) => dport(f) === port);
      const away = Number(h.plugin.sampledAway());
      // Nothing lost on the way (ring buffer full, reader queue): sampling is the only reason an event is missing.
      h.plugin.collect();
      expect((await h.metrics.expose()).body).not.toMatch(/^controlplane_networkobservability_lost_events_counter\{.*\} [1-9]/m);
      // Two hooks per packet: a's host end (ingress) and b's host end (egress).
      expect(reported.length + away).toBe(sent * 2);
      // What the budget controller reads: events arrived are those read plus those sampling kept out.
      const counts = hub.counts();
      expect(counts?.reported).toBe(h.plugin.parsedRecords);
      expect((counts?.arrived ?? 0) - (counts?.reported ?? 0)).toBe(away);
      // One in four, give or take: far from none and far from all.
      expect(reported.length).toBeGreaterThan(sent * 2 * 0.15);
      expect(reported.length).toBeLessThan(sent * 2 * 0.35);
      for (const f of reported) expect(f.extensions?.sampleRate).toBe(4);

      // The sampled-away counter reaches /metrics (it is collected on stop at the latest).
      await h.stop();
      suite.harness = undefined;
      const text = (await h.metrics.expose()).body;
      expect(text).toContain(`controlplane_networkobservability_sampled_away_events_total{plugin="packetparser"} ${away}`);
    });

    it('the budget controller raises the kernel rate when over budget and lowers it again when under', async () => {
      const h = (suite.harness = await startPlugin(suite.topo, {}, { bypassLookupIPOfInterest: true, cpuBudget: 0.2 }));
      let cpu = 0;
      let now = 0;
      const c = new CpuBudgetController({
        budgetCores: 0.2,
        hub: samplingHubOf(h.metrics),
        cpuSeconds: () => cpu,
        now: () => now,
      });
      const second = (cores: number) => {
        cpu += cores;
        now += 1000;
        c.tick();
      };
      // The first interval is taken for start-up (no event seen in it) and leaves the rate alone; the next decides.
      second(1.6);
      expect(h.plugin.samplingRate()).toBe(1);
      second(1.6);
      const raised = h.plugin.samplingRate();
      expect(raised).toBeGreaterThan(1);
      // Quiet seconds: the rate comes down step by step to 1.
      for (let i = 0; i < 60 && h.plugin.samplingRate() > 1; i++) second(0.01);
      expect(h.plugin.samplingRate()).toBe(1);

      // Back at 1 every packet is reported again.
      const port = 47_802;
      sendUdpFrom(suite.topo.a.ns, { address: suite.topo.b.ip4, port, sourcePort: suite.sourcePort(), count: 20, size: 32 });
      await flush(h);
      const reported = h.flows.filter((f) => dport(f) === port);
      expect(reported).toHaveLength(40);
      for (const f of reported) expect(f.extensions?.sampleRate).toBeUndefined();
    });

    it('without a budget the plugin does not register and reports every event', async () => {
      const h = (suite.harness = await startPlugin(suite.topo, {}, { bypassLookupIPOfInterest: true }));
      expect(samplingHubOf(h.metrics).samplers).toEqual([]);
      const port = 47_803;
      sendUdpFrom(suite.topo.a.ns, { address: suite.topo.b.ip4, port, sourcePort: suite.sourcePort(), count: 300, size: 32 });
      await flush(h);
      expect(h.flows.filter((f) => dport(f) === port)).toHaveLength(600);
      expect(h.plugin.sampledAway()).toBe(0n);
      expect(h.plugin.samplingRate()).toBe(1);
    });
  },
  { requires: sched },
);
