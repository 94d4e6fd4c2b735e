import { InMemoryIpCache, createMetricsModule } from '@retina-ts/core';
import { describe, expect, it } from 'vitest';
import type { EndpointSample } from '../src/collector.js';
import { HnsMetricsWriter, nodeSeries, podContext, podSeries } from '../src/metrics.js';
import { POD_FAMILIES, exposed, recordedPods, series, NODE_FAMILIES as NODE } from './context.js';

const web: EndpointSample = {
  id: 'w',
  ips: ['10.240.0.23'],
  hns: {
    PacketsReceived: 10,
    PacketsSent: 20,
    BytesReceived: 1000,
    BytesSent: 2000,
    DroppedPacketsIncoming: 1,
    DroppedPacketsOutgoing: 2,
  },
  vfp: {
    in: { synPackets: 5, synAckPackets: 6, droppedAclPackets: 7, tcpConnectionsReset: 8 },
    out: { synPackets: 9, finPackets: 3, droppedAclPackets: 4 },
  },
};
const bare: EndpointSample = { id: 'b', ips: ['10.240.0.99'], hns: { PacketsReceived: 1 } };

const flat = (s: { labels: Readonly<Record<string, string>>; value: number }[]) =>
  Object.fromEntries(s.map((x) => [Object.values(x.labels).join('/'), x.value]));

describe('nodeSeries', () => {
  it('sums counters over endpoints and maps them to Retina names', () => {
    const n = nodeSeries([web, bare]);
    expect(flat(n.forwardCount)).toEqual({ ingress: 11, egress: 20 });
    expect(flat(n.forwardBytes)).toEqual({ ingress: 1000, egress: 2000 });
    expect(flat(n.windowsHnsStats)).toEqual({ win_packets_recv_count: 11, win_packets_sent_count: 20 });
    expect(flat(n.dropCount)).toEqual({
      'endpoint/ingress': 1,
      'endpoint/egress': 2,
      'aclrule/ingress': 7,
      'aclrule/egress': 4,
    });
    expect(flat(n.tcpConnectionStats)).toEqual({ ResetCount: 8 });
    expect(flat(n.tcpFlagGauges)).toEqual({
      'ingress/SYN': 5,
      'ingress/SYNACK': 6,
      'egress/SYN': 9,
      'egress/FIN': 3,
    });
  });

  it('reports 0 for the HNS series of a node without endpoints, and no VFP series', () => {
    const n = nodeSeries([]);
    expect(flat(n.forwardCount)).toEqual({ ingress: 0, egress: 0 });
    expect(flat(n.dropCount)).toEqual({ 'endpoint/ingress': 0, 'endpoint/egress': 0 });
    expect(n.tcpConnectionStats).toEqual([]);
    expect(n.tcpFlagGauges).toEqual([]);
  });
});

describe('podContext', () => {
  it('labels an endpoint with the first of its IPs that belongs to a pod', () => {
    const cache = new InMemoryIpCache();
    cache.upsertPod({ namespace: 'shop', name: 'api-0', ips: ['fd00:10:240::29'] });
    cache.upsertService({ namespace: 'shop', name: 'api', ips: ['10.240.0.41'] });
    expect(podContext(['10.240.0.41', 'fd00:10:240::29'], (ip) => cache.lookup(ip))).toEqual({
      ip: 'fd00:10:240::29',
      namespace: 'shop',
      podname: 'api-0',
      workload_kind: 'unknown',
      workload_name: 'unknown',
    });
    expect(podContext(['10.9.9.9'], (ip) => cache.lookup(ip))).toEqual({
      ip: '10.9.9.9',
      namespace: 'unknown',
      podname: 'unknown',
      workload_kind: 'unknown',
      workload_name: 'unknown',
    });
  });
});

describe('podSeries', () => {
  it('adds context labels, sums TCP flags over both directions and adds up endpoints of one pod', () => {
    const cache = new InMemoryIpCache();
    cache.upsertPod({
      namespace: 'default',
      name: 'web-0',
      ips: ['10.240.0.23', '10.240.0.24'],
      workload: { kind: 'StatefulSet', name: 'web' },
    });
    const second: EndpointSample = { ...web, id: 'w2', ips: ['10.240.0.24'], vfp: undefined };
    const p = podSeries([web, second], (ip) => cache.lookup(ip));
    expect(p.advTcpFlags.map((s) => [s.labels.flag, s.labels.podname, s.value])).toEqual([
      ['SYN', 'web-0', 14],
      ['SYNACK', 'web-0', 6],
      ['FIN', 'web-0', 3],
    ]);
    // Two endpoints of one pod with different IPs stay apart by their ip label.
    expect(p.advForwardCount.map((s) => [s.labels.direction, s.labels.ip, s.value])).toEqual([
      ['ingress', '10.240.0.23', 10],
      ['egress', '10.240.0.23', 20],
      ['ingress', '10.240.0.24', 10],
      ['egress', '10.240.0.24', 20],
    ]);
    expect(Object.keys(p.advDropCount[0]!.labels)).toEqual([
      'reason',
      'direction',
      'ip',
      'namespace',
      'podname',
      'workload_kind',
      'workload_name',
    ]);
  });
});

describe('HnsMetricsWriter', () => {
  it('removes series of counters and pods no longer seen, and only its own', async () => {
    const metrics = createMetricsModule();
    const ipCache = new InMemoryIpCache();
    recordedPods(ipCache);
    // Another writer's series in a shared family must survive.
    metrics.basic.dropCount.set({ reason: 'IPTABLE_RULE_DROP', direction: 'ingress' }, 5);
    const writer = new HnsMetricsWriter({ metrics, podLevel: true, ipCache });
    writer.apply([web, bare]);
    expect((await series(metrics, 'networkobservability_tcp_flag_gauges')).size).toBe(4);
    // web: ingress and egress; bare: ingress only (HNS reported no PacketsSent for it).
    expect((await series(metrics, 'networkobservability_adv_forward_count')).size).toBe(3);

    writer.apply([bare]);
    expect(await series(metrics, 'networkobservability_tcp_flag_gauges')).toEqual(new Map());
    expect(await series(metrics, 'networkobservability_forward_count')).toEqual(
      new Map([
        ['direction=ingress', 1],
        ['direction=egress', 0],
      ]),
    );
    const adv = await series(metrics, 'networkobservability_adv_forward_count');
    expect([...adv.keys()]).toEqual([
      'direction=ingress,ip=10.240.0.99,namespace=unknown,podname=unknown,workload_kind=unknown,workload_name=unknown',
    ]);

    writer.close();
    expect(await exposed(metrics, [...NODE, ...POD_FAMILIES])).toBe(
      '# TYPE networkobservability_drop_count gauge\nnetworkobservability_drop_count{reason="IPTABLE_RULE_DROP",direction="ingress"} 5\n',
    );
    writer.apply([web]);
    expect((await series(metrics, 'networkobservability_forward_count')).size).toBe(0);
  });

  it('writes no pod-level series unless asked to', async () => {
    const metrics = createMetricsModule();
    new HnsMetricsWriter({ metrics, podLevel: false, ipCache: new InMemoryIpCache() }).apply([web]);
    expect(await exposed(metrics, POD_FAMILIES)).toBe('');
    expect(metrics.advanced.registry.getMetricsAsArray()).toEqual([]);
  });

  it('registers the pod-level families again after the advanced registry is reset', async () => {
    const metrics = createMetricsModule();
    const writer = new HnsMetricsWriter({ metrics, podLevel: true, ipCache: new InMemoryIpCache() });
    writer.apply([web]);
    metrics.advanced.reset();
    writer.apply([bare]);
    expect([...(await series(metrics, 'networkobservability_adv_forward_count')).values()]).toEqual([1]);
  });

  it('skips a pod-level family whose name another component registered with other labels, once', async () => {
    const metrics = createMetricsModule();
    metrics.advanced.gauge({
      name: 'adv_tcpflags_count',
      help: 'flow based',
      labelNames: ['flag', 'source_podname'],
    });
    const failures: string[] = [];
    const writer = new HnsMetricsWriter({
      metrics,
      podLevel: true,
      ipCache: new InMemoryIpCache(),
      onFamilyError: (family, err) => failures.push(`${family}: ${err.message}`),
    });
    writer.apply([web]);
    writer.apply([web]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatch(
      /^networkobservability_adv_tcpflags_count: metric networkobservability_adv_tcpflags_count is already registered/,
    );
    expect((await series(metrics, 'networkobservability_adv_forward_count')).size).toBe(2);
    expect((await series(metrics, 'networkobservability_adv_tcpflags_count')).size).toBe(0);
  });
});
