/** The series cap and TTL of hubble_* families: a flood of distinct names cannot grow the registry without bound. */
import { describe, expect, it } from 'vitest';
import { HUBBLE_METRIC_NAMES } from '../src/index.js';
import type { HubbleMetrics } from '../src/index.js';
import { dnsRequestFlow, hubbleMetricsFor, pbFlow } from './helpers.js';

const dnsQuery = (name: string) => pbFlow(dnsRequestFlow(0, name));

async function lines(m: HubbleMetrics, prefix: string): Promise<string[]> {
  const { body } = await m.expose();
  return body.split('\n').filter((l) => l.startsWith(prefix));
}

describe('hubble_* series cap', () => {
  it('folds names beyond the cap into query="other" and counts the folds', async () => {
    const m = hubbleMetricsFor(['dns:query;sourceContext=pod'], { maxSeriesPerMetric: 50, seriesTtlMs: 60_000, now: () => 0 });
    for (let i = 0; i < 5000; i++) m.process(dnsQuery(`n${i}.example.com.`));
    const queries = await lines(m, `${HUBBLE_METRIC_NAMES.dnsQueries}{`);
    expect(queries).toHaveLength(51); // 50 kept names and one folded series
    const other = queries.find((l) => l.includes('query="other"'));
    expect(other).toContain('source="other"');
    expect(other).toContain('rcode=""'); // fixed labels keep their values
    expect(other?.endsWith(' 4950')).toBe(true);
    expect(
      await lines(m, `${HUBBLE_METRIC_NAMES.folded}{metric="${HUBBLE_METRIC_NAMES.dnsQueries}"}`),
    ).toEqual([`${HUBBLE_METRIC_NAMES.folded}{metric="${HUBBLE_METRIC_NAMES.dnsQueries}"} 4950`]);
    // A kept name is still counted under its own series.
    m.process(dnsQuery('n3.example.com.'));
    expect(
      (await lines(m, HUBBLE_METRIC_NAMES.dnsQueries)).find((l) => l.includes('query="n3.example.com."')),
    ).toMatch(/ 2$/);
    m.close();
  });

  it('removes idle series after the TTL, making room for new names', async () => {
    let now = 0;
    const m = hubbleMetricsFor(['dns:query'], { maxSeriesPerMetric: 10, seriesTtlMs: 1000, now: () => now });
    for (let i = 0; i < 10; i++) m.process(dnsQuery(`old${i}.`));
    now = 500;
    m.process(dnsQuery('old0.'));
    now = 1200;
    expect(m.expire()).toBe(9);
    for (let i = 0; i < 5; i++) m.process(dnsQuery(`new${i}.`));
    const queries = await lines(m, `${HUBBLE_METRIC_NAMES.dnsQueries}{`);
    expect(queries.some((l) => l.includes('query="old1."'))).toBe(false);
    expect(queries.some((l) => l.includes('query="old0."'))).toBe(true);
    expect(queries.filter((l) => l.includes('query="new'))).toHaveLength(5);
    expect(queries.some((l) => l.includes('"other"'))).toBe(false);
    expect(await lines(m, `${HUBBLE_METRIC_NAMES.expired}{`)).toEqual([
      `${HUBBLE_METRIC_NAMES.expired}{metric="${HUBBLE_METRIC_NAMES.dnsQueries}"} 9`,
    ]);
    m.close();
  });

  it('caps every family by default, so twice the cap in names holds at most the cap', () => {
    const m = hubbleMetricsFor(['dns:query', 'flow:sourceContext=dns']);
    for (let i = 0; i < 20_000; i++) m.process(dnsQuery(`q${i}.example.`));
    for (const n of m.seriesCounts) expect(n).toBeLessThanOrEqual(10_000 + 1);
    m.close();
  });
});

describe('hubble_* exposition', () => {
  // Names prom-client must escape, kept and folded series, an expired one, and the small counters.
  async function exercised(openMetrics: boolean): Promise<HubbleMetrics> {
    let now = 0;
    const m = hubbleMetricsFor(['dns:query;sourceContext=pod', 'flow:sourceContext=pod'], {
      openMetrics,
      maxSeriesPerMetric: 8,
      seriesTtlMs: 1000,
      now: () => now,
    });
    for (const q of ['x1.', 'x2.', 'x3.', 'x4.']) m.process(dnsQuery(q));
    await m.expose();
    now = 600;
    // The cap is reached with the fourth of these; y1. is folded into the `other` series.
    for (const q of ['plain.', 'quo"te.', 'back\\slash.', 'new\nline.', 'y1.', 'plain.']) m.process(dnsQuery(q));
    now = 1200;
    expect(m.expire()).toBe(4);
    m.process(dnsQuery('late.'));
    m.lost('hubble_ring_buffer', 3);
    return m;
  }

  for (const openMetrics of [false, true]) {
    it(`writes exactly what prom-client's registry writes (${openMetrics ? 'OpenMetrics' : 'Prometheus text'})`, async () => {
      const m = await exercised(openMetrics);
      const fast = (await m.expose()).body;
      const reference = await m.registry.metrics();
      expect(fast).toBe(reference);
      expect(fast).toContain('query="quo\\"te."');
      expect(fast).toContain('query="back\\\\slash."');
      expect(fast).toContain('query="new\\nline."');
      expect(fast).toContain('query="other"');
      // Counting after a scrape shows up in the next one, and still agrees.
      m.process(dnsQuery('late.'));
      const again = (await m.expose()).body;
      expect(again).toBe(await m.registry.metrics());
      expect(again).not.toBe(fast);
      m.close();
    });
  }
});
