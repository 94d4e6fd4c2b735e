// TC (tcx and clsact), XDP and socket filters on a veth pair between two test namespaces, with real packets:
// ping (ICMP echo) and UDP from namespace B to namespace A, counted by the programs attached in A.
import {
  createNetnsPair,
  describeKernel,
  listBpfLinks,
  ping,
  run,
  sendUdp,
  tcFilters,
  tcQdiscs,
  xdpProgramId,
  type NetnsPair,
} from '@retina-ts/testkit';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';

import { decodeClsactHandle, runInNetns, tcxSupported, type BpfLink, type BpfObject } from '../src/index.js';
import { addonMissing, count, openFixture, Slot } from './helpers.js';

const ADDR_A = '10.231.7.1';
const ADDR_B = '10.231.7.2';
const UDP_PORT = 5353;

let pair: NetnsPair;
let obj: BpfObject | undefined;

function inA<T>(fn: () => T): T {
  return runInNetns(pair.ns.path, fn);
}

function traffic(): void {
  ping(pair.peerNs, ADDR_A, { count: 3 });
  sendUdp(pair.peerNs, { address: ADDR_A, port: UDP_PORT, count: 5 });
}

function counters(o: BpfObject): Record<string, bigint> {
  return {
    echo: count(o, Slot.tcIngressEcho),
    udp: count(o, Slot.tcIngressUdp),
    reply: count(o, Slot.tcEgressReply),
  };
}

describeKernel(
  'TC, XDP and socket filters on a veth pair',
  () => {
    beforeAll(() => {
      pair = createNetnsPair({
        prefix: 'rtA',
        peerPrefix: 'rtB',
        addresses: { local: `${ADDR_A}/24`, peer: `${ADDR_B}/24` },
      });
      // Warm up ARP so the counted traffic is only what each test sends.
      ping(pair.peerNs, ADDR_A, { count: 1 });
    });

    afterAll(() => {
      obj?.close();
      pair?.destroy();
    });

    beforeEach(() => {
      obj?.close();
      obj = openFixture().setConstant('udp_port', UDP_PORT).load();
    });

    it('tcx: counts ingress echo requests and UDP, egress replies; detach removes the links', () => {
      expect(tcxSupported()).toBe(true);
      const o = obj as BpfObject;
      const links = inA(() => [
        o.program('tc_ingress').attachTc({ ifname: pair.veth.name, direction: 'ingress', mode: 'tcx' }),
        o.program('tc_egress').attachTc({ ifname: pair.veth.name, direction: 'egress' }),
      ]);
      expect(links.map((l) => l.kind)).toEqual(['tcx', 'tcx']);
      const ids = links.map((l) => l.id);
      expect(listBpfLinks().filter((l) => ids.includes(l.id)).length).toBe(2);

      traffic();
      expect(counters(o)).toEqual({ echo: 3n, udp: 5n, reply: 3n });

      for (const l of links) l.detach();
      expect(listBpfLinks().filter((l) => ids.includes(l.id))).toEqual([]);
      traffic();
      expect(counters(o)).toEqual({ echo: 3n, udp: 5n, reply: 3n });
    });

    it('clsact: installs recognisable filters, counts, and removes filters and the qdisc it created', () => {
      const o = obj as BpfObject;
      expect(tcQdiscs(pair.veth.name, { netns: pair.ns }).map((q) => q.kind)).not.toContain('clsact');
      const links = inA(() => [
        o
          .program('tc_ingress')
          .attachTc({ ifindex: pair.veth.ifindex(), direction: 'ingress', mode: 'clsact' }),
        o
          .program('tc_egress')
          .attachTc({ ifname: pair.veth.name, direction: 'egress', mode: 'clsact', priority: 7 }),
      ]);
      expect(links.map((l) => l.kind)).toEqual(['clsact', 'clsact']);
      expect(links[1]?.tcPriority).toBe(7);
      const filters = tcFilters(pair.veth.name, { netns: pair.ns });
      expect(filters.map((f) => [f.direction, f.kind, f.progName])).toEqual([
        ['ingress', 'bpf', 'tc_ingress'],
        ['egress', 'bpf', 'tc_egress'],
      ]);
      for (const f of filters) expect(decodeClsactHandle(f.handle ?? 0)?.pid).toBe(process.pid);

      traffic();
      expect(counters(o)).toEqual({ echo: 3n, udp: 5n, reply: 3n });

      for (const l of links) l.detach();
      expect(tcFilters(pair.veth.name, { netns: pair.ns })).toEqual([]);
      expect(tcQdiscs(pair.veth.name, { netns: pair.ns }).map((q) => q.kind)).not.toContain('clsact');
    });

    it('clsact: detaching restores the interface, keeping the filters and qdisc that were there before', () => {
      pair.ns.exec('tc', ['qdisc', 'add', 'dev', pair.veth.name, 'clsact']);
      pair.ns.exec('tc', [
        'filter',
        'add',
        'dev',
        pair.veth.name,
        'ingress',
        'prio',
        '100',
        'protocol',
        'all',
        'u32',
        'match',
        'u32',
        '0',
        '0',
      ]);
      const before = tcFilters(pair.veth.name, { netns: pair.ns });
      expect(before.filter((f) => f.kind === 'u32').length).toBeGreaterThan(0);

      const o = obj as BpfObject;
      const link = inA(() =>
        o.program('tc_ingress').attachTc({ ifname: pair.veth.name, direction: 'ingress', mode: 'clsact' }),
      );
      expect(tcFilters(pair.veth.name, { netns: pair.ns }).filter((f) => f.kind === 'bpf').length).toBe(1);
      traffic();
      expect(counters(o).echo).toBe(3n);

      link.detach();
      expect(tcFilters(pair.veth.name, { netns: pair.ns })).toEqual(before);
      expect(tcQdiscs(pair.veth.name, { netns: pair.ns }).map((q) => q.kind)).toContain('clsact');
      pair.ns.exec('tc', ['qdisc', 'del', 'dev', pair.veth.name, 'clsact']);
    });

    it.each(['native', 'skb'] as const)(
      'xdp (%s mode): counts echo requests; detach leaves no program',
      (mode) => {
        const o = obj as BpfObject;
        const link = inA(() => o.program('xdp_count').attachXdp({ ifname: pair.veth.name, mode }));
        expect(link.kind).toBe('xdp');
        expect(xdpProgramId(pair.veth.name, { netns: pair.ns })).toBe(o.program('xdp_count').id);
        ping(pair.peerNs, ADDR_A, { count: 3 });
        expect(count(o, Slot.xdpEcho)).toBe(3n);
        link.detach();
        expect(xdpProgramId(pair.veth.name, { netns: pair.ns })).toBeUndefined();
      },
    );

    it('socket filter: counts and keeps echo requests on a raw socket bound to the interface', () => {
      const o = obj as BpfObject;
      const sock = inA(() => o.program('sock_count').openRawSocket({ ifname: pair.veth.name }));
      expect(sock.fd).toBeGreaterThanOrEqual(0);
      ping(pair.peerNs, ADDR_A, { count: 3 });
      expect(count(o, Slot.socketEcho)).toBe(3n);
      const frames: Buffer[] = [];
      for (let f = sock.receive(); f !== undefined; f = sock.receive()) frames.push(f);
      // Only echo requests pass the filter: ICMP type 8 after a 20-byte IPv4 header.
      expect(frames.length).toBe(3);
      expect(frames.every((f) => f.readUInt16BE(12) === 0x0800 && f[23] === 1 && f[34] === 8)).toBe(true);

      // attachSocketFilter on an existing socket replaces the filter; detaching it leaves the socket unfiltered.
      const link: BpfLink = o.program('sock_count').attachSocketFilter(sock.fd);
      expect(link.kind).toBe('socket_filter');
      link.detach();
      ping(pair.peerNs, ADDR_A, { count: 2 });
      expect(count(o, Slot.socketEcho)).toBe(3n);
      expect(sock.receive()).toBeDefined();

      sock.close();
      sock.close();
      expect(sock.fd).toBe(-1);
    });

    it('tp_btf with CO-RE kernel structs: reads sk_buff and net_device fields of received packets', () => {
      const ifname = Buffer.alloc(16);
      ifname.write(pair.veth.name);
      const rx = openFixture()
        .setConstant('rx_ifindex', pair.veth.ifindex())
        .setConstant('rx_ifname', ifname)
        .setConstant('rx_len', 20 + 8 + 1234)
        .load();
      try {
        const link = rx.program('btf_rx_skb').attachBtfTracepoint();
        ping(pair.peerNs, ADDR_A, { count: 4, size: 1234 });
        ping(pair.peerNs, ADDR_A, { count: 2, size: 100 });
        link.detach();
        expect(count(rx, Slot.rxSkb)).toBe(4n);
      } finally {
        rx.close();
      }
    });

    it('refuses TC attachment of a non-sched_cls program and a missing interface', () => {
      const o = obj as BpfObject;
      expect(() => o.program('xdp_count').attachTc({ ifname: pair.veth.name, direction: 'ingress' })).toThrow(
        /TC needs a sched_cls program/,
      );
      expect(() => o.program('tc_ingress').attachTc({ ifname: 'no-such-if0', direction: 'ingress' })).toThrow(
        /resolve interface no-such-if0 failed: ENODEV/,
      );
      expect(() =>
        o.program('tc_ingress').attachTc({ ifname: pair.veth.name, direction: 'sideways' as never }),
      ).toThrow(/direction must be 'ingress' or 'egress'/);
    });

    it('closing the object removes its clsact filters and tcx links', () => {
      const o = obj as BpfObject;
      inA(() => {
        o.program('tc_ingress').attachTc({ ifname: pair.veth.name, direction: 'ingress', mode: 'clsact' });
        o.program('tc_egress').attachTc({ ifname: pair.veth.name, direction: 'egress', mode: 'tcx' });
      });
      expect(tcFilters(pair.veth.name, { netns: pair.ns }).length).toBe(1);
      o.close();
      expect(tcFilters(pair.veth.name, { netns: pair.ns })).toEqual([]);
      expect(run('ip', ['-n', pair.ns.name, 'link', 'show', pair.veth.name]).status).toBe(0);
    });
  },
  { requires: addonMissing },
);
