import { describe, expect, it } from 'vitest';

import { parseSeries, podSeriesCount, select } from '../src/index.js';

const TEXT = [
  '# HELP networkobservability_adv_forward_count forwarded packets',
  '# TYPE networkobservability_adv_forward_count gauge',
  'networkobservability_adv_forward_count{direction="EGRESS",source_podname="web-1",destination_podname="db-1"} 4',
  'networkobservability_adv_forward_count{direction="INGRESS",source_podname="db-1",destination_podname="web-1"} 2',
  'networkobservability_adv_forward_count{direction="EGRESS",source_podname="web-2",destination_podname="cart-1"} 1',
  'networkobservability_drop_count{reason="quoted \\"x\\""} 3',
  'up 1',
  '',
].join('\n');

describe('exposition', () => {
  it('parses series with their labels, skipping comments and blank lines', () => {
    const series = parseSeries(TEXT);
    expect(series).toHaveLength(5);
    expect(series[0]).toEqual({
      name: 'networkobservability_adv_forward_count',
      labels: { direction: 'EGRESS', source_podname: 'web-1', destination_podname: 'db-1' },
      value: 4,
    });
    expect(series[3]!.labels).toEqual({ reason: 'quoted \\"x\\"' });
    expect(series[4]).toEqual({ name: 'up', labels: {}, value: 1 });
  });

  it('sums and counts the series of a family whose labels include the given ones', () => {
    const series = parseSeries(TEXT);
    const forward = 'networkobservability_adv_forward_count';
    expect(select(series, forward, {})).toEqual({ sum: 7, count: 3 });
    expect(select(series, forward, { direction: 'EGRESS' })).toEqual({ sum: 5, count: 2 });
    expect(select(series, forward, { direction: 'EGRESS', source_podname: 'db-1' })).toEqual({
      sum: 0,
      count: 0,
    });
    expect(select(series, 'up', { direction: 'EGRESS' })).toEqual({ sum: 0, count: 0 });
  });

  it("counts a pod's series at either end", () => {
    const series = parseSeries(TEXT);
    const forward = 'networkobservability_adv_forward_count';
    expect(podSeriesCount(series, forward, 'db-1')).toBe(2);
    expect(podSeriesCount(series, forward, 'cart-1')).toBe(1);
    expect(podSeriesCount(series, forward, 'gone-1')).toBe(0);
  });
});
