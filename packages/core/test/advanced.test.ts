import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AdvancedFlowMetrics,
  AdvancedMetricsConfigError,
  createMetricsModule,
  Enricher,
  FlowBus,
  InMemoryIpCache,
  L7FlowType,
  TrafficDirection,
  Verdict,
  type AdvancedFlowMetricsOptions,
  type Flow,
  type MetricsConfigurationSpec,
  type MetricsModule,
  type TcpFlags,
} from '../src/index.js';
import { flowBetween } from './helpers.js';

const ALL = ['ip', 'namespace', 'podname', 'workload'];

/** A cache with two pods in `web`, one in `db`, one in `kube-system`, and a service. */
function cluster(): { cache: InMemoryIpCache; enricher: Enricher } {
  const cache = new InMemoryIpCache();
  cache.upsertPod({
    namespace: 'web',
    name: 'web-1',
    ips: ['10.0.0.1'],
    workload: { kind: 'ReplicaSet', name: 'web-7d9f' },
  });
  cache.upsertPod({
    namespace: 'web',
    name: 'web-2',
    ips: ['10.0.0.2'],
    workload: { kind: 'ReplicaSet', name: 'web-7d9f' },
  });
  cache.upsertPod({
    namespace: 'db',
    name: 'db-0',
    ips: ['10.0.1.1'],
    workload: { kind: 'StatefulSet', name: 'db' },
  });
  cache.upsertPod({ namespace: 'kube-system', name: 'coredns-1', ips: ['10.0.9.9'] });
  cache.upsertService({ namespace: 'db', name: 'db-svc', ips: ['10.96.0.10'] });
  return { cache, enricher: new Enricher(cache) };
}

/** A new metrics module, an enricher over `cluster()`, and advanced metrics (local context unless `options` say). */
function setup(options: Partial<AdvancedFlowMetricsOptions> = {}) {
  const metrics = createMetricsModule();
  const { enricher } = cluster();
  const adv = new AdvancedFlowMetrics({ metrics, config: { remoteContext: false }, ...options });
  return { metrics, enricher, adv };
}

/** The exposition lines of the advanced families and the self-metrics these tests look at. */
async function advLines(metrics: MetricsModule): Promise<string[]> {
  const { body } = await metrics.expose();
  return body
    .split('\n')
    .filter((l) =>
      /^(networkobservability_adv_|controlplane_networkobservability_expired_metrics_counter\{|controlplane_networkobservability_advanced_metrics_cardinality_refused_total\{)/.test(
        l,
      ),
    );
}

function spec(
  metricNames: string[],
  extra: Partial<MetricsConfigurationSpec> = {},
  ttl?: string,
): MetricsConfigurationSpec {
  return {
    contextOptions: metricNames.map((metricName) => ({
      metricName,
      sourceLabels: ALL,
      destinationLabels: ALL,
      ...(ttl ? { ttl } : {}),
    })),
    namespaces: { include: ['web', 'db'] },
    ...extra,
  };
}

function tcp(src: string, dst: string, flags: TcpFlags | undefined, extra: Partial<Flow> = {}): Flow {
  return flowBetween(src, dst, {
    l4: { tcp: { sourcePort: 40000, destinationPort: 5432, ...(flags ? { flags } : {}) } },
    ...extra,
  });
}

describe('AdvancedFlowMetrics, local context', () => {
  it('counts forwarded packets and bytes per local pod, egress for the source and ingress for the destination', async () => {
    const { metrics, enricher, adv } = setup();
    adv.update(spec(['forward_count', 'forward_bytes']));
    const f = enricher.enrich(
      tcp(
        '10.0.0.1',
        '10.0.1.1',
        { SYN: true },
        { extensions: { bytes: 60, previouslyObservedPackets: 2, previouslyObservedBytes: 120 } },
      ),
    );
    adv.process([f, enricher.enrich(tcp('10.0.0.1', '10.0.9.9', undefined, { extensions: { bytes: 100 } }))]);
    expect(await advLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="egress",ip="10.0.0.1",namespace="web",podname="web-1",workload_kind="ReplicaSet",workload_name="web-7d9f"} 4',
      'networkobservability_adv_forward_count{direction="ingress",ip="10.0.1.1",namespace="db",podname="db-0",workload_kind="StatefulSet",workload_name="db"} 3',
      'networkobservability_adv_forward_bytes{direction="egress",ip="10.0.0.1",namespace="web",podname="web-1",workload_kind="ReplicaSet",workload_name="web-7d9f"} 280',
      'networkobservability_adv_forward_bytes{direction="ingress",ip="10.0.1.1",namespace="db",podname="db-0",workload_kind="StatefulSet",workload_name="db"} 180',
    ]);
  });

  it('labels drops with reason and direction, and counts dropped bytes', async () => {
    const { metrics, enricher, adv } = setup();
    adv.update({
      contextOptions: [
        { metricName: 'drop_count', sourceLabels: ['podname'] },
        { metricName: 'drop_bytes', sourceLabels: ['podname'] },
      ],
      namespaces: { include: ['web'] },
    });
    const drop = (reason: string | undefined, bytes: number) =>
      enricher.enrich(
        flowBetween('10.0.1.1', '10.0.0.2', {
          verdict: Verdict.DROPPED,
          extensions: { bytes, ...(reason ? { dropReason: reason } : {}) },
        }),
      );
    adv.process([drop('IPTABLE_RULE_DROP', 40), drop('IPTABLE_RULE_DROP', 60), drop(undefined, 10)]);
    expect(await advLines(metrics)).toEqual([
      'networkobservability_adv_drop_count{reason="IPTABLE_RULE_DROP",direction="ingress",podname="web-2"} 2',
      'networkobservability_adv_drop_count{reason="unknown",direction="ingress",podname="web-2"} 1',
      'networkobservability_adv_drop_bytes{reason="IPTABLE_RULE_DROP",direction="ingress",podname="web-2"} 100',
      'networkobservability_adv_drop_bytes{reason="unknown",direction="ingress",podname="web-2"} 10',
    ]);
  });

  it('counts TCP flags as SYNACK when SYN and ACK are set together, and merges previously observed flags', async () => {
    const { metrics, enricher, adv } = setup();
    adv.update({
      contextOptions: [{ metricName: 'tcp_flag_gauges', sourceLabels: ['podname'] }],
      namespaces: { include: ['web'] },
    });
    adv.process([
      enricher.enrich(tcp('10.0.0.1', '10.0.1.1', { SYN: true })),
      enricher.enrich(tcp('10.0.0.1', '10.0.1.1', { SYN: true, ACK: true })),
      enricher.enrich(
        tcp(
          '10.0.0.1',
          '10.0.1.1',
          { PSH: true, ACK: true },
          { extensions: { previouslyObservedTcpFlags: { SYN: 2, ACK: 5 } } },
        ),
      ),
      // Not FORWARDED: ignored by the flag family.
      enricher.enrich(tcp('10.0.0.1', '10.0.1.1', { RST: true }, { verdict: Verdict.DROPPED })),
    ]);
    expect(await advLines(metrics)).toEqual([
      'networkobservability_adv_tcpflags_count{flag="SYN",podname="web-1"} 3',
      'networkobservability_adv_tcpflags_count{flag="SYNACK",podname="web-1"} 1',
      'networkobservability_adv_tcpflags_count{flag="PSH",podname="web-1"} 1',
      'networkobservability_adv_tcpflags_count{flag="ACK",podname="web-1"} 6',
    ]);
  });

  it('counts retransmissions (verdict 15) and DNS requests and responses (verdict 16) from their flows', async () => {
    const { metrics, enricher, adv } = setup();
    adv.update({
      contextOptions: ['tcp_retransmission_count', 'dns_request_count', 'dns_response_count'].map(
        (metricName) => ({
          metricName,
          sourceLabels: ['namespace', 'podname'],
        }),
      ),
      namespaces: { include: ['web', 'kube-system'] },
    });
    const dns = {
      query: 'bing.com.',
      ips: [] as string[],
      ttl: 0,
      rcode: 0,
      qtypes: ['A', 'AAAA'],
      rrtypes: [],
    };
    adv.process([
      enricher.enrich(tcp('10.0.0.1', '10.0.1.1', { ACK: true }, { verdict: Verdict.RETRANSMISSION })),
      enricher.enrich(
        flowBetween('10.0.0.2', '10.0.9.9', {
          verdict: Verdict.DNS,
          l7: { type: L7FlowType.REQUEST, dns },
          extensions: { dnsType: 'QUERY' },
        }),
      ),
      enricher.enrich(
        flowBetween('10.0.9.9', '10.0.0.2', {
          verdict: Verdict.DNS,
          trafficDirection: TrafficDirection.INGRESS,
          isReply: true,
          l7: { type: L7FlowType.RESPONSE, dns: { ...dns, ips: ['1.2.3.4', '5.6.7.8'], rcode: 3 } },
          extensions: { dnsType: 'RESPONSE', numResponses: 2 },
        }),
      ),
    ]);
    expect(await advLines(metrics)).toEqual([
      'networkobservability_adv_tcpretrans_count{direction="egress",namespace="web",podname="web-1"} 1',
      // Both ends observed: an egress query counts for its source pod only.
      'networkobservability_adv_dns_request_count{query_type="A,AAAA",query="bing.com.",namespace="web",podname="web-2"} 1',
      // An ingress response counts for the destination pod.
      'networkobservability_adv_dns_response_count{query_type="A,AAAA",query="bing.com.",return_code="NXDOMAIN",response="1.2.3.4,5.6.7.8",num_response="2",namespace="web",podname="web-2"} 1',
    ]);
  });

  it('counts every segment a folded retransmission flow stands for, in remote and local context', async () => {
    const { enricher } = cluster();
    const retrans = { verdict: Verdict.RETRANSMISSION };
    const flows = [
      // One connection's retransmissions folded into one flow (extensions.packets = segments), then a single one.
      enricher.enrich(tcp('10.0.0.1', '10.0.1.1', { ACK: true }, { ...retrans, extensions: { packets: 5 } })),
      enricher.enrich(tcp('10.0.0.1', '10.0.1.1', { ACK: true, PSH: true }, retrans)),
    ];
    const remote = createMetricsModule();
    const r = new AdvancedFlowMetrics({ metrics: remote, config: { remoteContext: true } });
    r.update({
      contextOptions: [
        { metricName: 'tcp_retransmission_count', sourceLabels: ['podname'], destinationLabels: ['podname'] },
      ],
      namespaces: { include: ['web'] },
    });
    r.process(flows);
    expect(await advLines(remote)).toEqual([
      'networkobservability_adv_tcpretrans_count{direction="EGRESS",source_podname="web-1",destination_podname="db-0"} 6',
    ]);
    const local = createMetricsModule();
    const l = new AdvancedFlowMetrics({ metrics: local, config: { remoteContext: false } });
    l.update({
      contextOptions: [{ metricName: 'tcp_retransmission_count', sourceLabels: ['podname'] }],
      namespaces: { include: ['web', 'db'] },
    });
    l.process(flows);
    expect(await advLines(local)).toEqual([
      // Each observed end counts with its own direction: the source's egress, the destination's ingress.
      'networkobservability_adv_tcpretrans_count{direction="egress",podname="web-1"} 6',
      'networkobservability_adv_tcpretrans_count{direction="ingress",podname="db-0"} 6',
    ]);
  });

  it('writes unknown for missing context values', async () => {
    const metrics = createMetricsModule();
    const cache = new InMemoryIpCache();
    cache.upsertPod({ namespace: 'web', name: 'bare', ips: ['10.0.0.7'] });
    const adv = new AdvancedFlowMetrics({ metrics, config: { remoteContext: false } });
    adv.update({
      contextOptions: [{ metricName: 'forward_count', sourceLabels: ['workload', 'port', 'zone'] }],
      namespaces: { include: ['web'] },
    });
    adv.process([new Enricher(cache).enrich(flowBetween('10.0.0.7', '192.0.2.1'))]);
    expect(await advLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="egress",workload_kind="unknown",workload_name="unknown",port="unknown",zone="unknown"} 1',
    ]);
  });

  it('keeps one series when a pod record is replaced with the same context values, and starts another when they change', async () => {
    const metrics = createMetricsModule();
    const { cache, enricher } = cluster();
    const adv = new AdvancedFlowMetrics({ metrics, config: { remoteContext: false } });
    adv.update({
      contextOptions: [{ metricName: 'forward_count', sourceLabels: ['podname', 'workload'] }],
      namespaces: { include: ['web'] },
    });
    const send = () => adv.process([enricher.enrich(flowBetween('10.0.0.1', '192.0.2.1'))]);
    send();
    // A label change gives a new cache record (and endpoint object) with the same context values.
    cache.upsertPod({
      namespace: 'web',
      name: 'web-1',
      ips: ['10.0.0.1'],
      labels: { v: '2' },
      workload: { kind: 'ReplicaSet', name: 'web-7d9f' },
    });
    send();
    cache.upsertPod({
      namespace: 'web',
      name: 'web-1',
      ips: ['10.0.0.1'],
      workload: { kind: 'ReplicaSet', name: 'web-8a1b' },
    });
    send();
    expect(await advLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="egress",podname="web-1",workload_kind="ReplicaSet",workload_name="web-7d9f"} 2',
      'networkobservability_adv_forward_count{direction="egress",podname="web-1",workload_kind="ReplicaSet",workload_name="web-8a1b"} 1',
    ]);
  });
});

describe('AdvancedFlowMetrics, remote context', () => {
  it('labels both ends with source_ and destination_ prefixes and the direction enum name', async () => {
    const { metrics, enricher, adv } = setup({ config: { remoteContext: true } });
    adv.update({
      contextOptions: [
        {
          metricName: 'forward_count',
          sourceLabels: ALL,
          destinationLabels: ['ip', 'namespace', 'podname', 'service'],
          additionalLabels: ['is_reply'],
        },
      ],
      namespaces: { include: ['web'] },
    });
    adv.process([
      enricher.enrich(tcp('10.0.0.1', '10.0.1.1', { SYN: true }, { isReply: false })),
      enricher.enrich(
        tcp(
          '10.0.1.1',
          '10.0.0.1',
          { SYN: true, ACK: true },
          { isReply: true, trafficDirection: TrafficDirection.INGRESS },
        ),
      ),
      enricher.enrich(tcp('10.0.0.2', '10.96.0.10', { SYN: true })),
      // Neither end observed (db and kube-system are not included): not counted.
      enricher.enrich(tcp('10.0.1.1', '10.0.9.9', { SYN: true })),
    ]);
    expect(await advLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="EGRESS",is_reply="false",source_ip="10.0.0.1",source_namespace="web",source_podname="web-1",source_workload_kind="ReplicaSet",source_workload_name="web-7d9f",destination_ip="10.0.1.1",destination_namespace="db",destination_podname="db-0",destination_service="unknown"} 1',
      'networkobservability_adv_forward_count{direction="INGRESS",is_reply="true",source_ip="10.0.1.1",source_namespace="db",source_podname="db-0",source_workload_kind="StatefulSet",source_workload_name="db",destination_ip="10.0.0.1",destination_namespace="web",destination_podname="web-1",destination_service="unknown"} 1',
      'networkobservability_adv_forward_count{direction="EGRESS",is_reply="false",source_ip="10.0.0.2",source_namespace="web",source_podname="web-2",source_workload_kind="ReplicaSet",source_workload_name="web-7d9f",destination_ip="10.96.0.10",destination_namespace="unknown",destination_podname="unknown",destination_service="db-svc"} 1',
    ]);
  });

  it('orders context labels ip, namespace, podname, workload, service, port, zone whatever the spec order', async () => {
    const metrics = createMetricsModule();
    const cache = new InMemoryIpCache();
    cache.upsertNode({ name: 'node-a', ips: ['192.0.2.10'], zone: 'zone-1' });
    cache.upsertPod({ namespace: 'web', name: 'web-1', ips: ['10.0.0.1'], nodeName: 'node-a' });
    const adv = new AdvancedFlowMetrics({ metrics, config: { remoteContext: true } });
    adv.update({
      contextOptions: [
        {
          metricName: 'forward_count',
          sourceLabels: ['ZONE', 'port', 'pod', 'Namespace'],
          destinationLabels: ['port', 'ip'],
        },
      ],
      namespaces: { exclude: ['kube-system'] },
    });
    adv.process([new Enricher(cache).enrich(tcp('10.0.0.1', '198.51.100.1', { SYN: true }))]);
    expect(await advLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="EGRESS",source_namespace="web",source_port="40000",source_zone="zone-1",destination_ip="198.51.100.1",destination_port="5432"} 1',
    ]);
  });
});

describe('AdvancedFlowMetrics, observed pods', () => {
  const flows = () => {
    const { enricher } = cluster();
    return [
      enricher.enrich(flowBetween('10.0.0.1', '192.0.2.1')),
      enricher.enrich(flowBetween('10.0.1.1', '192.0.2.1')),
      enricher.enrich(flowBetween('10.0.9.9', '192.0.2.1')),
    ];
  };
  const podsCounted = async (
    namespaces: MetricsConfigurationSpec['namespaces'],
    isObserved?: (ip: string) => boolean,
  ) => {
    const metrics = createMetricsModule();
    const adv = new AdvancedFlowMetrics({
      metrics,
      config: { remoteContext: false },
      ...(isObserved ? { isObserved } : {}),
    });
    adv.update({
      contextOptions: [{ metricName: 'forward_count', sourceLabels: ['podname'] }],
      ...(namespaces ? { namespaces } : {}),
    });
    adv.process(flows());
    return (await advLines(metrics)).map((l) => /podname="([^"]+)"/.exec(l)?.[1]);
  };

  it('takes the pods of included namespaces', async () => {
    expect(await podsCounted({ include: ['db', 'kube-system'] })).toEqual(['db-0', 'coredns-1']);
  });

  it('takes the pods of every namespace not excluded', async () => {
    expect(await podsCounted({ exclude: ['kube-system'] })).toEqual(['web-1', 'db-0']);
  });

  it('takes no pod when neither list is given, unless the annotation predicate observes it', async () => {
    expect(await podsCounted({})).toEqual([]);
    expect(await podsCounted({ include: [] }, (ip) => ip === '10.0.9.9')).toEqual(['coredns-1']);
  });

  it('re-evaluates namespaces on update without losing existing series', async () => {
    const metrics = createMetricsModule();
    const adv = new AdvancedFlowMetrics({ metrics, config: { remoteContext: false } });
    const base = { contextOptions: [{ metricName: 'forward_count', sourceLabels: ['podname'] }] };
    adv.update({ ...base, namespaces: { include: ['web'] } });
    adv.process(flows());
    adv.update({ ...base, namespaces: { include: ['web', 'db'] } });
    adv.process(flows());
    expect(await advLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="egress",podname="web-1"} 2',
      'networkobservability_adv_forward_count{direction="egress",podname="db-0"} 1',
    ]);
  });
});

describe('AdvancedFlowMetrics, TTL', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('removes series idle for the TTL and counts them in expired_metrics_counter', async () => {
    const { metrics, enricher, adv } = setup();
    adv.update(spec(['forward_count'], {}, '30s'));
    const fromWeb1 = enricher.enrich(flowBetween('10.0.0.1', '192.0.2.1'));
    const fromDb = enricher.enrich(flowBetween('10.0.1.1', '192.0.2.1'));
    adv.process([fromWeb1, fromDb]);
    expect((await advLines(metrics)).length).toBe(2);

    vi.advanceTimersByTime(20_000);
    adv.process([fromWeb1]); // web-1 stays active
    vi.advanceTimersByTime(10_000); // first sweep at 30 s: db-0 idle for 30 s
    expect(await advLines(metrics)).toEqual([
      'controlplane_networkobservability_expired_metrics_counter{metric="forward_count"} 1',
      'networkobservability_adv_forward_count{direction="egress",ip="10.0.0.1",namespace="web",podname="web-1",workload_kind="ReplicaSet",workload_name="web-7d9f"} 2',
    ]);
    expect(adv.seriesCount('forward_count')).toBe(1);

    vi.advanceTimersByTime(30_000); // web-1 idle since 20 s: gone at the 60 s sweep
    expect(await advLines(metrics)).toEqual([
      'controlplane_networkobservability_expired_metrics_counter{metric="forward_count"} 2',
    ]);

    // A series that comes back starts again from zero.
    adv.process([fromDb]);
    expect((await advLines(metrics))[1]).toBe(
      'networkobservability_adv_forward_count{direction="egress",ip="10.0.1.1",namespace="db",podname="db-0",workload_kind="StatefulSet",workload_name="db"} 1',
    );
    adv.close();
  });

  it('keeps series forever without a TTL', async () => {
    const { metrics, enricher, adv } = setup();
    adv.update(spec(['forward_count']));
    adv.process([enricher.enrich(flowBetween('10.0.0.1', '192.0.2.1'))]);
    vi.advanceTimersByTime(24 * 3600_000);
    expect((await advLines(metrics)).length).toBe(1);
  });
});

describe('AdvancedFlowMetrics, cardinality guard', () => {
  it('refuses series beyond the cap, counts the refusals and keeps updating existing series', async () => {
    const { metrics, enricher, adv } = setup({ maxSeriesPerMetric: 2 });
    adv.update(spec(['forward_count'], { namespaces: { exclude: [] } }));
    const from = (ip: string) => enricher.enrich(flowBetween(ip, '192.0.2.1'));
    adv.process([from('10.0.0.1'), from('10.0.0.2'), from('10.0.1.1'), from('10.0.9.9'), from('10.0.0.1')]);
    expect(adv.seriesCount('forward_count')).toBe(2);
    const lines = await advLines(metrics);
    expect(
      lines
        .filter((l) => l.startsWith('networkobservability_adv_'))
        .map((l) => /podname="([^"]+)".*\} (\d+)$/.exec(l)?.slice(1)),
    ).toEqual([
      ['web-1', '2'],
      ['web-2', '1'],
    ]);
    expect(lines).toContain(
      'controlplane_networkobservability_advanced_metrics_cardinality_refused_total{metric="forward_count"} 2',
    );
  });
});

describe('AdvancedFlowMetrics, configuration', () => {
  it('rejects an invalid spec with the field and value, and keeps the previous configuration', async () => {
    const { metrics, enricher, adv } = setup();
    adv.update(spec(['forward_count']));
    expect(() => adv.update(spec(['forward_cnt']))).toThrow(AdvancedMetricsConfigError);
    expect(() => adv.update(spec(['forward_cnt']))).toThrow(
      /contextOptions\[0\]\.metricName: "forward_cnt" is not a known metric/,
    );
    expect(() => adv.update(spec(['drop_count'], {}, 'soon'))).toThrow(
      /contextOptions\[0\]\.ttl: "soon" is not a non-negative duration/,
    );
    expect(() =>
      adv.update(spec(['drop_count'], { namespaces: { include: ['a'], exclude: ['b'] } })),
    ).toThrow(/namespaces: set either include or exclude, not both/);
    adv.process([enricher.enrich(flowBetween('10.0.0.1', '192.0.2.1'))]);
    expect(adv.configured).toEqual(['forward_count']);
    expect((await advLines(metrics)).length).toBe(1);
  });

  it('rebuilds the families empty when the context options change, and ignores API-server metric names', async () => {
    const { metrics, enricher, adv } = setup();
    adv.update(spec(['forward_count']));
    adv.process([enricher.enrich(flowBetween('10.0.0.1', '192.0.2.1'))]);
    adv.update(spec(['forward_count'])); // unchanged: series stay
    expect((await advLines(metrics)).length).toBe(1);
    adv.update({
      contextOptions: [
        { metricName: 'forward_count', sourceLabels: ['podname'] },
        { metricName: 'node_apiserver_latency', sourceLabels: ['ip'] },
      ],
      namespaces: { include: ['web'] },
    });
    expect(adv.configured).toEqual(['forward_count']);
    expect(await advLines(metrics)).toEqual([]);
    adv.process([enricher.enrich(flowBetween('10.0.0.1', '192.0.2.1'))]);
    expect(await advLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="egress",podname="web-1"} 1',
    ]);
  });
});

describe('AdvancedFlowMetrics on the FlowBus', () => {
  it('enriches and counts flows published on the bus', async () => {
    const metrics = createMetricsModule();
    const { enricher } = cluster();
    const bus = new FlowBus({ metrics });
    const adv = new AdvancedFlowMetrics({ metrics, config: { remoteContext: false } });
    adv.update({
      contextOptions: [{ metricName: 'forward_count', sourceLabels: ['podname'] }],
      namespaces: { include: ['web'] },
    });
    const unsubscribe = adv.subscribe(bus, enricher);
    bus.publish(flowBetween('10.0.0.1', '192.0.2.1'));
    bus.publish(flowBetween('10.0.0.1', '192.0.2.1'));
    await new Promise((r) => setImmediate(r));
    unsubscribe();
    bus.publish(flowBetween('10.0.0.1', '192.0.2.1'));
    await new Promise((r) => setImmediate(r));
    expect(await advLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="egress",podname="web-1"} 2',
    ]);
  });
});
