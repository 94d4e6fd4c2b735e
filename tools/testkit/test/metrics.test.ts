import { describe, expect, it } from 'vitest';
import { seriesOf, type MetricRegistryLike, type MetricSample } from '../src/index.js';

/** A registry holding fixed samples per family, shaped as prom-client's. */
function registry(families: Record<string, MetricSample[]>): MetricRegistryLike {
  return {
    getSingleMetric: (name) => {
      const values = families[name];
      return values ? { get: () => Promise.resolve({ values }) } : undefined;
    },
  };
}

describe('seriesOf', () => {
  const basic = registry({
    requests: [
      { labels: { qtype: 'A', rcode: 'NOERROR' }, value: 3 },
      { labels: { qtype: 'AAAA', port: 53 }, value: 1 },
    ],
    latency: [
      { labels: { le: 0.5 }, value: 2, metricName: 'latency_bucket' },
      { labels: {}, value: 2, metricName: 'latency_count' },
    ],
  });
  const advanced = registry({ adv_requests: [{ labels: { pod: 'web' }, value: 7 }] });

  it('keys each series by its labels in the order they are listed', async () => {
    expect(await seriesOf(basic, 'requests')).toEqual(
      new Map([
        ['qtype=A,rcode=NOERROR', 3],
        ['qtype=AAAA,port=53', 1],
      ]),
    );
  });

  it('puts the sample name in front when asked (histogram samples)', async () => {
    expect(await seriesOf(basic, 'latency', { sampleNames: true })).toEqual(
      new Map([
        ['latency_bucket{le=0.5}', 2],
        ['latency_count{}', 2],
      ]),
    );
    expect(await seriesOf(basic, 'requests', { sampleNames: true })).toEqual(
      new Map([
        ['requests{qtype=A,rcode=NOERROR}', 3],
        ['requests{qtype=AAAA,port=53}', 1],
      ]),
    );
  });

  it('reads the family from the first registry that has it, and names a family none has', async () => {
    expect(await seriesOf([basic, advanced], 'adv_requests')).toEqual(new Map([['pod=web', 7]]));
    await expect(seriesOf([basic, advanced], 'missing')).rejects.toThrow('metric missing is not registered');
  });
});
