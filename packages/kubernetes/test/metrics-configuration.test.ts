import { describe, expect, it } from 'vitest';
import { parseMetricsConfiguration, selectMetricsConfiguration, type MetricsConfigurationInfo } from '../src/index.js';

const valid = {
  metadata: { name: 'mc', creationTimestamp: '2026-01-01T00:00:00Z' },
  spec: {
    contextOptions: [
      { metricName: 'forward_count', sourceLabels: ['ip', 'podname', 'ip'], destinationLabels: ['workload'], additionalLabels: ['is_reply'], ttl: '1m30s' },
      { metricName: 'dns_request_count' },
    ],
    namespaces: { exclude: ['kube-system'] },
  },
  status: { state: 'Accepted' },
};

describe('parseMetricsConfiguration', () => {
  it('reads a valid resource', () => {
    const r = parseMetricsConfiguration(valid);
    expect(r).toEqual({
      ok: true,
      value: {
        name: 'mc',
        state: 'Accepted',
        createdMs: Date.parse('2026-01-01T00:00:00Z'),
        spec: {
          contextOptions: [
            { metricName: 'forward_count', sourceLabels: ['ip', 'podname'], destinationLabels: ['workload'], additionalLabels: ['is_reply'], ttlMs: 90_000 },
            { metricName: 'dns_request_count', sourceLabels: [], destinationLabels: [], additionalLabels: [], ttlMs: 0 },
          ],
          namespaces: { exclude: ['kube-system'] },
        },
      },
    });
  });

  it('names the field and what is allowed when invalid', () => {
    const bad = (spec: unknown) => parseMetricsConfiguration({ metadata: { name: 'x' }, spec });
    expect(bad({ contextOptions: [], namespaces: { include: [] } })).toMatchObject({ ok: false, error: expect.stringContaining('spec.contextOptions: contextOptions must not be empty') });
    expect(bad({ contextOptions: [{ metricName: 'bogus' }], namespaces: { include: [] } })).toMatchObject({
      ok: false,
      error: expect.stringMatching(/spec\.contextOptions\.0\.metricName: "bogus" is not an advanced metric/),
    });
    expect(bad({ contextOptions: [{ metricName: 'drop_count', ttl: '-1s' }], namespaces: { include: [] } })).toMatchObject({
      ok: false,
      error: expect.stringContaining('ttl: "-1s"'),
    });
    expect(bad({ contextOptions: [{ metricName: 'drop_count' }], namespaces: { include: ['a'], exclude: ['b'] } })).toMatchObject({
      ok: false,
      error: 'MetricsConfiguration "x": spec.namespaces: set exactly one of include and exclude',
    });
    expect(bad({ contextOptions: [{ metricName: 'drop_count' }], namespaces: {} })).toMatchObject({ ok: false });
  });

  it('defaults the state to Initialized', () => {
    const { status: _s, ...noStatus } = valid;
    const r = parseMetricsConfiguration(noStatus);
    expect(r.ok && r.value.state).toBe('Initialized');
  });
});

describe('selectMetricsConfiguration', () => {
  const info = (name: string, state: string, createdMs: number): MetricsConfigurationInfo => ({
    name,
    state,
    createdMs,
    spec: { contextOptions: [], namespaces: { include: [] } },
  });

  it('picks the oldest accepted one, or the oldest valid one when acceptance is not required', () => {
    const all = [info('b', 'Accepted', 2), info('a', 'Initialized', 1), info('c', 'Accepted', 2)];
    expect(selectMetricsConfiguration(all)?.name).toBe('b');
    expect(selectMetricsConfiguration(all, { requireAccepted: false })?.name).toBe('a');
    expect(selectMetricsConfiguration([info('x', 'Errored', 0)])).toBeUndefined();
  });
});
