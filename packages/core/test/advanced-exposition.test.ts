import { describe, expect, it } from 'vitest';
import {
  AdvancedFlowMetrics,
  createMetricsModule,
  Enricher,
  InMemoryIpCache,
  type MetricsModule,
} from '../src/index.js';
import { escapeLabelValue, labelPairs } from '../src/metrics/direct.js';
import { flowBetween } from './helpers.js';

function setup(universalLabels?: { cluster?: string }) {
  const cache = new InMemoryIpCache();
  cache.upsertPod({ namespace: 'web', name: 'web-1', ips: ['10.0.0.1'] });
  cache.upsertPod({ namespace: 'web', name: 'web-2', ips: ['10.0.0.2'] });
  const metrics = createMetricsModule(universalLabels ? { universalLabels } : {});
  let now = 1_000;
  const adv = new AdvancedFlowMetrics({ metrics, config: { remoteContext: false }, now: () => now });
  adv.update({
    contextOptions: [{ metricName: 'forward_count', sourceLabels: ['podname'], ttl: '1m' }],
    namespaces: { include: ['web'] },
  });
  const enricher = new Enricher(cache);
  const send = (src: string, dst: string) => adv.process([enricher.enrich(flowBetween(src, dst))]);
  return { metrics, adv, send, advance: (ms: number) => (now += ms) };
}

async function forwardLines(metrics: MetricsModule): Promise<string[]> {
  const { body } = await metrics.expose();
  return body.split('\n').filter((l) => l.startsWith('networkobservability_adv_forward_count'));
}

describe('advanced families in the exposition', () => {
  it('renders the series with the universal labels after their own', async () => {
    const { metrics, send } = setup({ cluster: 'c1' });
    send('10.0.0.1', '10.0.0.2');
    send('10.0.0.1', '198.18.0.1');
    expect(await forwardLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="egress",podname="web-1",cluster="c1"} 2',
      'networkobservability_adv_forward_count{direction="ingress",podname="web-2",cluster="c1"} 1',
    ]);
  });

  it('shows current values on every scrape, including series updated between scrapes', async () => {
    const { metrics, send } = setup();
    send('10.0.0.1', '198.18.0.1');
    expect(await forwardLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="egress",podname="web-1"} 1',
    ]);
    send('10.0.0.1', '198.18.0.1');
    send('198.18.0.1', '10.0.0.2');
    expect(await forwardLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="egress",podname="web-1"} 2',
      'networkobservability_adv_forward_count{direction="ingress",podname="web-2"} 1',
    ]);
  });

  it('keeps prom-client readers current without exposing a series twice', async () => {
    const { metrics, send } = setup();
    send('10.0.0.1', '198.18.0.1');
    const family = metrics.advanced.registry.getSingleMetric('networkobservability_adv_forward_count');
    expect((await family?.get())?.values).toEqual([
      { labels: { direction: 'egress', podname: 'web-1' }, value: 1 },
    ]);
    send('10.0.0.1', '198.18.0.1');
    expect(await forwardLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="egress",podname="web-1"} 2',
    ]);
    expect((await family?.get())?.values).toEqual([
      { labels: { direction: 'egress', podname: 'web-1' }, value: 2 },
    ]);
  });

  it('still exposes series another writer set on the same family through prom-client', async () => {
    const { metrics, send } = setup();
    send('10.0.0.1', '198.18.0.1');
    const other = metrics.advanced.gauge({
      name: 'adv_forward_count',
      help: 'ignored: the family exists',
      labelNames: ['direction', 'podname'],
    });
    other.set({ direction: 'ingress', podname: 'from-elsewhere' }, 7);
    expect(await forwardLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="egress",podname="web-1"} 1',
      'networkobservability_adv_forward_count{direction="ingress",podname="from-elsewhere"} 7',
    ]);
  });

  it('drops expired series from both the exposition and the prom-client copy', async () => {
    const { metrics, adv, send, advance } = setup();
    send('10.0.0.1', '198.18.0.1');
    const family = metrics.advanced.registry.getSingleMetric('networkobservability_adv_forward_count');
    await family?.get(); // makes a prom-client copy
    advance(30_000);
    send('198.18.0.1', '10.0.0.2');
    advance(30_000);
    adv.expire();
    expect(await forwardLines(metrics)).toEqual([
      'networkobservability_adv_forward_count{direction="ingress",podname="web-2"} 1',
    ]);
    expect((await family?.get())?.values).toEqual([
      { labels: { direction: 'ingress', podname: 'web-2' }, value: 1 },
    ]);
  });
});

describe('label rendering', () => {
  it('escapes backslash, newline and double quote, and leaves other values as they are', () => {
    expect(escapeLabelValue('plain.example.com')).toBe('plain.example.com');
    expect(escapeLabelValue('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
  });

  it('renders pairs in the given order', () => {
    expect(labelPairs(['b', 'a'], ['2', 'x"y'])).toBe('b="2",a="x\\"y"');
    expect(labelPairs([], [])).toBe('');
  });
});
