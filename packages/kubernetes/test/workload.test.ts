import { describe, expect, it } from 'vitest';
import { WorkloadResolver, type OwnerLookup } from '../src/index.js';

function resolverWith(table: Record<string, { kind: string; name: string }[] | undefined | Error>, now = () => 0) {
  const calls: string[] = [];
  const errors: string[] = [];
  const lookup: OwnerLookup = async (kind, ns, name) => {
    calls.push(`${kind}/${ns}/${name}`);
    const v = table[`${kind}/${ns}/${name}`];
    if (v instanceof Error) throw v;
    return v;
  };
  return { r: new WorkloadResolver({ lookup, now, onError: (e) => errors.push((e as Error).message) }), calls, errors };
}

describe('WorkloadResolver', () => {
  it('resolves ReplicaSet to Deployment and Job to CronJob, and keeps other kinds', async () => {
    const { r, calls } = resolverWith({
      'ReplicaSet/shop/web-7d9f': [{ kind: 'Deployment', name: 'web' }],
      'Job/ops/backup-1': [{ kind: 'CronJob', name: 'backup' }],
      'Job/ops/once': [],
    });
    expect(await r.resolve('shop', { kind: 'ReplicaSet', name: 'web-7d9f' })).toEqual({ kind: 'Deployment', name: 'web' });
    expect(await r.resolve('ops', { kind: 'Job', name: 'backup-1' })).toEqual({ kind: 'CronJob', name: 'backup' });
    expect(await r.resolve('ops', { kind: 'Job', name: 'once' })).toEqual({ kind: 'Job', name: 'once' });
    expect(await r.resolve('x', { kind: 'DaemonSet', name: 'ds' })).toEqual({ kind: 'DaemonSet', name: 'ds' });
    expect(calls).toHaveLength(3);
    // Cached: no second lookup, and peek knows it.
    expect(r.peek('shop', { kind: 'ReplicaSet', name: 'web-7d9f' })).toEqual({ workload: { kind: 'Deployment', name: 'web' }, final: true });
    await r.resolve('shop', { kind: 'ReplicaSet', name: 'web-7d9f' });
    expect(calls).toHaveLength(3);
  });

  it('guesses the Deployment from the pod-template-hash until the lookup answers', () => {
    const { r } = resolverWith({});
    expect(r.peek('shop', { kind: 'ReplicaSet', name: 'web-7d9f' }, '7d9f')).toEqual({
      workload: { kind: 'Deployment', name: 'web' },
      final: false,
    });
    expect(r.peek('shop', { kind: 'ReplicaSet', name: 'standalone' }, '7d9f')).toEqual({
      workload: { kind: 'ReplicaSet', name: 'standalone' },
      final: false,
    });
    expect(r.peek('shop', undefined)).toEqual({ final: true });
  });

  it('falls back to the guess when the lookup fails, and asks again after the failure TTL', async () => {
    let t = 0;
    const { r, calls, errors } = resolverWith({ 'ReplicaSet/shop/web-7d9f': new Error('forbidden') }, () => t);
    expect(await r.resolve('shop', { kind: 'ReplicaSet', name: 'web-7d9f' }, '7d9f')).toEqual({ kind: 'Deployment', name: 'web' });
    expect(errors).toEqual(['forbidden']);
    await r.resolve('shop', { kind: 'ReplicaSet', name: 'web-7d9f' }, '7d9f');
    expect(calls).toHaveLength(1);
    t = 31_000;
    await r.resolve('shop', { kind: 'ReplicaSet', name: 'web-7d9f' }, '7d9f');
    expect(calls).toHaveLength(2);
  });

  it('shares one lookup between concurrent callers', async () => {
    const { r, calls } = resolverWith({ 'ReplicaSet/a/rs': [{ kind: 'Deployment', name: 'd' }] });
    const got = await Promise.all([1, 2, 3].map(() => r.resolve('a', { kind: 'ReplicaSet', name: 'rs' })));
    expect(got).toEqual([1, 2, 3].map(() => ({ kind: 'Deployment', name: 'd' })));
    expect(calls).toHaveLength(1);
  });

  it('runs at most maxConcurrentLookups lookups at a time, and answers every one', async () => {
    let inFlight = 0;
    let peak = 0;
    const lookup: OwnerLookup = async (_kind, _ns, name) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 1));
      inFlight--;
      return [{ kind: 'Deployment', name: name.replace(/-rs$/, '') }];
    };
    const r = new WorkloadResolver({ lookup, maxConcurrentLookups: 3 });
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => r.resolve('shop', { kind: 'ReplicaSet', name: `app${i}-rs` })),
    );
    expect(answers).toEqual(Array.from({ length: 50 }, (_, i) => ({ kind: 'Deployment', name: `app${i}` })));
    expect(peak).toBe(3);
  });
});
