import { afterEach, describe, expect, it } from 'vitest';
import {
  AdvancedMetricsConfigError,
  createMetricsModule,
  Enricher,
  InMemoryIpCache,
  PodLevelMetrics,
  type MetricsModule,
} from '../src/index.js';
import { flowBetween } from './helpers.js';

/** Two pods in `web`, one in `db`; flows between them are enriched as the agent does. */
function enricher(): Enricher {
  const cache = new InMemoryIpCache();
  cache.upsertPod({ namespace: 'web', name: 'web-1', ips: ['10.0.0.1'] });
  cache.upsertPod({ namespace: 'web', name: 'web-2', ips: ['10.0.0.2'] });
  cache.upsertPod({ namespace: 'db', name: 'db-0', ips: ['10.0.1.1'] });
  return new Enricher(cache);
}

/** Source pod names of the adv_forward_count series in the exposition. */
async function forwardSources(metrics: MetricsModule): Promise<string[]> {
  const { body } = await metrics.expose();
  const out = new Set<string>();
  for (const line of body.split('\n')) {
    if (!line.startsWith('networkobservability_adv_forward_count{')) continue;
    const m = /podname="([^"]*)"/.exec(line);
    if (m) out.add(m[1] as string);
  }
  return [...out].sort();
}

const open: PodLevelMetrics[] = [];
function podLevel(annotations: boolean): { pod: PodLevelMetrics; metrics: MetricsModule } {
  const metrics = createMetricsModule();
  const pod = new PodLevelMetrics({ metrics, remoteContext: false, annotations, apiServerIps: ['10.96.0.1'] });
  open.push(pod);
  return { pod, metrics };
}
afterEach(() => {
  for (const p of open.splice(0)) p.close();
});

describe('PodLevelMetrics', () => {
  it('configures the flow families and the API server families a MetricsConfiguration spec names', async () => {
    const { pod, metrics } = podLevel(false);
    expect(pod.annotations).toBe(false);
    pod.configure({
      contextOptions: [
        { metricName: 'forward_count', sourceLabels: ['podname'] },
        { metricName: 'node_apiserver_latency' },
      ],
      namespaces: { include: ['web'] },
    });
    expect(pod.configured).toEqual(['forward_count', 'node_apiserver_latency']);
    const e = enricher();
    pod.process([e.enrich(flowBetween('10.0.0.1', '10.0.1.1')), e.enrich(flowBetween('10.0.1.1', '10.0.0.2'))]);
    // Only pods of the included namespace get series.
    expect(await forwardSources(metrics)).toEqual(['web-1', 'web-2']);
  });

  it('refuses an invalid spec with a message naming the metric, and keeps the previous configuration', () => {
    const { pod } = podLevel(false);
    pod.configure({ contextOptions: [{ metricName: 'drop_count' }], namespaces: { include: ['web'] } });
    expect(() =>
      pod.configure({ contextOptions: [{ metricName: 'no_such_metric' }], namespaces: { include: ['web'] } }),
    ).toThrow(AdvancedMetricsConfigError);
    expect(() =>
      pod.configure({ contextOptions: [{ metricName: 'no_such_metric' }], namespaces: { include: ['web'] } }),
    ).toThrow(/no_such_metric/);
    expect(pod.configured).toEqual(['drop_count']);
  });

  it('in annotation mode observes the annotated pods and namespaces with every family', async () => {
    const { pod, metrics } = podLevel(true);
    expect(pod.annotations).toBe(true);
    pod.observeAnnotated(['db'], ['10.0.0.2']);
    expect(pod.configured).toContain('forward_count');
    expect(pod.configured).toContain('drop_count');
    expect(pod.configured).toEqual(
      expect.arrayContaining(['node_apiserver_latency', 'node_apiserver_handshake_latency', 'node_apiserver_no_response']),
    );
    const e = enricher();
    const batch = (): ReturnType<Enricher['enrich']>[] => [
      e.enrich(flowBetween('10.0.0.1', '192.0.2.9')),
      e.enrich(flowBetween('10.0.0.2', '192.0.2.9')),
      e.enrich(flowBetween('10.0.1.1', '192.0.2.9')),
    ];
    pod.process(batch());
    // web-2 by its pod annotation, db-0 by its namespace's; web-1 is neither.
    expect(await forwardSources(metrics)).toEqual(['db-0', 'web-2']);

    // web-1 is annotated now; web-2's series stay until they expire.
    pod.setObservedPodIps(['10.0.0.1']);
    pod.process(batch());
    expect(await forwardSources(metrics)).toEqual(['db-0', 'web-1', 'web-2']);
  });
});
