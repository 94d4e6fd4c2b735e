/** The UI server's pure parts: filters to Hubble FlowFilters, flows to rows, the aggregates, metrics, captures. */
import { describe, expect, it } from 'vitest';
import {
  captureFilter,
  DnsLatencyTracker,
  filterFromQuery,
  hubbleWhitelist,
  nodeFiguresFromExposition,
  parseCaptureRequest,
  ServiceMapAggregator,
  toUiFlow,
  type UiFlow,
} from '../src/index.js';

const pbFlow = (over: Record<string, unknown> = {}) => ({
  time: { seconds: '1700000000', nanos: 250_000_000 },
  verdict: 'FORWARDED',
  IP: { source: '10.1.0.1', destination: '10.1.0.2', ipVersion: 'IPv4' },
  l4: { TCP: { source_port: 40000, destination_port: 80, flags: { SYN: true, ACK: true } } },
  source: { namespace: 'shop', pod_name: 'web-5f-abc', workloads: [{ name: 'web', kind: 'Deployment' }] },
  destination: { namespace: 'shop', pod_name: 'db-0' },
  node_name: 'node-a',
  traffic_direction: 'EGRESS',
  ...over,
});

describe('hubbleWhitelist', () => {
  it('is empty for an empty filter', () => {
    expect(hubbleWhitelist({})).toEqual([]);
  });

  it('matches endpoint fields on either side, sharing the others', () => {
    expect(hubbleWhitelist({ namespace: 'shop', verdict: 'dropped', port: '53', protocol: 'UDP' })).toEqual([
      { verdict: ['DROPPED'], protocol: ['udp'], source_pod: ['shop/'], source_port: ['53'] },
      { verdict: ['DROPPED'], protocol: ['udp'], destination_pod: ['shop/'], destination_port: ['53'] },
    ]);
    expect(hubbleWhitelist({ pod: 'web', namespace: 'shop', workload: 'Deployment/web', ip: '10.0.0.0/8' })[0]).toEqual({
      source_pod: ['shop/web'],
      source_workload: [{ kind: 'Deployment', name: 'web' }],
      source_ip: ['10.0.0.0/8'],
    });
    expect(hubbleWhitelist({ dns: 'example\\.com', verdict: 'FORWARDED,DROPPED' })).toEqual([
      { verdict: ['FORWARDED', 'DROPPED'], dns_query: ['example\\.com'] },
    ]);
  });

  it('pins both sides for a service map edge', () => {
    expect(hubbleWhitelist({ from: 'shop/web', to: '10.9.0.1' })).toEqual([
      { source_pod: ['shop/'], source_workload: [{ name: 'web' }], destination_ip: ['10.9.0.1'] },
    ]);
    expect(hubbleWhitelist({ from: 'shop/pod/db-0', port: '80' })).toEqual([
      { source_pod: ['shop/db-0'], destination_port: ['80'] },
    ]);
  });

  it('refuses bad values naming the field', () => {
    expect(() => hubbleWhitelist({ verdict: 'MAYBE' })).toThrow(/verdict: unknown verdict "MAYBE"/);
    expect(() => hubbleWhitelist({ protocol: 'gopher' })).toThrow(/protocol/);
    expect(() => hubbleWhitelist({ port: '70000' })).toThrow(/port: "70000"/);
    expect(() => hubbleWhitelist({ from: 'not an ip' })).toThrow(/^from:/);
    expect(() => hubbleWhitelist({ workload: 'Deployment/' })).toThrow(/workload/);
    expect(() => filterFromQuery(new URLSearchParams({ ip: 'x'.repeat(300) }))).toThrow(/ip: longer than 256/);
    expect(() => filterFromQuery(new URLSearchParams({ port: Array(20).fill('1').join(',') }))).toThrow(/port: more than 16/);
  });
});

describe('toUiFlow', () => {
  it('reduces a Hubble flow to a row with endpoints, protocol, flags and map ids', () => {
    const row = toUiFlow(pbFlow(), 7);
    expect(row).toMatchObject({
      seq: 7,
      time: 1_700_000_000_250,
      node: 'node-a',
      protocol: 'TCP',
      verdict: 'FORWARDED',
      tcpFlags: ['SYN', 'ACK'],
      direction: 'EGRESS',
      src: { id: 'shop/web', ip: '10.1.0.1', port: 40000, pod: 'web-5f-abc', workload: 'Deployment/web' },
      dst: { id: 'shop/pod/db-0', ip: '10.1.0.2', port: 80, pod: 'db-0' },
    });
  });

  it('reads DNS and drops; an IP outside the cluster is its own node', () => {
    const dns = toUiFlow(
      pbFlow({
        l4: { UDP: { source_port: 53, destination_port: 41000 } },
        l7: { type: 'RESPONSE', dns: { query: 'a.test.', rcode: 3, qtypes: ['A'] } },
        destination: undefined,
      }),
      1,
    );
    expect(dns).toMatchObject({ protocol: 'DNS', dns: { query: 'a.test.', rcode: 3, type: 'response', qtypes: ['A'] } });
    expect(dns.dst.id).toBe('10.1.0.2');
    const drop = toUiFlow(pbFlow({ verdict: 'DROPPED', drop_reason_desc: 'POLICY_DENIED' }), 2);
    expect(drop.dropReason).toBe('POLICY_DENIED');
  });
});

describe('ServiceMapAggregator', () => {
  const row = (src: string, dst: string, over: Partial<UiFlow> = {}): UiFlow => ({
    ...toUiFlow(pbFlow(), 1),
    src: { id: src, namespace: 'shop', workload: `Deployment/${src.split('/')[1]}` },
    dst: { id: dst, ip: dst },
    ...over,
  });

  it('counts flows, drops, resets and DNS errors per edge, with rates and idle expiry', () => {
    const m = new ServiceMapAggregator({ idleMs: 5000 });
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) m.add(row('shop/web', '10.0.0.9'));
    m.add(row('shop/web', '10.0.0.9', { verdict: 'DROPPED' }));
    m.add(row('shop/web', '10.0.0.9', { tcpFlags: ['RST'] }));
    m.add(row('shop/web', '10.0.0.9', { dns: { query: 'x.', rcode: 2, type: 'response' } }));
    const map = m.tick(t0 + 1000);
    expect(map.nodes.map((n) => [n.id, n.kind, n.label])).toEqual([
      ['shop/web', 'workload', 'web'],
      ['10.0.0.9', 'external', '10.0.0.9'],
    ]);
    expect(map.edges).toHaveLength(1);
    expect(map.edges[0]).toMatchObject({ source: 'shop/web', target: '10.0.0.9', flows: 13, drops: 1, resets: 1, dnsErrors: 1 });
    expect(map.edges[0]!.rate).toBeGreaterThan(0);
    expect(m.tick(t0 + 60_000)).toEqual({ nodes: [], edges: [] });
  });

  it('keeps at most maxEdges edges, dropping the oldest', () => {
    const m = new ServiceMapAggregator({ maxEdges: 3 });
    for (let i = 0; i < 10; i++) m.add(row('shop/web', `10.0.0.${i}`));
    expect(m.tick().edges.map((e) => e.target)).toEqual(['10.0.0.7', '10.0.0.8', '10.0.0.9']);
  });
});

describe('DnsLatencyTracker', () => {
  it('pairs requests with responses by client, server and query', () => {
    const t = new DnsLatencyTracker();
    const at = (ms: number) => ({ seconds: '1700000000', nanos: ms * 1e6 });
    const req = toUiFlow(
      pbFlow({ time: at(100), l4: { UDP: { source_port: 5000, destination_port: 53 } }, l7: { type: 'REQUEST', dns: { query: 'a.' } } }),
      1,
    );
    const resp = toUiFlow(
      pbFlow({
        time: at(103.5),
        IP: { source: '10.1.0.2', destination: '10.1.0.1' },
        l4: { UDP: { source_port: 53, destination_port: 5000 } },
        l7: { type: 'RESPONSE', dns: { query: 'a.', rcode: 0 } },
      }),
      2,
    );
    t.add(req);
    t.add(resp);
    const s = t.take();
    expect(s.count).toBe(1);
    expect(s.p50Ms).toBeCloseTo(3.5, 3);
    expect(t.take().count).toBe(0);
  });
});

describe('nodeFiguresFromExposition', () => {
  it('sums drops by reason, DNS, TCP states and retransmissions', () => {
    const text = [
      '# TYPE networkobservability_drop_count gauge',
      'networkobservability_drop_count{direction="ingress",reason="IPTABLE_RULE_DROP"} 3',
      'networkobservability_drop_count{direction="egress",reason="IPTABLE_RULE_DROP"} 2',
      'networkobservability_drop_count{direction="ingress",reason="TCP_CONNECT_BASIC"} 1',
      '# TYPE networkobservability_dns_request_count counter',
      'networkobservability_dns_request_count{query="a.",query_type="A"} 4',
      'networkobservability_dns_request_count{query="b.",query_type="A"} 1',
      '# TYPE networkobservability_tcp_state gauge',
      'networkobservability_tcp_state{state="ESTABLISHED"} 7',
      '# TYPE networkobservability_tcp_retransmission_count counter',
      'networkobservability_tcp_retransmission_count 9',
      '# TYPE other_metric gauge',
      'other_metric 1',
      '',
    ].join('\n');
    expect(nodeFiguresFromExposition(text)).toEqual({
      drops: { IPTABLE_RULE_DROP: 5, TCP_CONNECT_BASIC: 1 },
      dnsRequests: 5,
      tcpState: { ESTABLISHED: 7 },
      retransmissions: 9,
    });
  });
});

describe('parseCaptureRequest', () => {
  it('accepts endpoints, port and duration and builds the pcap filter', () => {
    const r = parseCaptureRequest({ name: 'dbg', ips: ['10.0.0.1', 'fd00::2'], port: 443, durationSeconds: 5 });
    expect(captureFilter(r)).toBe('host 10.0.0.1 and host fd00::2 and port 443');
  });

  it('refuses bad fields by name', () => {
    expect(() => parseCaptureRequest([])).toThrow(/body/);
    expect(() => parseCaptureRequest({ ips: ['10.0.0.1; rm -rf /'] })).toThrow(/ips: "10.0.0.1; rm -rf \/" is not an IP/);
    expect(() => parseCaptureRequest({ ips: [] })).toThrow(/ips/);
    expect(() => parseCaptureRequest({ ips: ['10.0.0.1'], name: 'Bad Name' })).toThrow(/name/);
    expect(() => parseCaptureRequest({ ips: ['10.0.0.1'], port: 0 })).toThrow(/port/);
    expect(() => parseCaptureRequest({ ips: ['10.0.0.1'], durationSeconds: 3600 })).toThrow(/durationSeconds/);
  });
});
