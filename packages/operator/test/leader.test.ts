/**
 * Leader election against the API server double: the Lease is a real coordination.k8s.io object, written with
 * the official client, so the optimistic concurrency on resourceVersion is the server's.
 */
import type { V1Lease } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { KubeObject } from '@retina-ts/k8s-apiserver-double';
import { useApiServerDouble } from './api-double.js';
import { createLogger } from '@retina-ts/core';
import { kubeLeaseClient, LeaderElector, LeaseConflictError, type LeaseClient } from '../src/index.js';

const logger = createLogger({ level: 'silent' });
let client: LeaseClient;
let nsCounter = 0;
type LeaseObj = KubeObject & { spec?: V1Lease['spec'] };

const cluster = useApiServerDouble({ prefix: 'operator-leader', insecureSkipTlsVerify: true });
beforeAll(() => {
  client = kubeLeaseClient(cluster.kc);
});


/** A namespace of its own per test, so leases do not carry over. */
const freshNamespace = () => `lease-${++nsCounter}`;
const lease = (ns: string) => cluster.api.get<LeaseObj>('leases', ns, '16937e39.retina.sh');

describe('leader election', () => {
  it('one candidate leads; the other takes over once the lease expires', async () => {
    const ns = freshNamespace();
    let now = new Date('2024-01-01T00:00:00Z');
    const make = (identity: string) => new LeaderElector({ client, namespace: ns, identity, logger, now: () => now });
    const a = make('a');
    const b = make('b');
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(lease(ns).spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });

    now = new Date('2024-01-01T00:00:10Z');
    expect(await a.tryAcquireOrRenew()).toBe(true); // renewal
    expect(new Date(lease(ns).spec!.renewTime!).toISOString()).toBe('2024-01-01T00:00:10.000Z');
    now = new Date('2024-01-01T00:00:20Z');
    expect(await b.tryAcquireOrRenew()).toBe(false); // renewed 10 s ago: still held
    now = new Date('2024-01-01T00:00:26Z');
    expect(await b.tryAcquireOrRenew()).toBe(true); // expired
    expect(lease(ns).spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    expect(await a.tryAcquireOrRenew()).toBe(false);
  });

  it('reports a stale write as a conflict', async () => {
    const ns = freshNamespace();
    const created = await client.create(ns, { metadata: { name: 'x', namespace: ns }, spec: { holderIdentity: 'a' } });
    await client.replace(ns, { ...created, spec: { holderIdentity: 'b' } });
    await expect(client.replace(ns, { ...created, spec: { holderIdentity: 'c' } })).rejects.toBeInstanceOf(LeaseConflictError);
    await expect(client.create(ns, { metadata: { name: 'x', namespace: ns } })).rejects.toBeInstanceOf(LeaseConflictError);
    expect(await client.get(ns, 'absent')).toBeUndefined();
  });

  it('two candidates racing for a free lease cannot both win', async () => {
    const ns = freshNamespace();
    const now = () => new Date('2024-01-01T00:00:00Z');
    await client.create(ns, { metadata: { name: '16937e39.retina.sh', namespace: ns }, spec: { holderIdentity: '', leaseDurationSeconds: 15 } });
    const results = await Promise.all(
      ['a', 'b', 'c'].map((id) => new LeaderElector({ client, namespace: ns, identity: id, logger, now }).tryAcquireOrRenew()),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(['a', 'b', 'c'][results.indexOf(true)]).toBe(lease(ns).spec!.holderIdentity);
  });

  it('a leader that cannot renew steps down after the renew deadline', async () => {
    const ns = freshNamespace();
    let now = new Date('2024-01-01T00:00:00Z');
    const a = new LeaderElector({ client, namespace: ns, identity: 'a', logger, now: () => now, retryPeriodMs: 5, renewDeadlineMs: 10_000 });
    let onLost!: () => void;
    const lost = new Promise<void>((r) => (onLost = r));
    await new Promise<void>((leading) => a.run(leading, onLost));
    expect(a.isLeader).toBe(true);
    // Another holder takes the lease over behind a's back; a's renewals fail until the deadline passes.
    cluster.api.modify<LeaseObj>('leases', ns, '16937e39.retina.sh', (l) => {
      l.spec = { ...l.spec, holderIdentity: 'intruder', renewTime: new Date('2024-01-01T00:01:00Z') };
    });
    now = new Date('2024-01-01T00:00:11Z');
    await lost;
    expect(a.isLeader).toBe(false);
    await a.stop();
    expect(lease(ns).spec!.holderIdentity).toBe('intruder');
  });

  it('stop releases the lease for the next leader', async () => {
    const ns = freshNamespace();
    const now = () => new Date('2024-01-01T00:00:00Z');
    const a = new LeaderElector({ client, namespace: ns, identity: 'a', logger, now, retryPeriodMs: 5 });
    await new Promise<void>((r) => a.run(r, () => {}));
    expect(a.isLeader).toBe(true);
    await a.stop();
    expect(lease(ns).spec!.holderIdentity).toBe('');
    const b = new LeaderElector({ client, namespace: ns, identity: 'b', logger, now });
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });
});
