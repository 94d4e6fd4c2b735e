import { describe, expect, it } from 'vitest';
import { AdvancedFlowMetrics, createMetricsModule, Enricher, InMemoryIpCache, type Flow } from '../src/index.js';
import { flowBetween } from './helpers.js';

/** Two pods in one namespace; forward_count, forward_bytes and tcp_flag_gauges by pod name, local context. */
async function count(flows: Flow[]): Promise<string[]> {
  const cache = new InMemoryIpCache();
  cache.upsertPod({ namespace: 'web', name: 'a', ips: ['10.0.0.1'] });
  cache.upsertPod({ namespace: 'web', name: 'b', ips: ['10.0.0.2'] });
  const enricher = new Enricher(cache);
  const metrics = createMetricsModule();
  const adv = new AdvancedFlowMetrics({ metrics, config: { remoteContext: false } });
  adv.update({
    contextOptions: ['forward_count', 'forward_bytes', 'tcp_flag_gauges'].map((metricName) => ({
      metricName,
      sourceLabels: ['podname'],
    })),
    namespaces: { include: ['web'] },
  });
  adv.process(flows.map((f) => enricher.enrich(f)));
  const { body } = await metrics.expose();
  return body.split('\n').filter((l) => l.startsWith('networkobservability_adv_') && l.includes('podname="a"'));
}

const tcp = (extensions: Flow['extensions']): Flow =>
  flowBetween('10.0.0.1', '10.0.0.2', {
    l4: { tcp: { sourcePort: 40000, destinationPort: 80, flags: { ACK: true } } },
    extensions,
  });

describe('advanced metrics of records kept by cpuBudget sampling', () => {
  it('count each record sampleRate times: packets, bytes and flags', async () => {
    expect(await count([tcp({ bytes: 100, sampleRate: 16 }), tcp({ bytes: 50, sampleRate: 16 })])).toEqual([
      'networkobservability_adv_forward_count{direction="egress",podname="a"} 32',
      'networkobservability_adv_forward_bytes{direction="egress",podname="a"} 2400',
      'networkobservability_adv_tcpflags_count{flag="ACK",podname="a"} 32',
    ]);
  });

  it('scale what an aggregated record carries too', async () => {
    const lines = await count([tcp({ bytes: 100, previouslyObservedPackets: 3, previouslyObservedBytes: 300, sampleRate: 4 })]);
    expect(lines).toContain('networkobservability_adv_forward_count{direction="egress",podname="a"} 16');
    expect(lines).toContain('networkobservability_adv_forward_bytes{direction="egress",podname="a"} 1600');
  });

  it('count unsampled records (no sampleRate, or 1) once', async () => {
    expect(await count([tcp({ bytes: 100 }), tcp({ bytes: 100, sampleRate: 1 })])).toEqual([
      'networkobservability_adv_forward_count{direction="egress",podname="a"} 2',
      'networkobservability_adv_forward_bytes{direction="egress",podname="a"} 200',
      'networkobservability_adv_tcpflags_count{flag="ACK",podname="a"} 2',
    ]);
  });
});
