import { describe, expect, it } from 'vitest';
import { Gauge } from 'prom-client';
import { createMetricsModule, MetricRegistrationError, negotiateFormat } from '../src/index.js';

// Copied by hand from the reference (README metrics table and retina-dataplane-facts 0.1 / 0.2): name, type, labels
// in registration order. The module must expose exactly these families, no more and no fewer.
const EXPECTED: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ['networkobservability_drop_count', 'gauge', ['reason', 'direction']],
  ['networkobservability_drop_bytes', 'gauge', ['reason', 'direction']],
  ['networkobservability_forward_count', 'gauge', ['direction']],
  ['networkobservability_forward_bytes', 'gauge', ['direction']],
  ['networkobservability_windows_hns_stats', 'gauge', ['direction']],
  ['networkobservability_tcp_state', 'gauge', ['state']],
  ['networkobservability_tcp_connection_remote', 'gauge', ['address']],
  ['networkobservability_tcp_connection_stats', 'gauge', ['statistic_name']],
  ['networkobservability_tcp_flag_gauges', 'gauge', ['direction', 'flag']],
  ['networkobservability_ip_connection_stats', 'gauge', ['statistic_name']],
  ['networkobservability_udp_connection_stats', 'gauge', ['statistic_name']],
  ['networkobservability_interface_stats', 'gauge', ['interface_name', 'statistic_name']],
  ['networkobservability_dns_request_count', 'counter', ['query_type', 'query']],
  ['networkobservability_dns_response_count', 'counter', ['query_type', 'query', 'return_code', 'response', 'num_response']],
  ['networkobservability_tcp_retransmission_count', 'counter', []],
  ['networkobservability_infiniband_counter_stats', 'gauge', ['statistic_name', 'device', 'port']],
  ['networkobservability_infiniband_status_params', 'gauge', ['statistic_name', 'interface_name']],
  ['networkobservability_conntrack_packets_tx', 'gauge', []],
  ['networkobservability_conntrack_packets_rx', 'gauge', []],
  ['networkobservability_conntrack_bytes_tx', 'gauge', []],
  ['networkobservability_conntrack_bytes_rx', 'gauge', []],
  ['networkobservability_conntrack_total_connections', 'gauge', []],
  ['networkobservability_node_connectivity_status', 'gauge', ['source_node_name', 'target_node_name']],
  ['networkobservability_node_connectivity_latency_seconds', 'gauge', ['source_node_name', 'target_node_name']],
  ['networkobservability_node_apiserver_handshake_latency_ms', 'histogram', []],
  ['controlplane_networkobservability_plugin_manager_failed_to_reconcile', 'counter', ['reason']],
  ['controlplane_networkobservability_lost_events_counter', 'counter', ['type', 'reason']],
  ['controlplane_networkobservability_parsed_packets_counter', 'counter', []],
  ['controlplane_networkobservability_expired_metrics_counter', 'counter', ['metric']],
  ['controlplane_networkobservability_plugin_status', 'gauge', ['plugin', 'state']],
  ['controlplane_networkobservability_plugin_restarts_total', 'counter', ['plugin']],
  ['controlplane_networkobservability_plugin_errors_total', 'counter', ['plugin']],
  ['controlplane_networkobservability_build_info', 'gauge', ['version', 'nodejs_version']],
  ['controlplane_networkobservability_cpu_budget_cores', 'gauge', []],
  ['controlplane_networkobservability_cpu_usage_cores', 'gauge', []],
  ['controlplane_networkobservability_sampling_rate', 'gauge', ['plugin']],
  ['controlplane_networkobservability_sampled_away_events_total', 'counter', ['plugin']],
];

type AnyHandle = {
  set?: (labels: Record<string, string>, v: number) => void;
  inc?: (labels: Record<string, string>, v?: number) => void;
  observe?: (labels: Record<string, string>, v: number) => void;
};

function typeLines(body: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of body.split('\n')) {
    const m = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (m) out.set(m[1] as string, m[2] as string);
  }
  return out;
}

describe('MetricsModule catalog', () => {
  it('registers exactly the reference families with their types', async () => {
    const metrics = createMetricsModule();
    const { body } = await metrics.expose();
    const types = typeLines(body);
    expect([...types.keys()].sort()).toEqual(EXPECTED.map(([n]) => n).sort());
    for (const [name, type] of EXPECTED) expect(types.get(name), name).toBe(type);
  });

  it('emits labels in the reference order', async () => {
    const metrics = createMetricsModule();
    const handles = { ...metrics.basic, ...metrics.self } as unknown as Record<string, AnyHandle>;
    const byName = new Map<string, AnyHandle>();
    for (const h of Object.values(handles)) byName.set((h as unknown as { name: string }).name, h);
    for (const [name, type, labels] of EXPECTED) {
      if (labels.length === 0 || name.endsWith('build_info')) continue;
      const h = byName.get(name) as AnyHandle;
      // Pass the labels in reverse so the test shows the output order does not depend on the caller's order.
      const values = Object.fromEntries([...labels].reverse().map((l) => [l, `v_${l}`]));
      if (type === 'gauge') h.set?.(values, 7);
      else h.inc?.(values, 7);
    }
    const { body } = await metrics.expose();
    for (const [name, type, labels] of EXPECTED) {
      if (labels.length === 0 || name.endsWith('build_info')) continue;
      const expected = `${name}{${labels.map((l) => `${l}="v_${l}"`).join(',')}} 7`;
      expect(body.split('\n'), `${name} (${type})`).toContain(expected);
    }
  });

  it('shows a series only once it is set, including label-less families', async () => {
    const metrics = createMetricsModule();
    let { body } = await metrics.expose();
    expect(body).not.toMatch(/^networkobservability_conntrack_packets_tx /m);
    expect(body).not.toMatch(/^networkobservability_tcp_retransmission_count /m);
    expect(body).not.toMatch(/^networkobservability_node_apiserver_handshake_latency_ms_count /m);
    expect(body).not.toMatch(/^networkobservability_drop_count\{/m);
    metrics.basic.conntrackPacketsTx.set(5);
    metrics.basic.tcpRetransmissionCount.inc();
    metrics.basic.nodeApiserverHandshakeLatencyMs.observe(2);
    ({ body } = await metrics.expose());
    expect(body).toContain('\nnetworkobservability_conntrack_packets_tx 5\n');
    expect(body).toContain('\nnetworkobservability_tcp_retransmission_count 1\n');
    expect(body).toContain('\nnetworkobservability_node_apiserver_handshake_latency_ms_count 1\n');
  });

  it('uses linear API-server latency buckets 0.5 .. 63.5 ms plus +Inf', async () => {
    const metrics = createMetricsModule();
    metrics.basic.nodeApiserverHandshakeLatencyMs.observe(1.2);
    const { body } = await metrics.expose();
    const les = [...body.matchAll(/^networkobservability_node_apiserver_handshake_latency_ms_bucket\{le="([^"]+)"\} (\d+)$/gm)];
    expect(les.map((m) => m[1])).toEqual([...Array.from({ length: 64 }, (_, i) => String(i + 0.5)), '+Inf']);
    expect(les.map((m) => m[2]).slice(0, 3)).toEqual(['0', '1', '1']);
  });

  it('reports build info', async () => {
    const metrics = createMetricsModule({ version: '9.9.9' });
    const { body } = await metrics.expose();
    expect(body).toContain(
      `controlplane_networkobservability_build_info{version="9.9.9",nodejs_version="${process.version}"} 1`,
    );
  });

  it('uses a private registry, not prom-client global one', async () => {
    const a = createMetricsModule();
    const b = createMetricsModule();
    a.basic.forwardCount.set({ direction: 'ingress' }, 1);
    expect((await b.expose()).body).not.toContain('networkobservability_forward_count{');
    const { register } = await import('prom-client');
    expect(register.getSingleMetric('networkobservability_forward_count')).toBeUndefined();
  });
});

describe('MetricsModule exposition', () => {
  it('serves Prometheus text 0.0.4 by default', async () => {
    const metrics = createMetricsModule();
    metrics.basic.dnsRequestCount.inc({ query_type: 'A', query: 'bing.com.' });
    const { contentType, body } = await metrics.expose();
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(body).toContain(
      '# HELP networkobservability_dns_request_count DNS requests by query type and name\n' +
        '# TYPE networkobservability_dns_request_count counter\n' +
        'networkobservability_dns_request_count{query_type="A",query="bing.com."} 1\n',
    );
    expect(body).not.toContain('# EOF');
  });

  it('serves OpenMetrics when the Accept header asks for it', async () => {
    const metrics = createMetricsModule();
    metrics.basic.dnsRequestCount.inc({ query_type: 'A', query: 'bing.com.' });
    metrics.self.pluginRestarts.inc({ plugin: 'dns' });
    metrics.basic.tcpState.set({ state: 'ESTABLISHED' }, 4);
    const accept = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
    const { contentType, body } = await metrics.expose(accept);
    expect(contentType).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(body).toContain(
      // Retina's counter names carry no `_total`; OpenMetrics types them `unknown` so the sample name stays the same.
      '# TYPE networkobservability_dns_request_count unknown\n' +
        'networkobservability_dns_request_count{query_type="A",query="bing.com."} 1\n',
    );
    expect(body).toContain(
      '# TYPE controlplane_networkobservability_plugin_restarts counter\n' +
        'controlplane_networkobservability_plugin_restarts_total{plugin="dns"} 1\n',
    );
    expect(body).toContain('networkobservability_tcp_state{state="ESTABLISHED"} 4\n');
    expect(body.endsWith('# EOF\n')).toBe(true);
    // An OpenMetrics scrape must not rename anything for the next text scrape.
    const text = await metrics.expose('text/plain');
    expect(text.body).toContain('controlplane_networkobservability_plugin_restarts_total{plugin="dns"} 1\n');
    expect(text.body).toContain('# TYPE controlplane_networkobservability_plugin_restarts_total counter\n');
  });

  it('can be told never to serve OpenMetrics', async () => {
    const metrics = createMetricsModule({ openMetrics: false });
    expect((await metrics.expose('application/openmetrics-text')).contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
  });

  it('negotiates by quality', () => {
    expect(negotiateFormat(undefined)).toBe('prometheus');
    expect(negotiateFormat('')).toBe('prometheus');
    expect(negotiateFormat('text/plain')).toBe('prometheus');
    expect(negotiateFormat('*/*')).toBe('prometheus');
    expect(negotiateFormat('application/openmetrics-text')).toBe('openmetrics');
    expect(negotiateFormat('text/plain;q=1, application/openmetrics-text;q=0.5')).toBe('prometheus');
    expect(negotiateFormat('application/openmetrics-text;q=0')).toBe('prometheus');
    expect(negotiateFormat('Application/OpenMetrics-Text; version=1.0.0')).toBe('openmetrics');
  });

  it('escapes label values and help text', async () => {
    const metrics = createMetricsModule();
    metrics.basic.dnsRequestCount.inc({ query_type: 'A', query: 'a"b\\c\nd' });
    const { body } = await metrics.expose();
    expect(body).toContain('networkobservability_dns_request_count{query_type="A",query="a\\"b\\\\c\\nd"} 1\n');
  });
});

describe('universal labels', () => {
  it('adds cluster and instance to every series when given', async () => {
    const metrics = createMetricsModule({ universalLabels: { cluster: 'prod-eu', instance: 'node-1' } });
    metrics.basic.forwardCount.set({ direction: 'egress' }, 3);
    metrics.basic.conntrackTotalConnections.set(2);
    const { body } = await metrics.expose();
    expect(body).toContain('networkobservability_forward_count{direction="egress",cluster="prod-eu",instance="node-1"} 3\n');
    expect(body).toContain('networkobservability_conntrack_total_connections{cluster="prod-eu",instance="node-1"} 2\n');
    expect(metrics.universalLabels).toEqual({ cluster: 'prod-eu', instance: 'node-1' });
  });

  it('adds nothing for empty or missing values', async () => {
    const metrics = createMetricsModule({ universalLabels: { cluster: '', instance: undefined } });
    metrics.basic.forwardCount.set({ direction: 'egress' }, 3);
    const { body } = await metrics.expose();
    expect(body).toContain('networkobservability_forward_count{direction="egress"} 3\n');
    expect(metrics.universalLabels).toEqual({});
  });
});

describe('third-party families', () => {
  it('prefixes names and returns the same object for the same registration', async () => {
    const metrics = createMetricsModule();
    const a = metrics.gauge({ name: 'acme_http_requests', help: 'Requests', labelNames: ['method'] });
    const b = metrics.gauge({ name: 'networkobservability_acme_http_requests', help: 'Requests', labelNames: ['method'] });
    expect(a).toBe(b);
    expect(a).toBeInstanceOf(Gauge);
    a.set({ method: 'GET' }, 2);
    const c = metrics.counter({ name: 'acme_errors', help: 'Errors' });
    c.inc();
    const h = metrics.histogram({ name: 'acme_latency_ms', help: 'Latency', buckets: [1, 10] });
    h.observe(5);
    const { body } = await metrics.expose();
    expect(body).toContain('networkobservability_acme_http_requests{method="GET"} 2\n');
    expect(body).toContain('networkobservability_acme_errors 1\n');
    expect(body).toContain('networkobservability_acme_latency_ms_bucket{le="10"} 1\n');
  });

  it('refuses the same name with other labels, naming both', () => {
    const metrics = createMetricsModule();
    metrics.gauge({ name: 'acme_x', help: 'x', labelNames: ['a'] });
    expect(() => metrics.gauge({ name: 'acme_x', help: 'x', labelNames: ['b'] })).toThrow(
      new MetricRegistrationError(
        'metric networkobservability_acme_x is already registered as gauge with labels [a]; cannot register it again as gauge with labels [b]',
      ),
    );
    expect(() => metrics.counter({ name: 'acme_x', help: 'x', labelNames: ['a'] })).toThrow(
      'already registered as gauge with labels [a]; cannot register it again as counter with labels [a]',
    );
  });

  it('returns the basic handle when a plugin asks for a basic family by its exact shape', () => {
    const metrics = createMetricsModule();
    expect(metrics.gauge({ name: 'tcp_state', help: 'x', labelNames: ['state'] })).toBe(metrics.basic.tcpState);
  });

  it('rejects invalid names', () => {
    const metrics = createMetricsModule();
    expect(() => metrics.gauge({ name: 'bad-name', help: 'x' })).toThrow(
      'metric name "networkobservability_bad-name" is invalid (allowed: letters, digits, _ and :)',
    );
    expect(() => metrics.gauge({ name: 'ok', help: 'x', labelNames: ['__x'] })).toThrow('label name "__x" is invalid');
  });
});

describe('advanced section', () => {
  it('keeps adv_ families in their own registry and resets them', async () => {
    const metrics = createMetricsModule({ universalLabels: { cluster: 'c' } });
    const g = metrics.advanced.gauge({ name: 'forward_count', help: 'fwd', labelNames: ['direction'] });
    expect(metrics.advanced.gauge({ name: 'networkobservability_adv_forward_count', help: 'fwd', labelNames: ['direction'] })).toBe(g);
    g.set({ direction: 'ingress' }, 1);
    let { body } = await metrics.expose();
    expect(body).toContain('networkobservability_adv_forward_count{direction="ingress",cluster="c"} 1\n');
    expect(metrics.registry.getSingleMetric('networkobservability_adv_forward_count')).toBeUndefined();
    metrics.advanced.reset();
    ({ body } = await metrics.expose());
    expect(body).not.toContain('adv_forward_count');
    // After a reset the name can be registered with other labels.
    metrics.advanced.gauge({ name: 'adv_forward_count', help: 'fwd', labelNames: ['direction', 'podname'] });
  });
});

describe('self-metric names through the generic methods', () => {
  it('keeps the agent prefix instead of adding the data-plane one', async () => {
    const metrics = createMetricsModule();
    metrics.gauge({ name: 'controlplane_networkobservability_k8s_watcher_synced', help: 'x', labelNames: ['resource'] }).set({ resource: 'pods' }, 1);
    metrics.gauge({ name: 'acme_thing', help: 'y' }).set(2);
    const { body } = await metrics.expose('text/plain');
    expect(body).toContain('controlplane_networkobservability_k8s_watcher_synced{resource="pods"} 1\n');
    expect(body).toContain('networkobservability_acme_thing 2\n');
  });
});
