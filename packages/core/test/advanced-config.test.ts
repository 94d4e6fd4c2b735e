import { describe, expect, it } from 'vitest';
import {
  AdvancedFlowMetrics,
  contextLabelNames,
  createMetricsModule,
  defaultAnnotationSpec,
  dnsReturnCode,
  Enricher,
  InMemoryIpCache,
  L7FlowType,
  normalizeContextOptions,
  resolveSpec,
  Verdict,
} from '../src/index.js';
import { flowBetween } from './helpers.js';

describe('advanced metrics configuration', () => {
  it('normalises context options case-insensitively into label order and drops unknown tokens', () => {
    expect(normalizeContextOptions(['Zone', 'pod', 'WORKLOAD', 'ip', 'port', 'service'])).toEqual([
      'ip',
      'workload',
      'service',
      'port',
      'zone',
    ]);
    expect(normalizeContextOptions(undefined)).toEqual([]);
  });

  it('expands workload into two labels and applies the prefix', () => {
    expect(contextLabelNames(['ip', 'namespace', 'podname', 'workload'], 'source_')).toEqual([
      'source_ip',
      'source_namespace',
      'source_podname',
      'source_workload_kind',
      'source_workload_name',
    ]);
    expect(contextLabelNames(['workload', 'zone'], '')).toEqual(['workload_kind', 'workload_name', 'zone']);
  });

  it('resolves TTLs, is_reply (forward metrics only) and the namespace lists', () => {
    const r = resolveSpec({
      contextOptions: [
        { metricName: 'forward_bytes', sourceLabels: ['ip'], additionalLabels: ['IS_REPLY'], ttl: '1m30s' },
        { metricName: 'drop_count', additionalLabels: ['is_reply'], ttl: '' },
        { metricName: 'tcp_state' },
      ],
      namespaces: { exclude: ['kube-system'], include: null },
    });
    expect(r.metrics).toEqual([
      { metricName: 'forward_bytes', source: ['ip'], destination: [], isReply: true, ttlMs: 90_000 },
      { metricName: 'drop_count', source: [], destination: [], isReply: false, ttlMs: 0 },
    ]);
    expect(r.ignored).toEqual(['tcp_state']);
    expect(r.include).toBeUndefined();
    expect([...(r.exclude ?? [])]).toEqual(['kube-system']);
  });

  it('rejects duplicates and a missing contextOptions list', () => {
    expect(() =>
      resolveSpec({ contextOptions: [{ metricName: 'drop_count' }, { metricName: 'drop_count' }] }),
    ).toThrow(/contextOptions\[1\]\.metricName: "drop_count" is configured twice/);
    expect(() => resolveSpec({} as never)).toThrow(/contextOptions: required/);
  });

  it('maps DNS rcodes to mnemonics, empty for others', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map(dnsReturnCode)).toEqual([
      'NOERROR',
      'FORMERR',
      'SERVFAIL',
      'NXDOMAIN',
      'NOTIMP',
      'REFUSED',
      '',
    ]);
  });

  it('builds the annotation spec with every flow metric and the default context', () => {
    const s = defaultAnnotationSpec(['web'], '5m');
    expect(s.namespaces).toEqual({ include: ['web'] });
    expect(s.contextOptions.map((o) => o.metricName)).toEqual([
      'forward_count',
      'forward_bytes',
      'drop_count',
      'drop_bytes',
      'tcp_flag_gauges',
      'tcp_retransmission_count',
      'dns_request_count',
      'dns_response_count',
    ]);
    expect(s.contextOptions[0]).toEqual({
      metricName: 'forward_count',
      sourceLabels: ['ip', 'namespace', 'podname', 'workload'],
      destinationLabels: ['ip', 'namespace', 'podname', 'workload'],
      ttl: '5m',
    });
  });

  it('carries counter increments made between scrapes', async () => {
    const metrics = createMetricsModule();
    const cache = new InMemoryIpCache();
    cache.upsertPod({ namespace: 'web', name: 'web-1', ips: ['10.0.0.1'] });
    const enricher = new Enricher(cache);
    const adv = new AdvancedFlowMetrics({ metrics, config: { remoteContext: false } });
    adv.update({
      contextOptions: [{ metricName: 'dns_request_count', sourceLabels: ['podname'] }],
      namespaces: { include: ['web'] },
    });
    const query = enricher.enrich(
      flowBetween('10.0.0.1', '10.0.9.9', {
        verdict: Verdict.DNS,
        l7: {
          type: L7FlowType.REQUEST,
          dns: { query: 'a.example.', ips: [], ttl: 0, rcode: 0, qtypes: ['A'], rrtypes: [] },
        },
      }),
    );
    const line = async () =>
      (await metrics.expose()).body
        .split('\n')
        .find((l) => l.startsWith('networkobservability_adv_dns_request_count{'));
    adv.process([query]);
    expect(await line()).toBe(
      'networkobservability_adv_dns_request_count{query_type="A",query="a.example.",podname="web-1"} 1',
    );
    adv.process([query, query]);
    expect(await line()).toBe(
      'networkobservability_adv_dns_request_count{query_type="A",query="a.example.",podname="web-1"} 3',
    );
    expect(await line()).toBe(
      'networkobservability_adv_dns_request_count{query_type="A",query="a.example.",podname="web-1"} 3',
    );
  });
});
