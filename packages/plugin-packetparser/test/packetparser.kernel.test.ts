/**
 * packetparser in the real kernel: two pod namespaces routed through a node namespace, the plugin attached to
 * both pods' host-side veths, real UDP and TCP traffic between the pods. Only TCP and UDP produce events, so the
 * ARP / neighbour-discovery / ICMP chatter of the links never shows up, and every count is asserted exactly.
 *
 * A packet from pod a to pod b passes two hooks: a's host end, ingress (FROM_ENDPOINT, reported as TO_STACK) and
 * b's host end, egress (TO_ENDPOINT).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BpfObject, RingBufferReader, probes, runInNetns } from '@retina-ts/bpf-runtime';
import { NodeEventHub, TraceObservationPoint, TrafficDirection, type Flow, type IpHeader } from '@retina-ts/core';
import { describeKernel, listBpfLinks, programsStillLoaded, tcFilters, waitFor } from '@retina-ts/testkit';
import {
  sendUdpFrom,
  startPlugin,
  startTcpServer,
  tcpExchange,
  topologySuite,
  type Harness,
  type HarnessConfig,
} from './kernel-env.js';
import type { PacketParserOptions } from '../src/options.js';
import { bpfObjectPath } from '../src/plugin.js';
import { ctEntryTotals, decodeEvent, eventToFlow, type PacketEvent } from '../src/decode.js';

const UDP_FRAME_V4 = 14 + 20 + 8;
const UDP_FRAME_V6 = 14 + 40 + 8;
const MARKER_PORT = 47_999;

const dport = (f: Flow) => f.l4?.udp?.destinationPort ?? f.l4?.tcp?.destinationPort;
const sport = (f: Flow) => f.l4?.udp?.sourcePort ?? f.l4?.tcp?.sourcePort;
const atA = (f: Flow) => f.traceObservationPoint === TraceObservationPoint.TO_STACK;
const atB = (f: Flow) => f.traceObservationPoint === TraceObservationPoint.TO_ENDPOINT;
/** Flows of one TCP or UDP conversation, identified by the server port on either side. */
const onPort = (flows: Flow[], port: number) => flows.filter((f) => dport(f) === port || sport(f) === port);

async function counterValue(h: Harness, name: 'parsedPacketsCounter'): Promise<number> {
  return (await h.metrics.self[name].get()).values.reduce((s, v) => s + v.value, 0);
}

/** Ethernet + IPv4 (with `ipOptionWords` of options) + TCP SYN carrying MSS, SACK-permitted, timestamps and window scale. */
function tcpSynFrame(ipOptionWords: number, tsval: number, tsecr: number): Buffer {
  const eth = Buffer.from('02000000000102000000000208' + '00', 'hex');
  const tcpOptions = Buffer.from([2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7]);
  tcpOptions.writeUInt32BE(tsval, 8);
  tcpOptions.writeUInt32BE(tsecr, 12);
  const tcp = Buffer.concat([Buffer.alloc(20), tcpOptions]);
  tcp.writeUInt16BE(40_123, 0);
  tcp.writeUInt16BE(443, 2);
  tcp.writeUInt32BE(1000, 4);
  tcp[12] = (tcp.length / 4) << 4;
  tcp[13] = 0x02;
  const ip = Buffer.alloc(20 + ipOptionWords * 4, 1); // option bytes of 1 are NOPs
  ip[0] = 0x40 | (5 + ipOptionWords);
  ip.writeUInt16BE(ip.length + tcp.length, 2);
  ip.writeUInt16BE(0, 6);
  ip[8] = 64;
  ip[9] = 6;
  ip.set([10, 238, 0, 1], 12);
  ip.set([10, 238, 0, 2], 16);
  return Buffer.concat([eth, ip, tcp]);
}

describeKernel('packetparser programs (BPF_PROG_TEST_RUN)', () => {
  let obj: BpfObject;
  let reader: RingBufferReader;
  const events: PacketEvent[] = [];

  beforeAll(() => {
    obj = BpfObject.open(bpfObjectPath());
    obj.setConstant('bypass_ioi', 1).setMapMaxEntries('rts_pp_events', 1 << 16);
    obj.load();
    reader = new RingBufferReader(obj.map('rts_pp_events'), {
      onBatch: (b) => {
        for (let i = 0; i < b.count; i++) events.push(decodeEvent(b.buffer.subarray(b.offsets[i], b.offsets[i]! + b.lengths[i]!)));
      },
    }).start();
  });
  afterAll(() => {
    reader?.stop();
    obj?.close();
  });

  it('reads the TCP timestamp option behind IPv4 options and reports it as tcp_id leaving the node', async () => {
    const frame = tcpSynFrame(2, 0xdeadbeef, 7);
    const result = obj.program('rts_pp_host_eg').testRun(frame);
    expect(result.retval).toBe(-1); // TC_ACT_UNSPEC / TCX_NEXT: the packet goes on unchanged
    await waitFor(() => events.length >= 1, { description: 'the event of the test packet' });
    expect(events).toHaveLength(1);
    const ev = events[0]!;
    expect(ev).toMatchObject({
      source: '10.238.0.1',
      destination: '10.238.0.2',
      sourcePort: 40_123,
      destinationPort: 443,
      seq: 1000,
      tsval: 0xdeadbeef,
      tsecr: 7,
      bytes: frame.length,
      observationPoint: 3,
      trafficDirection: TrafficDirection.EGRESS,
      flags: 0x02,
      isReply: false,
      conntrack: { bytesTx: frame.length, bytesRx: 0, packetsTx: 1, packetsRx: 0 },
    });
    expect(eventToFlow(ev, { nodeName: 'n', epochOffsetNs: 0n }).extensions?.tcpId).toBe(0xdeadbeef);
    // The connection-table entry the program wrote decodes to the same totals the event carried.
    const entries = obj.map('rts_pp_ct').lookupBatch();
    expect(entries).toHaveLength(1);
    expect(ctEntryTotals(entries[0]![1])).toEqual({ bytesTx: frame.length, bytesRx: 0, packetsTx: 1, packetsRx: 0 });
  });
});

describeKernel(
  'packetparser on pod veths',
  () => {
    const servers: ChildProcess[] = [];
    const suite = topologySuite(41_000, () => {
      for (const s of servers) s.kill();
    });

    async function start(options: PacketParserOptions = {}, cfg: HarnessConfig = {}): Promise<Harness> {
      suite.harness = await startPlugin(suite.topo, options, { bypassLookupIPOfInterest: true, ...cfg });
      return suite.harness;
    }

    /** Sends a marker datagram a → b and waits for its last event, so every earlier event has been read. */
    async function flush(h: Harness, where: (f: Flow) => boolean = atB, from = suite.topo.a, to = suite.topo.b.ip4): Promise<void> {
      const before = h.flows.filter((f) => dport(f) === MARKER_PORT && where(f)).length;
      sendUdpFrom(from.ns, { address: to, port: MARKER_PORT, sourcePort: suite.sourcePort(), count: 1, size: 1 });
      await waitFor(() => h.flows.filter((f) => dport(f) === MARKER_PORT && where(f)).length > before, {
        description: 'the marker datagram to be reported',
      });
    }

    /** Sends `count` datagrams of `size` payload bytes from a to `to`:`port`, from a fresh source port it returns. */
    function sendFromA(to: string, port: number, count: number, size: number): number {
      const sourcePort = suite.sourcePort();
      sendUdpFrom(suite.topo.a.ns, { address: to, port, sourcePort, count, size });
      return sourcePort;
    }

    /**
     * Sends `count` datagrams of `size` payload bytes a → `ip.destination`:`port` and returns their flows, checked:
     * each datagram reported once at a's hook and once at b's, with its addresses, ports and frame length
     * (`size + frame`).
     */
    async function udpFromA(h: Harness, ip: IpHeader, port: number, count: number, size: number, frame: number) {
      const sp = sendFromA(ip.destination, port, count, size);
      await flush(h);
      const flows = onPort(h.flows, port);
      expect(flows.filter(atA)).toHaveLength(count);
      expect(flows.filter(atB)).toHaveLength(count);
      expect(flows).toHaveLength(2 * count);
      for (const f of flows) {
        expect(f.ip).toEqual(ip);
        expect(f.l4).toEqual({ udp: { sourcePort: sp, destinationPort: port } });
        expect(f.extensions?.bytes).toBe(size + frame);
      }
      return flows;
    }

    it('low aggregation: one flow per UDP packet and hook, with exact 5-tuple, bytes and direction (IPv4)', async () => {
      const h = await start();
      const ip = { source: suite.topo.a.ip4, destination: suite.topo.b.ip4, ipVersion: 1 };
      const flows = await udpFromA(h, ip, 47_001, 5, 100, UDP_FRAME_V4);
      for (const f of flows) {
        // Bytes and nothing else: no previously-observed counters at low aggregation, no tcp_id for UDP.
        expect(f.extensions).toEqual({ bytes: 100 + UDP_FRAME_V4 });
        expect(f.isReply).toBe(false);
        expect(f.trafficDirection).toBe(TrafficDirection.EGRESS);
        expect(f.verdict).toBe(1);
        expect(f.nodeName).toBe('kernel-test-node');
      }
      // Every record read became a flow: the parsed counter equals what was emitted.
      expect(await counterValue(h, 'parsedPacketsCounter')).toBe(h.flows.length);
      expect(h.plugin.parsedRecords).toBe(h.flows.length);
    });

    it('low aggregation: IPv6 UDP packets are reported with IPv6 addresses', async () => {
      const h = await start();
      await udpFromA(h, { source: suite.topo.a.ip6, destination: suite.topo.b.ip6, ipVersion: 2 }, 47_002, 3, 200, UDP_FRAME_V6);
    });

    it('low aggregation: a TCP connection shows its handshake, replies and teardown at both hooks', async () => {
      const h = await start();
      servers.push(await startTcpServer(suite.topo.b.ns, suite.topo.b.ip4, 47_003));
      expect(tcpExchange(suite.topo.a.ns, suite.topo.b.ip4, 47_003, 3000)).toBe('3000');
      await flush(h);

      const flows = onPort(h.flows, 47_003);
      const requests = flows.filter((f) => dport(f) === 47_003);
      const replies = flows.filter((f) => sport(f) === 47_003);
      for (const f of requests) {
        expect(f.ip?.source).toBe(suite.topo.a.ip4);
        expect(f.isReply).toBe(false);
      }
      for (const f of replies) {
        expect(f.ip?.source).toBe(suite.topo.b.ip4);
        expect(f.isReply).toBe(true);
      }
      // Every flow of the connection carries the opener's direction: a opened it, leaving its pod.
      expect(new Set(flows.map((f) => f.trafficDirection))).toEqual(new Set([TrafficDirection.EGRESS]));

      const flags = (f: Flow) => f.l4?.tcp?.flags ?? {};
      for (const at of [atA, atB]) {
        const here = flows.filter(at);
        expect(here.filter((f) => flags(f).SYN && !flags(f).ACK)).toHaveLength(1);
        expect(here.filter((f) => flags(f).SYN && flags(f).ACK)).toHaveLength(1);
        expect(here.filter((f) => flags(f).FIN)).toHaveLength(2);
        expect(here.filter((f) => flags(f).RST)).toHaveLength(0);
      }
      // The same packets cross both hooks: equal counts and bytes per direction.
      const sum = (fs: Flow[]) => fs.reduce((s, f) => s + (f.extensions?.bytes ?? 0), 0);
      expect(requests.filter(atA).length).toBe(requests.filter(atB).length);
      expect(replies.filter(atA).length).toBe(replies.filter(atB).length);
      expect(sum(requests.filter(atA))).toBe(sum(requests.filter(atB)));
      expect(sum(replies.filter(atA))).toBe(sum(replies.filter(atB)));
      // 3000 payload bytes over at least the SYN, the data and the FIN.
      expect(sum(requests.filter(atA))).toBeGreaterThan(3000);
    });

    it('reports only packets from or to the IPs of interest, and follows updates of the set', async () => {
      const h = await start({ ipsOfInterest: [suite.topo.a.ip4] }, { bypassLookupIPOfInterest: false });
      sendFromA(suite.topo.b.ip4, 47_004, 3, 10);
      // b → node: neither end is of interest.
      sendUdpFrom(suite.topo.b.ns, { address: suite.topo.nodeIpB, port: 47_005, sourcePort: suite.sourcePort(), count: 4, size: 10 });
      await flush(h);
      expect(onPort(h.flows, 47_004)).toHaveLength(6);
      expect(onPort(h.flows, 47_005)).toHaveLength(0);

      h.plugin.setIpsOfInterest([suite.topo.b.ip4]);
      sendUdpFrom(suite.topo.b.ns, { address: suite.topo.nodeIpB, port: 47_005, sourcePort: suite.sourcePort(), count: 2, size: 10 });
      sendFromA(suite.topo.b.ip4, 47_006, 1, 10);
      await flush(h);
      // b → node is seen once, leaving pod b; a → b is reported because b is now of interest.
      expect(onPort(h.flows, 47_005).map((f) => [f.ip?.source, f.traceObservationPoint])).toEqual([
        [suite.topo.b.ip4, TraceObservationPoint.TO_STACK],
        [suite.topo.b.ip4, TraceObservationPoint.TO_STACK],
      ]);
      expect(onPort(h.flows, 47_006)).toHaveLength(2);

      h.plugin.setIpsOfInterest([]);
      sendFromA(suite.topo.b.ip4, 47_007, 2, 10);
      h.plugin.setIpsOfInterest([suite.topo.a.ip4]);
      await flush(h);
      expect(onPort(h.flows, 47_007)).toHaveLength(0);
    });

    it('high aggregation: a connection is reported once per interval, carrying what was seen since', async () => {
      const h = await start({}, { dataAggregationLevel: 'high', conntrackReportInterval: '1s' });
      const sp = sendFromA(suite.topo.b.ip4, 47_008, 4, 100);
      // At high aggregation the marker (a new connection) is reported once, where it is first seen.
      await flush(h, atA);
      const first = onPort(h.flows, 47_008);
      expect(first).toHaveLength(1);
      expect(first[0]!.traceObservationPoint).toBe(TraceObservationPoint.TO_STACK);
      expect(first[0]!.extensions).toEqual({ bytes: 100 + UDP_FRAME_V4 });

      // Let the report interval pass: the next packet reports everything accumulated since the first report:
      // the first packet at b's hook plus packets 2..4 at both hooks.
      await sleep(1100);
      sendUdpFrom(suite.topo.a.ns, { address: suite.topo.b.ip4, port: 47_008, sourcePort: sp, count: 1, size: 100 });
      await flush(h, atA);
      const flows = onPort(h.flows, 47_008);
      expect(flows).toHaveLength(2);
      expect(flows[1]!.traceObservationPoint).toBe(TraceObservationPoint.TO_STACK);
      expect(flows[1]!.extensions).toEqual({
        bytes: 100 + UDP_FRAME_V4,
        previouslyObservedPackets: 7,
        previouslyObservedBytes: 7 * (100 + UDP_FRAME_V4),
      });
      expect(flows[1]!.isReply).toBe(false);
      expect(flows[1]!.trafficDirection).toBe(TrafficDirection.EGRESS);
    });

    it('high aggregation: the conntrack sweep removes expired connections only', async () => {
      const h = await start({}, { dataAggregationLevel: 'high' });
      const CONNECTIONS = 40;
      for (let i = 0; i < CONNECTIONS; i++) {
        sendFromA(suite.topo.b.ip4, 47_020, 1, 10);
      }
      await flush(h, atA);
      // Nothing has expired yet: every connection (and the markers') stays.
      expect(h.plugin.collectGarbage()).toBe(0);
      // A minute later (non-TCP lifetime 60 s) all of them have: the test connections and the marker's.
      const later = process.hrtime.bigint() + 61_000_000_000n;
      expect(h.plugin.collectGarbage(later)).toBeGreaterThanOrEqual(CONNECTIONS + 1);
      expect(h.plugin.collectGarbage(later)).toBe(0);
    });

    it('high aggregation: TCP control packets are reported with the flags seen since the previous report', async () => {
      const h = await start({}, { dataAggregationLevel: 'high' });
      servers.push(await startTcpServer(suite.topo.b.ns, suite.topo.b.ip4, 47_009));
      expect(tcpExchange(suite.topo.a.ns, suite.topo.b.ip4, 47_009, 20_000)).toBe('20000');
      await flush(h, atA);
      const flows = onPort(h.flows, 47_009);
      const flags = (f: Flow) => f.l4?.tcp?.flags ?? {};
      // SYN opens the connection (reported at a's hook), and SYN carries a report wherever it is seen.
      expect(flows.filter((f) => flags(f).SYN && !flags(f).ACK)).toHaveLength(2);
      expect(flows.filter((f) => flags(f).SYN && flags(f).ACK)).toHaveLength(2);
      expect(flows.filter((f) => flags(f).FIN).length).toBeGreaterThanOrEqual(2);
      // Far fewer reports than packets: the data packets are folded into the reports' counters.
      const packetsSeen = flows.reduce((s, f) => s + 1 + (f.extensions?.previouslyObservedPackets ?? 0), 0);
      expect(flows.length).toBeLessThan(packetsSeen);
      const withPrev = flows.filter((f) => (f.extensions?.previouslyObservedPackets ?? 0) > 0);
      expect(withPrev.length).toBeGreaterThan(0);
      for (const f of withPrev) expect(f.extensions?.previouslyObservedTcpFlags?.ACK).toBeGreaterThan(0);
    });

    it('enableConntrackMetrics: conntrack_* gauges equal the traffic sent, per direction, on conntrackReportInterval', async () => {
      const h = await start({}, { enableConntrackMetrics: true, conntrackReportInterval: '1s' });
      const basic = h.metrics.basic;
      const value = async (g: typeof basic.conntrackPacketsTx) => (await g.get()).values[0]?.value ?? 0;
      const gauges = async () => ({
        connections: await value(basic.conntrackTotalConnections),
        packetsTx: await value(basic.conntrackPacketsTx),
        packetsRx: await value(basic.conntrackPacketsRx),
        bytesTx: await value(basic.conntrackBytesTx),
        bytesRx: await value(basic.conntrackBytesRx),
      });
      // One UDP conversation: 6 datagrams a → b, 4 answers b → a on the reversed 5-tuple. Every packet crosses two
      // hooks (a's and b's host ends), and each hook adds it to the connection's totals.
      const sp = sendFromA(suite.topo.b.ip4, 47_040, 6, 300);
      sendUdpFrom(suite.topo.b.ns, { address: suite.topo.a.ip4, port: sp, sourcePort: 47_040, count: 4, size: 50 });
      // A second connection, IPv6, one way.
      sendFromA(suite.topo.b.ip6, 47_041, 3, 20);
      const expected = {
        connections: 2,
        packetsTx: 2 * (6 + 3),
        packetsRx: 2 * 4,
        bytesTx: 2 * (6 * (300 + UDP_FRAME_V4) + 3 * (20 + UDP_FRAME_V6)),
        bytesRx: 2 * 4 * (50 + UDP_FRAME_V4),
      };
      // The report timer (1 s) sets the gauges; nothing here calls reportConntrack().
      let seen = await gauges();
      for (let tries = 0; JSON.stringify(seen) !== JSON.stringify(expected) && tries < 100; tries++) {
        await sleep(50);
        seen = await gauges();
      }
      expect(seen).toEqual(expected);
      expect(h.plugin.reportConntrack()).toEqual(expected);

      // The per-packet flows (low aggregation) account for the same packets and bytes.
      const flows = [...onPort(h.flows, 47_040), ...onPort(h.flows, 47_041)];
      const bytes = (fs: Flow[]) => fs.reduce((s, f) => s + (f.extensions?.bytes ?? 0), 0);
      expect(bytes(flows.filter((f) => !f.isReply))).toBe(expected.bytesTx);
      expect(bytes(flows.filter((f) => f.isReply))).toBe(expected.bytesRx);

      // Stopping the plugin takes its totals off /metrics.
      await h.stop();
      suite.harness = undefined;
      expect(await gauges()).toEqual({ connections: 0, packetsTx: 0, packetsRx: 0, bytesTx: 0, bytesRx: 0 });
    });

    it('without enableConntrackMetrics the conntrack_* gauges stay unset', async () => {
      const h = await start({}, { conntrackReportInterval: '1s' });
      sendFromA(suite.topo.b.ip4, 47_042, 2, 10);
      await flush(h);
      // The table has the traffic, but the gauges are not written.
      expect(h.plugin.reportConntrack().packetsTx).toBeGreaterThanOrEqual(4);
      expect((await h.metrics.basic.conntrackPacketsTx.get()).values[0]?.value ?? 0).toBe(0);
      expect((await h.metrics.basic.conntrackTotalConnections.get()).values[0]?.value ?? 0).toBe(0);
    });

    it('leaves no program or link behind after stop', async () => {
      const h = await start();
      const ids = h.plugin.programIds;
      expect(ids).toHaveLength(4);
      const kinds = h.plugin.attachments.map((a) => a.kind);
      expect(kinds).toEqual(probes.tcxSupported() ? ['tcx', 'tcx'] : ['clsact', 'clsact']);
      expect(listBpfLinks().filter((l) => ids.includes(l.progId)).length).toBe(probes.tcxSupported() ? 4 : 0);

      await h.stop();
      suite.harness = undefined;
      expect(programsStillLoaded(ids)).toEqual([]);
      expect(listBpfLinks().filter((l) => ids.includes(l.progId))).toEqual([]);
      expect(h.plugin.attachments).toEqual([]);
    });

    it('with enableTCX=off attaches clsact filters in the node namespace and removes them at stop', async () => {
      const h = await start({}, { enableTCX: 'off' });
      expect(h.plugin.attachments.map((a) => a.kind)).toEqual(['clsact', 'clsact']);
      const filters = () =>
        [suite.topo.a.hostIf, suite.topo.b.hostIf].flatMap((ifname) => tcFilters(ifname, { netns: suite.topo.node }));
      expect(filters()).toHaveLength(4);
      sendFromA(suite.topo.b.ip4, 47_011, 2, 10);
      await flush(h);
      expect(onPort(h.flows, 47_011)).toHaveLength(4);
      await h.stop();
      suite.harness = undefined;
      expect(filters()).toEqual([]);
    });

    it('follows the node: attaches to pod interfaces as they appear, detaches as they go, applies the IPs of interest', async () => {
      const hub = new NodeEventHub();
      const h = await startPlugin(suite.topo, {}, { bypassLookupIPOfInterest: false, node: hub });
      suite.harness = h;
      // The suite.harness attached both pods itself; let the node events own pod b from here on.
      h.plugin.detachInterface(suite.topo.b.hostIf);
      // Interface names resolve in the calling thread's namespace: announce b from inside the node namespace.
      runInNetns(suite.topo.node.path, () => hub.addPodInterface({ name: suite.topo.b.hostIf, index: 1 }));
      expect(h.plugin.attachments.map((a) => a.ifname).sort()).toEqual([suite.topo.a.hostIf, suite.topo.b.hostIf].sort());

      // Nothing is of interest yet: traffic a → b is not reported.
      sendFromA(suite.topo.b.ip4, 47_020, 2, 10);
      hub.setIpsOfInterest([suite.topo.b.ip4]);
      sendFromA(suite.topo.b.ip4, 47_021, 2, 10);
      await flush(h);
      expect(onPort(h.flows, 47_020)).toEqual([]);
      expect(onPort(h.flows, 47_021).filter(atB)).toHaveLength(2);

      hub.removePodInterface(suite.topo.b.hostIf);
      expect(h.plugin.attachments.map((a) => a.ifname)).toEqual([suite.topo.a.hostIf]);
    });

    it('detachInterface stops the reports of that interface only', async () => {
      const h = await start();
      expect(h.plugin.detachInterface(suite.topo.b.hostIf)).toBe(true);
      expect(h.plugin.detachInterface(suite.topo.b.hostIf)).toBe(false);
      sendFromA(suite.topo.b.ip4, 47_010, 3, 10);
      await flush(h, atA);
      expect(onPort(h.flows, 47_010).map((f) => f.traceObservationPoint)).toEqual([
        TraceObservationPoint.TO_STACK,
        TraceObservationPoint.TO_STACK,
        TraceObservationPoint.TO_STACK,
      ]);
      expect(h.plugin.attachments.map((a) => a.ifname)).toEqual([suite.topo.a.hostIf]);
    });
  },
  { requires: () => (probes.programTypeSupported('sched_cls') ? undefined : 'the kernel refuses sched_cls programs') },
);
