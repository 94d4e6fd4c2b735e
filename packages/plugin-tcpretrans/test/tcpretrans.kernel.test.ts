/**
 * tcpretrans in the real kernel: a TCP client in one test namespace retransmits because an iptables rule drops the
 * server's ACKs for a moment. The plugin observes only the client namespace (netnsInode), so retransmissions
 * elsewhere on the machine (other suites run in parallel) cannot change what is asserted, and every count is
 * compared exactly with the client namespace's own RetransSegs counter.
 */
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { IpVersion, LostEventType, TraceObservationPoint, TrafficDirection, Verdict, type Flow } from '@retina-ts/core';
import { describeKernel, listBpfLinks, programsHeldBy, programsStillLoaded, waitFor } from '@retina-ts/testkit';
import {
  SERVER_PORT,
  connectClient,
  createTcpPair,
  flowSegments,
  metricValue,
  provokeRetransmissions,
  startPlugin,
  startServer,
  suiteRequirements,
  type Harness,
  type NsProcess,
  type TcpPair,
} from './kernel-env.js';

describeKernel(
  'tcpretrans plugin with real retransmissions',
  () => {
    let pair: TcpPair;
    let server: NsProcess;
    const clients: NsProcess[] = [];
    const harnesses: Harness[] = [];

    async function start(...args: Parameters<typeof startPlugin>): Promise<Harness> {
      const h = await startPlugin(...args);
      harnesses.push(h);
      return h;
    }

    async function connect(host: string, count: number) {
      const conn = await connectClient(pair, host, count);
      clients.push(conn.client);
      return conn;
    }

    /**
     * The plugin's totals once its counter has caught up with `expected` more retransmissions than `before`. The
     * kernel counts RetransSegs before it sends the segment and fires the tracepoint after, and on a veth the
     * peer's ACK can be processed within that send, so the test may see "all acknowledged" a moment before the
     * last program run. Waiting for it (bounded) is not a timing assertion; the exact comparison follows.
     */
    async function settled(h: Harness, before: bigint, expected: number) {
      await waitFor(() => h.plugin.collect().retransmits - before >= BigInt(expected), { timeoutMs: 5_000 }).catch(() => undefined);
      return h.plugin.collect();
    }

    /** Waits until the flows stand for `segments` retransmitted segments (records reach user space asynchronously). */
    async function flowsFor(h: Harness, segments: number): Promise<Flow[]> {
      await waitFor(() => flowSegments(h.flows) >= segments, {
        timeoutMs: 10_000,
        description: `flows for ${segments} segments (have ${flowSegments(h.flows)})`,
      }).catch(() => undefined);
      return h.flows;
    }

    beforeAll(async () => {
      pair = createTcpPair();
      server = await startServer(pair);
    });

    afterEach(async () => {
      for (const h of harnesses.splice(0)) await h.stop();
      for (const c of clients.splice(0)) await c.close();
    });

    afterAll(async () => {
      await server?.close();
      pair?.destroy();
    });

    it.each([
      ['IPv4', 'clientIp4', 'serverIp4', false, IpVersion.IPv4],
      ['IPv6', 'clientIp6', 'serverIp6', true, IpVersion.IPv6],
    ] as const)('%s: counts every retransmitted segment and reports each as a flow', async (_name, clientKey, serverKey, ipv6, ipVersion) => {
      const h = await start({ netnsInode: pair.clientInode });
      expect(h.plugin.flowsEnabled).toBe(true);
      const conn = await connect(pair[serverKey], 1);
      const before = h.plugin.collect().retransmits;

      const retransmitted = await provokeRetransmissions(pair, conn, server, { ipv6, minRetransmits: 2 });
      expect(retransmitted).toBeGreaterThanOrEqual(2);

      const stats = await settled(h, before, retransmitted);
      expect(stats.retransmits - before).toBe(BigInt(retransmitted));
      expect(stats.eventsLost + stats.eventsLimited).toBe(0n);
      expect(await metricValue(h.metrics.basic.tcpRetransmissionCount)).toBe(Number(stats.retransmits));

      const flows = await flowsFor(h, retransmitted);
      expect(flowSegments(flows)).toBe(retransmitted);
      for (const f of flows) {
        expect(f).toMatchObject({
          verdict: Verdict.RETRANSMISSION,
          trafficDirection: TrafficDirection.EGRESS,
          traceObservationPoint: TraceObservationPoint.TO_STACK,
          isReply: false,
          nodeName: 'kernel-test-node',
          emitter: 'tcpretrans',
          ip: { source: pair[clientKey], destination: pair[serverKey], ipVersion },
          l4: { tcp: { sourcePort: conn.ports[0], destinationPort: SERVER_PORT } },
        });
        expect(f.l4?.tcp?.flags?.ACK).toBe(true);
        // Flow times are wall-clock nanoseconds of this run.
        expect(Number(f.timeNs / 1_000_000n)).toBeGreaterThan(Date.now() - 120_000);
        expect(Number(f.timeNs / 1_000_000n)).toBeLessThanOrEqual(Date.now());
      }
    });

    it('reports a dual-stack socket talking IPv4 (IPv4-mapped addresses) as IPv4', async () => {
      const h = await start({ netnsInode: pair.clientInode });
      const conn = await connect(`::ffff:${pair.serverIp4}`, 1);
      const retransmitted = await provokeRetransmissions(pair, conn, server, { ipv6: false, minRetransmits: 1 });
      const flows = await flowsFor(h, retransmitted);
      expect(flowSegments(flows)).toBe(retransmitted);
      expect(flows[0]?.ip).toEqual({ source: pair.clientIp4, destination: pair.serverIp4, ipVersion: IpVersion.IPv4 });
    });

    it('without flows (basic mode) still counts every segment, and sends nothing to the FlowBus', async () => {
      const h = await start({ netnsInode: pair.clientInode }, { podLevel: false });
      expect(h.plugin.flowsEnabled).toBe(false);
      const conn = await connect(pair.serverIp4, 2);
      const before = h.plugin.collect().retransmits;
      const retransmitted = await provokeRetransmissions(pair, conn, server, { ipv6: false, minRetransmits: 4 });
      const stats = await settled(h, before, retransmitted);
      expect(stats.retransmits - before).toBe(BigInt(retransmitted));
      expect(await metricValue(h.metrics.basic.tcpRetransmissionCount)).toBe(Number(stats.retransmits));
      expect(h.flows).toEqual([]);
      expect(stats.eventsLost + stats.eventsLimited).toBe(0n);
    });

    it('holds back records over the per-CPU rate limit and counts them as lost, never in the counter', async () => {
      const h = await start({ netnsInode: pair.clientInode, maxEventsPerSecondPerCpu: 1 });
      const conns = 6;
      const conn = await connect(pair.serverIp4, conns);
      const before = h.plugin.collect();
      const retransmitted = await provokeRetransmissions(pair, conn, server, { ipv6: false, minRetransmits: 2 * conns });
      const stats = await settled(h, before.retransmits, retransmitted);
      expect(stats.retransmits - before.retransmits).toBe(BigInt(retransmitted));

      const limited = Number(stats.eventsLimited - before.eventsLimited);
      const lost = Number(stats.eventsLost - before.eventsLost);
      // Each record stands for one retransmission call; a call resends one segment here (1000-byte writes).
      await waitFor(() => flowSegments(h.flows) + limited + lost >= retransmitted, {
        timeoutMs: 10_000,
        description: 'delivered and held-back records to add up',
      }).catch(() => undefined);
      expect(flowSegments(h.flows) + limited + lost).toBe(retransmitted);
      expect(limited).toBeGreaterThan(0);
      expect(await metricValue(h.metrics.self.lostEventsCounter, { type: LostEventType.KERNEL, reason: 'tcpretrans' })).toBe(
        Number(stats.eventsLimited + stats.eventsLost),
      );
    });

    it('leaves nothing attached or loaded after stop', async () => {
      // Programs this process holds, not every rts_tr_retrans: other processes on the machine may load their own.
      const before = new Set(programsHeldBy('rts_tr_retrans').map((p) => p.id));
      const h = await startPlugin({ netnsInode: pair.clientInode });
      const ours = programsHeldBy('rts_tr_retrans').filter((p) => !before.has(p.id));
      expect(ours).toHaveLength(1);
      const ids = ours.map((p) => p.id);
      expect(listBpfLinks().filter((l) => ids.includes(l.progId))).toHaveLength(1);

      await h.stop();
      await h.plugin.stop(); // idempotent
      expect(listBpfLinks().filter((l) => ids.includes(l.progId))).toEqual([]);
      await waitFor(() => programsStillLoaded(ids).length === 0, { description: 'the program to be unloaded' });
    });

    it('fails init with the reason for bad options, loading nothing', async () => {
      const before = programsHeldBy('rts_tr_retrans').length;
      await expect(startPlugin({ ringBufferBytes: 5000 })).rejects.toThrow(/plugins\.tcpretrans\.ringBufferBytes: .*power of two/);
      expect(programsHeldBy('rts_tr_retrans').length).toBe(before);
    });
  },
  { requires: suiteRequirements },
);
