import type { V1Lease } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@retina-ts/core';
import { LeaderElector, LeaseConflictError, type LeaseClient } from '../src/index.js';

/** An in-memory Lease store with the API server's optimistic concurrency on resourceVersion. */
function leaseStore(): LeaseClient & { lease?: V1Lease } {
  let rv = 0;
  const store: LeaseClient & { lease?: V1Lease } = {
    async get() {
      return store.lease ? structuredClone(store.lease) : undefined;
    },
    async create(_ns, lease) {
      if (store.lease) throw new LeaseConflictError('exists');
      store.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++rv) } };
      return structuredClone(store.lease);
    },
    async replace(_ns, lease) {
      if (lease.metadata?.resourceVersion !== store.lease?.metadata?.resourceVersion) throw new LeaseConflictError('stale');
      store.lease = { ...structuredClone(lease), metadata: { ...lease.metadata, resourceVersion: String(++rv) } };
      return structuredClone(store.lease);
    },
  };
  return store;
}

const logger = createLogger({ level: 'silent' });

describe('leader election', () => {
  it('one candidate leads; the other takes over once the lease expires or is released', async () => {
    const client = leaseStore();
    let now = new Date('2024-01-01T00:00:00Z');
    const make = (identity: string) => new LeaderElector({ client, namespace: 'kube-system', identity, logger, now: () => now });
    const a = make('a');
    const b = make('b');
    expect(await a.tryAcquireOrRenew()).toBe(true);
    expect(await b.tryAcquireOrRenew()).toBe(false);
    expect(client.lease!.spec).toMatchObject({ holderIdentity: 'a', leaseDurationSeconds: 15, leaseTransitions: 0 });
    expect(client.lease!.metadata!.name).toBe('16937e39.retina.sh');

    now = new Date('2024-01-01T00:00:10Z');
    expect(await a.tryAcquireOrRenew()).toBe(true); // renewal
    now = new Date('2024-01-01T00:00:20Z');
    expect(await b.tryAcquireOrRenew()).toBe(false); // renewed 10 s ago: still held
    now = new Date('2024-01-01T00:00:26Z');
    expect(await b.tryAcquireOrRenew()).toBe(true); // expired
    expect(client.lease!.spec).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    expect(await a.tryAcquireOrRenew()).toBe(false);
  });

  it('two candidates racing on the same lease version cannot both win', async () => {
    const client = leaseStore();
    const now = () => new Date('2024-01-01T00:00:00Z');
    await client.create('ns', { metadata: { name: '16937e39.retina.sh' }, spec: { holderIdentity: '', leaseDurationSeconds: 15 } });
    const results = await Promise.all(
      ['a', 'b'].map((id) => new LeaderElector({ client, namespace: 'ns', identity: id, logger, now }).tryAcquireOrRenew()),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('stop releases the lease for the next leader', async () => {
    const client = leaseStore();
    const now = () => new Date('2024-01-01T00:00:00Z');
    const a = new LeaderElector({ client, namespace: 'ns', identity: 'a', logger, now, retryPeriodMs: 5 });
    const leading = new Promise<void>((r) => a.run(r, () => {}));
    await leading;
    expect(a.isLeader).toBe(true);
    await a.stop();
    expect(client.lease!.spec!.holderIdentity).toBe('');
    const b = new LeaderElector({ client, namespace: 'ns', identity: 'b', logger, now });
    expect(await b.tryAcquireOrRenew()).toBe(true);
  });
});
