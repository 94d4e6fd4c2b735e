/**
 * MetricsConfiguration acceptance against the API server double: validation naming the offending field, one
 * accepted configuration per cluster, re-validation on change, hand-over when the accepted one is deleted, and the
 * accepted one keeping its slot across an operator restart.
 */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '@retina-ts/k8s-apiserver-double';
import { useApiServerDouble, useController } from './api-double.js';
import { MetricsConfigurationController, validateMetricsConfiguration, type MetricsConfigurationObject } from '../src/index.js';

const spec = (over: Record<string, unknown> = {}) => ({
  contextOptions: [{ metricName: 'forward_count', sourceLabels: ['ip', 'podname'], destinationLabels: ['ip'], ttl: '5m' }],
  namespaces: { exclude: ['kube-system'] },
  ...over,
});
// Objects as the API sends them (timestamps are strings on the wire).
const mc = (name: string, s: unknown = spec(), created?: string) =>
  ({
    metadata: { name, ...(created ? { creationTimestamp: created } : {}) },
    spec: s,
  }) as unknown as MetricsConfigurationObject & KubeObject;
const problem = (s: unknown) => {
  const v = validateMetricsConfiguration(mc('x', s));
  return v.ok ? undefined : `${v.field}: ${v.message}`;
};

describe('validateMetricsConfiguration', () => {
  it("accepts Retina's sample configuration, reporting labels the agents ignore", () => {
    const v = validateMetricsConfiguration(
      mc('metricsconfigcrd', {
        contextOptions: [
          { metricName: 'drop_count', sourceLabels: ['ip', 'pod', 'port'], additionalLabels: ['direction'] },
          { metricName: 'forward_count', sourceLabels: ['ip', 'pod', 'port'], additionalLabels: ['direction'] },
        ],
        namespaces: { exclude: ['kube-system'] },
      }),
    );
    expect(v).toEqual({ ok: true, ignoredLabels: ['spec.contextOptions[0].sourceLabels[1]=pod', 'spec.contextOptions[1].sourceLabels[1]=pod'] });
  });

  it('names the offending field', () => {
    expect(problem(null)).toBe('spec: is required');
    expect(problem({ namespaces: { include: ['a'] } })).toMatch(/^spec\.contextOptions: /);
    expect(problem(spec({ contextOptions: [] }))).toMatch(/^spec\.contextOptions: is empty/);
    expect(problem(spec({ contextOptions: [{ metricName: 'bogus' }] }))).toMatch(/^spec\.contextOptions\[0\]\.metricName: "bogus" is not an advanced metric/);
    expect(problem(spec({ contextOptions: [{ metricName: 'drop_count' }, { metricName: 'drop_count' }] }))).toMatch(
      /^spec\.contextOptions\[1\]\.metricName: "drop_count" is configured twice/,
    );
    expect(problem(spec({ contextOptions: [{ metricName: 'drop_count', sourceLabels: ['ip', 'bad label'] }] }))).toMatch(
      /^spec\.contextOptions\[0\]\.sourceLabels\[1\]: "bad label" is not a label name/,
    );
    expect(problem(spec({ contextOptions: [{ metricName: 'drop_count', ttl: 'soon' }] }))).toBe('spec.contextOptions[0].ttl: "soon" is not a duration (e.g. 30s, 5m, 1h)');
    expect(problem(spec({ contextOptions: [{ metricName: 'drop_count', ttl: '-1m' }] }))).toBe('spec.contextOptions[0].ttl: "-1m" is negative');
    expect(problem(spec({ contextOptions: [{ metricName: 'drop_count', sourceLabels: 'ip' }] }))).toMatch(/^spec\.contextOptions\.0\.sourceLabels: /);
    expect(problem(spec({ namespaces: {} }))).toBe('spec.namespaces: set one of include and exclude');
    expect(problem(spec({ namespaces: { include: ['a'], exclude: ['b'] } }))).toBe('spec.namespaces: set only one of include and exclude, not both');
    expect(problem(spec({ namespaces: { include: ['Not_A_Namespace'] } }))).toBe('spec.namespaces.include[0]: "Not_A_Namespace" is not a namespace name');
    expect(problem(spec({ namespaces: { include: Array.from({ length: 300 }, (_, i) => `n${i}`) } }))).toMatch(/at most 256/);
    expect(validateMetricsConfiguration({ metadata: {}, spec: spec() })).toEqual({ ok: false, field: 'metadata.name', message: 'is empty' });
  });
});

describe('MetricsConfigurationController', () => {
  const cluster = useApiServerDouble({ prefix: 'operator-mc', each: true });
  type Obj = KubeObject & { status?: { state?: string; reason?: string } };
  const status = (name: string) => cluster.api.get<Obj>('metricsconfigurations', undefined, name).status;
  const waitState = (name: string, state: string) =>
    cluster.api.waitFor(() => status(name)?.state === state, `${name} ${state} (now ${JSON.stringify(status(name))})`);
  const { start } = useController(cluster, (kc, options) => new MetricsConfigurationController(kc, options));

  it('accepts one configuration, refuses the next, re-validates on change and hands over on deletion', async () => {
    cluster.api.create('metricsconfigurations', mc('first', spec(), '2026-01-01T00:00:00Z'));
    cluster.api.create('metricsconfigurations', mc('second', spec(), '2026-01-02T00:00:00Z'));
    const controller = await start();
    await waitState('first', 'Accepted');
    expect(status('first')?.reason).toBe('CRD is Accepted');
    await waitState('second', 'Errored');
    expect(status('second')?.reason).toMatch(/already configured on this cluster \(first\)/);

    // An edit that breaks the accepted one is reported; it keeps the slot, and fixing it accepts it again.
    cluster.api.modify<Obj & { spec: ReturnType<typeof spec> }>('metricsconfigurations', undefined, 'first', (o) => {
      o.spec.contextOptions[0]!.metricName = 'nope';
    });
    await waitState('first', 'Errored');
    expect(status('first')?.reason).toMatch(/^Validation of CRD failed with: spec\.contextOptions\[0\]\.metricName: "nope"/);
    expect(status('second')?.reason).toMatch(/already configured/);
    cluster.api.modify<Obj & { spec: ReturnType<typeof spec> }>('metricsconfigurations', undefined, 'first', (o) => {
      o.spec.contextOptions[0]!.metricName = 'drop_count';
    });
    await waitState('first', 'Accepted');

    cluster.api.delete('metricsconfigurations', undefined, 'first');
    await waitState('second', 'Accepted');
    expect(controller.holder).toBe('second');
  });

  it('an invalid configuration does not take the slot; status is written only when it changes', async () => {
    cluster.api.create('metricsconfigurations', mc('broken', spec({ namespaces: {} }), '2026-01-01T00:00:00Z'));
    cluster.api.create('metricsconfigurations', mc('good', spec(), '2026-01-02T00:00:00Z'));
    const controller = await start();
    await waitState('broken', 'Errored');
    await waitState('good', 'Accepted');
    expect(status('broken')?.reason).toBe('Validation of CRD failed with: spec.namespaces: set one of include and exclude');
    await controller.queue.idle();
    const writes = cluster.api.requests({ resource: 'metricsconfigurations.retina.sh', verb: 'patch' }).length;
    expect(writes).toBe(2);
    cluster.api.modify<Obj>('metricsconfigurations', undefined, 'good', (o) => {
      o.metadata.labels = { touched: 'yes' };
    });
    await cluster.api.waitFor(() => cluster.api.requests({ resource: 'metricsconfigurations.retina.sh', verb: 'get' }).some((r) => r.path.endsWith('/good')));
    await controller.queue.idle();
    expect(cluster.api.requests({ resource: 'metricsconfigurations.retina.sh', verb: 'patch' }).length).toBe(2);
  });

  it('the accepted configuration keeps its slot across a restart, even when a newer one arrived meanwhile', async () => {
    cluster.api.create('metricsconfigurations', mc('older-unaccepted', spec(), '2026-01-01T00:00:00Z'));
    cluster.api.create('metricsconfigurations', { ...mc('accepted', spec(), '2026-01-02T00:00:00Z'), status: { state: 'Accepted', reason: 'CRD is Accepted' } });
    const controller = await start();
    await waitState('older-unaccepted', 'Errored');
    expect(status('accepted')?.state).toBe('Accepted');
    expect(controller.holder).toBe('accepted');
  });
});
