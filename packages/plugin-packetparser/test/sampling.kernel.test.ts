/**
 * cpuBudget sampling in the kernel: with a budget the plugin registers with the agent's sampling hub, the hub's rate
 * lands in the programs' sampling map, and every packet is accounted for exactly: events reported plus events the
 * kernel counted as sampled away equal the packets sent times the hooks they passed. Without a budget nothing
 * registers and every event is reported (the other kernel tests assert those exact counts).
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { probes } from '@retina-ts/bpf-runtime';
import { CpuBudgetController, TraceObservationPoint, samplingHubOf, type Flow } from '@retina-ts/core';
import { describeKernel, waitFor } from '@retina-ts/testkit';
import { createTopology, sendUdpFrom, startPlugin, type Harness, type Topology } from './kernel-env.js';

const MARKER_PORT = 47_899;
const dport = (f: Flow) => f.l4?.udp?.destinationPort;
const atB = (f: Flow) => f.traceObservationPoint === TraceObservationPoint.TO_ENDPOINT;

describeKernel(
  'packetparser sampling under cpuBudget',
  () => {
    let topo: Topology;
    let harness: Harness | undefined;
    let nextSourcePort = 43_000;

    beforeAll(() => {
      topo = createTopology();
    });
    afterEach(async () => {
      await harness?.stop();
      harness = undefined;
    });
    afterAll(() => topo?.destroy());

    /** Sends an unsampled marker datagram and waits for its event: every earlier event has been read then. */
    async function flush(h: Harness): Promise<void> {
      const hub = samplingHubOf(h.metrics);
      const rate = hub.rate;
      hub.setRate(1);
      const before = h.flows.filter((f) => dport(f) === MARKER_PORT && atB(f)).length;
      sendUdpFrom(topo.a.ns, { address: topo.b.ip4, port: MARKER_PORT, sourcePort: nextSourcePort++, count: 1, size: 1 });
      await waitFor(() => h.flows.filter((f) => dport(f) === MARKER_PORT && atB(f)).length > before, {
        description: 'the marker datagram to be reported',
      });
      hub.setRate(rate);
    }

    it('reports one event in N and counts the rest, so reported + sampled away = packets × hooks, exactly', async () => {
      const h = (harness = await startPlugin(topo, {}, { bypassLookupIPOfInterest: true, cpuBudget: 0.5 }));
      const hub = samplingHubOf(h.metrics);
      expect(hub.samplers).toEqual(['packetparser']);
      expect(h.plugin.samplingRate()).toBe(1);

      hub.setRate(4);
      expect(h.plugin.samplingRate()).toBe(4);
      const sent = 1500;
      const port = 47_801;
      sendUdpFrom(topo.a.ns, { address: topo.b.ip4, port, sourcePort: nextSourcePort++, count: sent, size: 32 });
      await flush(h);

      const reported = h.flows.filter((f) => dport(f) === port);
      const away = Number(h.plugin.sampledAway());
      // Nothing lost on the way (ring buffer full, reader queue): sampling is the only reason an event is missing.
      h.plugin.collect();
      expect((await h.metrics.expose()).body).not.toMatch(/^controlplane_networkobservability_lost_events_counter\{.*\} [1-9]/m);
      // Two hooks per packet: a's host end (ingress) and b's host end (egress).
      expect(reported.length + away).toBe(sent * 2);
      // One in four, give or take: far from none and far from all.
      expect(reported.length).toBeGreaterThan(sent * 2 * 0.15);
      expect(reported.length).toBeLessThan(sent * 2 * 0.35);
      for (const f of reported) expect(f.extensions?.sampleRate).toBe(4);

      // The sampled-away counter reaches /metrics (it is collected on stop at the latest).
      await h.stop();
      harness = undefined;
      const text = (await h.metrics.expose()).body;
      expect(text).toContain(`controlplane_networkobservability_sampled_away_events_total{plugin="packetparser"} ${away}`);
    });

    it('the budget controller raises the kernel rate when over budget and lowers it again when under', async () => {
      const h = (harness = await startPlugin(topo, {}, { bypassLookupIPOfInterest: true, cpuBudget: 0.2 }));
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
      second(1.6);
      const raised = h.plugin.samplingRate();
      expect(raised).toBeGreaterThan(1);
      // Quiet seconds: the rate comes down step by step to 1.
      for (let i = 0; i < 60 && h.plugin.samplingRate() > 1; i++) second(0.01);
      expect(h.plugin.samplingRate()).toBe(1);

      // Back at 1 every packet is reported again.
      const port = 47_802;
      sendUdpFrom(topo.a.ns, { address: topo.b.ip4, port, sourcePort: nextSourcePort++, count: 20, size: 32 });
      await flush(h);
      const reported = h.flows.filter((f) => dport(f) === port);
      expect(reported).toHaveLength(40);
      for (const f of reported) expect(f.extensions?.sampleRate).toBeUndefined();
    });

    it('without a budget the plugin does not register and reports every event', async () => {
      const h = (harness = await startPlugin(topo, {}, { bypassLookupIPOfInterest: true }));
      expect(samplingHubOf(h.metrics).samplers).toEqual([]);
      const port = 47_803;
      sendUdpFrom(topo.a.ns, { address: topo.b.ip4, port, sourcePort: nextSourcePort++, count: 300, size: 32 });
      await flush(h);
      expect(h.flows.filter((f) => dport(f) === port)).toHaveLength(600);
      expect(h.plugin.sampledAway()).toBe(0n);
      expect(h.plugin.samplingRate()).toBe(1);
    });
  },
  { requires: () => (probes.programTypeSupported('sched_cls') ? undefined : 'the kernel refuses sched_cls programs') },
);
