import { describe, expect, it } from 'vitest';
import {
  AdvancedFlowMetrics,
  apiServerMetricsOf,
  ApiServerLatency,
  ApiServerPacketMatcher,
  createMetricsModule,
  TraceObservationPoint,
  type Flow,
  type MetricsModule,
  type TcpFlags,
} from '../src/index.js';
import { flowBetween } from './helpers.js';

const NODE = '10.210.0.4';
const API = '10.210.9.1';
const MS = 1_000_000n;

/** A TCP flow at the node's interface with a TCP timestamp (`tcpId`), at `tMs` ms. */
function packet(
  point: 'out' | 'in',
  tMs: number,
  tcpId: number,
  flags: TcpFlags,
  ports: [number, number] = [40000, 443],
  addrs: [string, string] = point === 'out' ? [NODE, API] : [API, NODE],
): Flow {
  const [sourcePort, destinationPort] = point === 'out' ? ports : [ports[1], ports[0]];
  return flowBetween(addrs[0], addrs[1], {
    timeNs: 1_700_000_000_000n * MS + BigInt(Math.round(tMs * 1000)) * 1000n,
    traceObservationPoint: point === 'out' ? TraceObservationPoint.TO_NETWORK : TraceObservationPoint.FROM_NETWORK,
    l4: { tcp: { sourcePort, destinationPort, flags } },
    extensions: { tcpId },
  });
}

/** `name{...}` lines of one family from the exposition, without universal labels. */
async function lines(metrics: MetricsModule, family: string): Promise<string[]> {
  const { body } = await metrics.expose();
  return body.split('\n').filter((l) => l.startsWith(`${family}_`) || l.startsWith(`${family}{`) || l.startsWith(`${family} `));
}

/** Cumulative bucket counts of a label-less histogram, keyed by `le`. */
async function buckets(metrics: MetricsModule, family: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const l of await lines(metrics, family)) {
    const m = /_bucket\{le="([^"]+)"\} (\d+)/.exec(l);
    if (m) out.set(m[1] as string, Number(m[2]));
  }
  return out;
}

const ALL = ['node_apiserver_latency', 'node_apiserver_handshake_latency', 'node_apiserver_no_response'];

function tracker(now: { ms: number }, names = ALL): { metrics: MetricsModule; lat: ApiServerLatency } {
  const metrics = createMetricsModule();
  const lat = new ApiServerLatency({ metrics, apiServerIps: [API], now: () => now.ms });
  lat.configure(names);
  return { metrics, lat };
}

describe('apiServerMetricsOf', () => {
  it('selects the API server metric names a spec lists, in catalog order', () => {
    expect(
      apiServerMetricsOf({
        contextOptions: [
          { metricName: 'node_apiserver_no_response' },
          { metricName: 'forward_count', sourceLabels: ['ip'] },
          { metricName: 'node_apiserver_latency' },
        ],
      }),
    ).toEqual(['node_apiserver_latency', 'node_apiserver_no_response']);
    expect(apiServerMetricsOf(undefined)).toEqual([]);
  });
});

describe('ApiServerPacketMatcher', () => {
  it('pairs an outgoing packet with the answer echoing its timestamp, in either address order', () => {
    const m = new ApiServerPacketMatcher();
    m.setApiServerIps([API]);
    expect(m.observe(packet('out', 0, 111, { SYN: true }), 0)).toBeUndefined();
    expect(m.pending).toBe(1);
    // The answer with another TSecr does not match.
    expect(m.observe(packet('in', 1, 999, { SYN: true, ACK: true }), 0)).toBeUndefined();
    expect(m.observe(packet('in', 2.25, 111, { SYN: true, ACK: true }), 0)).toEqual({ latencyMs: 2.25, handshake: true });
    expect(m.pending).toBe(0);
    // The API server as the sender (a server-side address on this node): the same rule.
    m.observe(packet('out', 10, 5, { ACK: true }, [443, 40001], [API, NODE]), 0);
    expect(m.observe(packet('in', 13, 5, { ACK: true }, [443, 40001], [NODE, API]), 0)).toEqual({
      latencyMs: 3,
      handshake: false,
    });
  });

  it('ignores flows of other addresses, other hooks, without tcpId, and keeps only the first packet per key', () => {
    const m = new ApiServerPacketMatcher();
    m.setApiServerIps([API]);
    m.observe(packet('out', 0, 7, { SYN: true }, [40000, 443], [NODE, '10.210.9.2']), 0);
    const noId = packet('out', 0, 7, { SYN: true });
    delete noId.extensions;
    m.observe(noId, 0);
    m.observe({ ...packet('out', 0, 7, { SYN: true }), traceObservationPoint: TraceObservationPoint.TO_STACK }, 0);
    expect(m.pending).toBe(0);
    m.observe(packet('out', 0, 7, { ACK: true }), 0);
    m.observe(packet('out', 4, 7, { ACK: true, PSH: true }), 0);
    expect(m.pending).toBe(1);
    expect(m.observe(packet('in', 5, 7, { ACK: true }), 0)?.latencyMs).toBe(5);
  });

  it('expires the packets older than the timeout and stops at the first younger one', () => {
    const m = new ApiServerPacketMatcher(2);
    m.setApiServerIps([API]);
    m.observe(packet('out', 0, 1, { ACK: true }), 100);
    m.observe(packet('out', 0, 2, { ACK: true }), 300);
    m.observe(packet('out', 0, 3, { ACK: true }), 300); // over the cap of 2: not remembered
    expect(m.pending).toBe(2);
    expect(m.expire(599, 500)).toBe(0);
    expect(m.expire(600, 500)).toBe(1);
    expect(m.expire(800, 500)).toBe(1);
    expect(m.pending).toBe(0);
  });
});

describe('ApiServerLatency', () => {
  it('puts round trips into the 0.5 … 63.5 ms linear buckets and handshakes into both handshake histograms', async () => {
    const now = { ms: 0 };
    const { metrics, lat } = tracker(now);
    lat.process([
      packet('out', 0, 1, { SYN: true }, [40000, 443]),
      packet('out', 0, 2, { ACK: true, PSH: true }, [40001, 443]),
      packet('out', 0, 3, { ACK: true }, [40002, 443]),
    ]);
    lat.process([
      packet('in', 0.3, 1, { SYN: true, ACK: true }, [40000, 443]), // handshake 0.3 ms → le 0.5
      packet('in', 2.0, 2, { ACK: true }, [40001, 443]), // 2 ms → le 2.5
      packet('in', 70, 3, { ACK: true }, [40002, 443]), // 70 ms → +Inf only
    ]);
    const adv = await buckets(metrics, 'networkobservability_adv_node_apiserver_latency');
    expect(adv.size).toBe(65);
    expect(adv.get('0.5')).toBe(1);
    expect(adv.get('1.5')).toBe(1);
    expect(adv.get('2.5')).toBe(2);
    expect(adv.get('63.5')).toBe(2);
    expect(adv.get('+Inf')).toBe(3);
    const body = (await metrics.expose()).body;
    expect(body).toContain('networkobservability_adv_node_apiserver_latency_sum 72.3');
    expect(body).toContain('networkobservability_adv_node_apiserver_latency_count 3');
    for (const family of [
      'networkobservability_adv_node_apiserver_tcp_handshake_latency',
      'networkobservability_node_apiserver_handshake_latency_ms',
    ]) {
      const h = await buckets(metrics, family);
      expect(h.get('0.5')).toBe(1);
      expect(h.get('+Inf')).toBe(1);
      expect(body).toContain(`${family}_count 1`);
    }
    expect(body).not.toContain('adv_node_apiserver_no_response{');
  });

  it('counts packets unanswered within 500 ms as no_response', async () => {
    const now = { ms: 1000 };
    const { metrics, lat } = tracker(now);
    lat.process([packet('out', 0, 1, { SYN: true }), packet('out', 0, 2, { SYN: true }, [40009, 443])]);
    now.ms = 1499;
    lat.expire();
    expect(await lines(metrics, 'networkobservability_adv_node_apiserver_no_response')).toEqual([]);
    now.ms = 1500;
    lat.expire();
    expect(await lines(metrics, 'networkobservability_adv_node_apiserver_no_response')).toEqual([
      'networkobservability_adv_node_apiserver_no_response{no_response="no_response"} 2',
    ]);
    // The late answer no longer matches.
    lat.process([packet('in', 900, 1, { SYN: true, ACK: true })]);
    expect((await metrics.expose()).body).not.toContain('adv_node_apiserver_latency_count');
  });

  it('produces only the configured advanced families; the basic histogram always', async () => {
    const now = { ms: 0 };
    const { metrics, lat } = tracker(now, ['node_apiserver_no_response']);
    expect(lat.configured).toEqual(['node_apiserver_no_response']);
    lat.process([packet('out', 0, 1, { SYN: true })]);
    lat.process([packet('in', 1, 1, { SYN: true, ACK: true })]);
    const body = (await metrics.expose()).body;
    expect(body).not.toContain('adv_node_apiserver_latency');
    expect(body).not.toContain('adv_node_apiserver_tcp_handshake_latency');
    expect(body).toContain('networkobservability_node_apiserver_handshake_latency_ms_count 1');
  });

  it('follows API server address changes', async () => {
    const now = { ms: 0 };
    const { metrics, lat } = tracker(now);
    lat.setApiServerIps(['10.210.9.77']);
    lat.process([packet('out', 0, 1, { SYN: true }), packet('in', 1, 1, { SYN: true, ACK: true })]);
    expect((await metrics.expose()).body).not.toContain('adv_node_apiserver_latency_count');
    lat.setApiServerIps([API]);
    lat.process([packet('out', 0, 1, { SYN: true }), packet('in', 1, 1, { SYN: true, ACK: true })]);
    expect((await metrics.expose()).body).toContain('networkobservability_adv_node_apiserver_latency_count 1');
  });

  it('re-registers its families after a MetricsConfiguration change resets the advanced registry', async () => {
    const now = { ms: 0 };
    const { metrics, lat } = tracker(now);
    const adv = new AdvancedFlowMetrics({ metrics, config: { remoteContext: false } });
    const spec = (extra: string[]) => ({
      contextOptions: [...ALL, ...extra].map((metricName) => ({ metricName, sourceLabels: ['podname'] })),
      namespaces: { include: ['web'] },
    });
    adv.update(spec(['forward_count']));
    lat.configure(apiServerMetricsOf(spec(['forward_count'])));
    lat.process([packet('out', 0, 1, { SYN: true }), packet('in', 1, 1, { SYN: true, ACK: true })]);
    expect((await metrics.expose()).body).toContain('networkobservability_adv_node_apiserver_latency_count 1');
    adv.update(spec(['drop_count'])); // context options changed: the advanced registry is reset
    expect((await metrics.expose()).body).not.toContain('adv_node_apiserver_latency');
    lat.configure(apiServerMetricsOf(spec(['drop_count'])));
    lat.process([packet('out', 5, 2, { SYN: true }), packet('in', 6, 2, { SYN: true, ACK: true })]);
    const body = (await metrics.expose()).body;
    expect(body).toContain('networkobservability_adv_node_apiserver_latency_count 1');
    expect(body).toContain('networkobservability_node_apiserver_handshake_latency_ms_count 2');
    adv.close();
    lat.close();
  });

  it('rejects a non-positive response timeout, naming it', () => {
    expect(() => new ApiServerLatency({ metrics: createMetricsModule(), responseTimeoutMs: 0 })).toThrow(
      /responseTimeoutMs 0/,
    );
  });
});
