import { describe, expect, it } from 'vitest';
import { InMemoryIpCache } from '@retina-ts/core';
import { PodIndex, WorkloadResolver, type PodChange, type PodInfo } from '../src/index.js';

const info = (name: string, ips: string[], extra: Partial<PodInfo> = {}): PodInfo => ({
  namespace: 'ns',
  name,
  uid: `uid-${name}`,
  ips,
  labels: {},
  createdMs: 0,
  observed: false,
  ...extra,
});

describe('PodIndex', () => {
  it('writes pods to the cache and reports only real changes', () => {
    const cache = new InMemoryIpCache();
    const changes: PodChange[] = [];
    const idx = new PodIndex({ ipCache: cache, onChange: (c) => changes.push(c) });
    idx.upsert(info('a', ['10.0.0.1'], { labels: { x: '1' }, owner: { kind: 'StatefulSet', name: 's' } }));
    idx.upsert(info('a', ['10.0.0.1'], { labels: { x: '1' }, owner: { kind: 'StatefulSet', name: 's' } }));
    expect(changes).toHaveLength(1);
    expect(cache.lookup('10.0.0.1')).toMatchObject({ name: 'a', labels: { x: '1' }, workload: { kind: 'StatefulSet', name: 's' } });
    idx.upsert(info('a', ['10.0.0.1'], { inactive: 'terminal' }));
    expect(cache.lookup('10.0.0.1')).toBeUndefined();
    expect(changes.at(-1)).toMatchObject({ type: 'delete', name: 'a' });
  });

  it('gives pods of one list an order by creation time, then events by arrival', () => {
    const cache = new InMemoryIpCache();
    const idx = new PodIndex({ ipCache: cache });
    idx.beginList();
    idx.upsert(info('newer', ['10.0.0.2'], { createdMs: 2000 }));
    idx.upsert(info('older', ['10.0.0.2'], { createdMs: 1000 }));
    idx.endList();
    expect(cache.lookup('10.0.0.2')?.name).toBe('newer');
    idx.upsert(info('latest', ['10.0.0.2'], { createdMs: 500 }));
    expect(cache.lookup('10.0.0.2')?.name).toBe('latest');
    idx.delete('ns', 'latest');
    expect(cache.lookup('10.0.0.2')?.name).toBe('newer');
    idx.delete('ns', 'newer');
    expect(cache.lookup('10.0.0.2')?.name).toBe('older');
  });

  it('writes the guessed Deployment at once and the looked-up workload when it arrives', async () => {
    const cache = new InMemoryIpCache();
    let answer!: (v: { kind: string; name: string }[]) => void;
    const resolver = new WorkloadResolver({ lookup: () => new Promise((r) => (answer = r)) });
    const idx = new PodIndex({ ipCache: cache, resolver });
    idx.upsert(info('web-abc-1', ['10.0.0.3'], { owner: { kind: 'ReplicaSet', name: 'web-abc' }, podTemplateHash: 'abc' }));
    expect(cache.lookup('10.0.0.3')?.workload).toEqual({ kind: 'Deployment', name: 'web' });
    await new Promise((r) => setImmediate(r)); // the lookup starts once a concurrency slot is granted
    answer([{ kind: 'Deployment', name: 'web-renamed' }]);
    await new Promise((r) => setImmediate(r));
    expect(cache.lookup('10.0.0.3')?.workload).toEqual({ kind: 'Deployment', name: 'web-renamed' });
  });

  it('names the node of RetinaEndpoint pods from the node IP, and lists observed pod IPs', () => {
    const cache = new InMemoryIpCache();
    const idx = new PodIndex({
      ipCache: cache,
      nodeNameForIp: (ip) => (cache.lookup(ip)?.kind === 'node' ? cache.lookup(ip)!.name : undefined),
    });
    idx.upsert(info('p', ['10.0.0.4'], { nodeIp: '192.168.0.4', observed: true }));
    expect(cache.lookup('10.0.0.4')?.nodeName).toBeUndefined();
    cache.upsertNode({ name: 'node-d', ips: ['192.168.0.4'], zone: 'z' });
    idx.refreshAll();
    expect(cache.lookup('10.0.0.4')).toMatchObject({ nodeName: 'node-d', zone: 'z' });
    expect(idx.observedPodIps()).toEqual(['10.0.0.4']);
  });
});
