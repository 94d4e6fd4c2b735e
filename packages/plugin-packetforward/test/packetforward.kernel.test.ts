/**
 * packetforward in the real kernel: the BPF programs run on crafted buffers with BPF_PROG_TEST_RUN, and the plugin
 * attached to a veth pair counts real UDP traffic to and from a test namespace. The pair carries nothing but the
 * test's packets (see kernel-env.ts), so every count is asserted exactly, against the expected value and against
 * the interface's own counters over the same window.
 */
import dgram from 'node:dgram';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { BpfObject, probes } from '@retina-ts/bpf-runtime';
import { describeKernel, listBpfLinks, programsHeldBy, programsStillLoaded, sendUdp, tcFilters, waitFor } from '@retina-ts/testkit';
import { bpfObjectPath } from '../src/plugin.js';
import { directionKey, sumPerCpuCounters, type Direction, type ForwardTotals } from '../src/decode.js';
import {
  UDP_FRAME_OVERHEAD,
  createSilentLink,
  gaugeValue,
  interfaceCounters,
  startPlugin,
  type Harness,
  type SilentLink,
} from './kernel-env.js';

const PORT = 47_001;

/** struct __sk_buff offsets (UAPI) of the fields BPF_PROG_TEST_RUN lets a test set. */
const SKB_CTX_SIZE = 192;
const SKB_GSO_SEGS = 164;
const SKB_GSO_SIZE = 176;

function skbCtx(gsoSegs: number, gsoSize: number): Buffer {
  const ctx = Buffer.alloc(SKB_CTX_SIZE);
  ctx.writeUInt32LE(gsoSegs, SKB_GSO_SEGS);
  ctx.writeUInt32LE(gsoSize, SKB_GSO_SIZE);
  return ctx;
}

const MACS = Buffer.from('020000000001020000000002', 'hex'); // destination, source

function ethernet(ethertype: number, vlan?: { inner: number }): Buffer {
  if (!vlan) return Buffer.concat([MACS, Buffer.from([ethertype >> 8, ethertype & 0xff])]);
  return Buffer.concat([MACS, Buffer.from([0x81, 0x00, 0x00, 0x64, vlan.inner >> 8, vlan.inner & 0xff])]);
}

function ipv4(protocol: number, optionWords = 0): Buffer {
  const h = Buffer.alloc(20 + optionWords * 4);
  h[0] = 0x40 | (5 + optionWords);
  h[8] = 64;
  h[9] = protocol;
  h.set([10, 236, 0, 1], 12);
  h.set([10, 236, 0, 2], 16);
  return h;
}

function ipv6(nextHeader: number): Buffer {
  const h = Buffer.alloc(40);
  h[0] = 0x60;
  h[6] = nextHeader;
  h[7] = 64;
  return h;
}

function tcp(optionWords = 0): Buffer {
  const h = Buffer.alloc(20 + optionWords * 4);
  h[12] = (5 + optionWords) << 4;
  h[13] = 0x10;
  return h;
}

const udp = (): Buffer => Buffer.alloc(8);

describeKernel('packetforward programs (BPF_PROG_TEST_RUN)', () => {
  let obj: BpfObject;

  beforeAll(() => {
    obj = BpfObject.open(bpfObjectPath());
    obj.load();
  });
  afterAll(() => obj?.close());

  /** Runs a program once on `frame` and returns what it added to the map. */
  function run(direction: Direction, frame: Buffer, segs = 0, segSize = 0): ForwardTotals {
    const map = obj.map('rts_pf_stats');
    const before = sumPerCpuCounters(map.lookupPerCpu(directionKey(direction)) ?? []);
    const result = obj.program(`rts_pf_${direction}`).testRun(frame, { ctxIn: skbCtx(segs, segSize) });
    expect(result.retval).toBe(-1); // TC_ACT_UNSPEC / TCX_NEXT: the packet goes on unchanged
    const after = sumPerCpuCounters(map.lookupPerCpu(directionKey(direction)) ?? []);
    return { packets: after.packets - before.packets, bytes: after.bytes - before.bytes };
  }

  it('counts a plain packet once with its frame length, in its own direction', () => {
    const frame = Buffer.concat([ethernet(0x0800), ipv4(17), udp(), Buffer.alloc(100)]);
    expect(run('ingress', frame)).toEqual({ packets: 1n, bytes: 142n });
    expect(run('egress', frame, 1, 0)).toEqual({ packets: 1n, bytes: 142n });
  });

  it('counts an aggregated TCP/IPv4 buffer as its segments, headers repeated per segment', () => {
    const headers = Buffer.concat([ethernet(0x0800), ipv4(6), tcp(3)]); // 14 + 20 + 32
    const frame = Buffer.concat([headers, Buffer.alloc(3 * 800)]);
    expect(run('ingress', frame, 3, 800)).toEqual({ packets: 3n, bytes: BigInt(3 * (66 + 800)) });
  });

  it('reads the IPv4 header length from IHL (IP options)', () => {
    const frame = Buffer.concat([ethernet(0x0800), ipv4(6, 1), tcp(), Buffer.alloc(2 * 1000)]); // 14 + 24 + 20
    expect(run('egress', frame, 2, 1000)).toEqual({ packets: 2n, bytes: BigInt(2 * (58 + 1000)) });
  });

  it('handles UDP segmentation over IPv6', () => {
    const frame = Buffer.concat([ethernet(0x86dd), ipv6(17), udp(), Buffer.alloc(2 * 1200)]); // 14 + 40 + 8
    expect(run('egress', frame, 2, 1200)).toEqual({ packets: 2n, bytes: BigInt(2 * (62 + 1200)) });
  });

  it('skips one in-band VLAN tag', () => {
    const frame = Buffer.concat([ethernet(0x8100, { inner: 0x0800 }), ipv4(6), tcp(), Buffer.alloc(2 * 1000)]); // 18 + 20 + 20
    expect(run('ingress', frame, 2, 1000)).toEqual({ packets: 2n, bytes: BigInt(2 * (58 + 1000)) });
  });

  it('counts the buffer length of aggregated packets it cannot parse (here ICMP)', () => {
    const frame = Buffer.concat([ethernet(0x0800), ipv4(1), Buffer.alloc(1600)]);
    expect(run('ingress', frame, 2, 800)).toEqual({ packets: 2n, bytes: BigInt(frame.length) });
  });
});

describeKernel('packetforward plugin on a veth pair', () => {
  let link: SilentLink;
  let receiver: dgram.Socket;
  let received = 0;
  let sender: dgram.Socket;
  const harnesses: Harness[] = [];

  async function start(...args: Parameters<typeof startPlugin>): Promise<Harness> {
    const h = await startPlugin(...args);
    harnesses.push(h);
    return h;
  }

  beforeAll(async () => {
    link = createSilentLink();
    receiver = dgram.createSocket('udp4');
    receiver.on('message', () => received++);
    await new Promise<void>((resolve) => receiver.bind(PORT, link.hostIp, resolve));
    sender = dgram.createSocket('udp4');
  });

  afterEach(async () => {
    for (const h of harnesses.splice(0)) await h.stop();
  });

  afterAll(() => {
    receiver?.close();
    sender?.close();
    link?.destroy();
  });

  /** Sends `count` datagrams from this namespace to the sink address behind the veth (egress on hostIf). */
  async function sendOut(count: number, payload: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      await new Promise<void>((resolve, reject) =>
        sender.send(Buffer.alloc(payload, 0x61), PORT, link.sinkIp, (err) => (err ? reject(err) : resolve())),
      );
    }
  }

  /** Sends `count` datagrams from the test namespace to this one (ingress on hostIf) and waits for them. */
  async function sendIn(count: number, payload: number): Promise<void> {
    const target = received + count;
    sendUdp(link.ns, { address: link.hostIp, port: PORT, count, payload: 'b'.repeat(payload) });
    await waitFor(() => received >= target, { description: `${count} datagrams to arrive` });
  }

  it.each([
    ['auto', 'tcx'],
    ['off', 'clsact'],
  ] as const)('with enableTCX=%s (%s) counts exactly the packets and bytes of the interface counters', async (enableTCX, kind) => {
    const h = await start({ interfaces: [link.hostIf] }, { enableTCX });
    if (kind === 'tcx' && !probes.tcxSupported()) {
      expect(h.plugin.attachments.map((a) => a.kind)).toEqual(['clsact', 'clsact']);
      return;
    }
    expect(h.plugin.attachments).toEqual([
      { ifname: link.hostIf, direction: 'ingress', kind },
      { ifname: link.hostIf, direction: 'egress', kind },
    ]);
    const counters0 = interfaceCounters(link.hostIf);
    const totals0 = h.plugin.collect();

    const OUT = 37;
    const OUT_PAYLOAD = 300;
    const IN = 23;
    const IN_PAYLOAD = 512;
    await sendOut(OUT, OUT_PAYLOAD);
    await sendIn(IN, IN_PAYLOAD);

    const counters1 = interfaceCounters(link.hostIf);
    const totals1 = h.plugin.collect();
    const egress = { packets: totals1.egress.packets - totals0.egress.packets, bytes: totals1.egress.bytes - totals0.egress.bytes };
    const ingress = { packets: totals1.ingress.packets - totals0.ingress.packets, bytes: totals1.ingress.bytes - totals0.ingress.bytes };

    expect(egress).toEqual({ packets: BigInt(OUT), bytes: BigInt(OUT * (OUT_PAYLOAD + UDP_FRAME_OVERHEAD)) });
    expect(ingress).toEqual({ packets: BigInt(IN), bytes: BigInt(IN * (IN_PAYLOAD + UDP_FRAME_OVERHEAD)) });
    expect({
      txPackets: counters1.txPackets - counters0.txPackets,
      txBytes: counters1.txBytes - counters0.txBytes,
      rxPackets: counters1.rxPackets - counters0.rxPackets,
      rxBytes: counters1.rxBytes - counters0.rxBytes,
    }).toEqual({
      txPackets: Number(egress.packets),
      txBytes: Number(egress.bytes),
      rxPackets: Number(ingress.packets),
      rxBytes: Number(ingress.bytes),
    });

    // collect() published the same totals.
    const { forwardCount, forwardBytes } = h.metrics.basic;
    expect(await gaugeValue(forwardCount, 'egress')).toBe(Number(totals1.egress.packets));
    expect(await gaugeValue(forwardBytes, 'egress')).toBe(Number(totals1.egress.bytes));
    expect(await gaugeValue(forwardCount, 'ingress')).toBe(Number(totals1.ingress.packets));
    expect(await gaugeValue(forwardBytes, 'ingress')).toBe(Number(totals1.ingress.bytes));
  });

  it('publishes on its own every metricsIntervalDuration', async () => {
    const h = await start({ interfaces: [link.hostIf] }, { interval: '1s' });
    const base = h.plugin.collect().egress.packets;
    await sendOut(5, 64);
    const expected = Number(base) + 5;
    // Waits for the poll loop (not a timing assertion: the bound only stops a hung test).
    await waitFor(async () => (await gaugeValue(h.metrics.basic.forwardCount, 'egress')) === expected, {
      timeoutMs: 10_000,
      description: `forward_count{direction="egress"} to reach ${expected}`,
    }).catch(async (err: unknown) => {
      throw new Error(`${String(err)}; gauge is ${await gaugeValue(h.metrics.basic.forwardCount, 'egress')}`);
    });
  });

  it('continues from the published totals when a new instance starts with the same metrics', async () => {
    const first = await start({ interfaces: [link.hostIf] });
    await sendOut(4, 10);
    const t1 = first.plugin.collect();
    await first.stop();
    const published = await gaugeValue(first.metrics.basic.forwardCount, 'egress');
    expect(published).toBe(Number(t1.egress.packets));

    const second = await start({ interfaces: [link.hostIf] }, { metrics: first.metrics });
    await sendOut(3, 10);
    const t2 = second.plugin.collect();
    expect(t2.egress.packets).toBe(3n);
    expect(await gaugeValue(second.metrics.basic.forwardCount, 'egress')).toBe(Number(t1.egress.packets) + 3);
    expect(await gaugeValue(second.metrics.basic.forwardBytes, 'egress')).toBe(Number(t1.egress.bytes) + 3 * (10 + UDP_FRAME_OVERHEAD));
  });

  it('leaves nothing attached or loaded after stop', async () => {
    // Programs this process holds, not every rts_pf_ program: other processes on the machine may load their own.
    const before = new Set(programsHeldBy('rts_pf_').map((p) => p.id));
    for (const enableTCX of ['auto', 'off'] as const) {
      const h = await start({ interfaces: [link.hostIf] }, { enableTCX });
      const ours = programsHeldBy('rts_pf_').filter((p) => !before.has(p.id));
      expect(ours.map((p) => p.name).sort()).toEqual(['rts_pf_egress', 'rts_pf_ingress']);
      const ids = ours.map((p) => p.id);
      if (enableTCX === 'off') expect(tcFilters(link.hostIf).length).toBe(2);
      else expect(listBpfLinks().filter((l) => ids.includes(l.progId))).toHaveLength(2);

      await h.stop();
      await h.plugin.stop(); // idempotent
      expect(tcFilters(link.hostIf)).toEqual([]);
      expect(listBpfLinks().filter((l) => ids.includes(l.progId))).toEqual([]);
      await waitFor(() => programsStillLoaded(ids).length === 0, { description: 'the programs to be unloaded' });
    }
  });

  it('fails init with the reason when an interface does not exist, leaving nothing behind', async () => {
    const before = programsHeldBy('rts_pf_').length;
    await expect(startPlugin({ interfaces: [link.hostIf, 'rtsnosuchif0'] })).rejects.toThrow(
      /interface "rtsnosuchif0" does not exist in this network namespace/,
    );
    expect(programsHeldBy('rts_pf_').length).toBe(before);
    expect(tcFilters(link.hostIf)).toEqual([]);
  });
});
