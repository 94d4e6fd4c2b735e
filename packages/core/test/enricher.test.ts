import { describe, expect, it } from 'vitest';
import { Enricher, InMemoryIpCache } from '../src/index.js';
import { flowBetween } from './helpers.js';

function cacheWithPods(): InMemoryIpCache {
  const cache = new InMemoryIpCache();
  cache.upsertNode({ name: 'node-a', ips: ['192.168.0.2'], zone: 'eu-1a' });
  cache.upsertPod({
    namespace: 'shop',
    name: 'web-1',
    ips: ['10.1.0.5'],
    labels: { tier: 'front', app: 'web' },
    workload: { kind: 'ReplicaSet', name: 'web-7d9f' },
    nodeName: 'node-a',
  });
  cache.upsertPod({ namespace: 'db', name: 'pg-0', ips: ['10.1.0.9'] });
  cache.upsertService({ namespace: 'shop', name: 'web', ips: ['10.96.0.10'] });
  return cache;
}

describe('Enricher', () => {
  it('fills both pod endpoints and zones', () => {
    const enricher = new Enricher(cacheWithPods());
    const out = enricher.enrich(flowBetween('10.1.0.5', '10.1.0.9'));
    expect(out.source).toEqual({
      namespace: 'shop',
      podName: 'web-1',
      labels: ['app=web', 'tier=front'],
      workloads: [{ name: 'web-7d9f', kind: 'ReplicaSet' }],
    });
    expect(out.destination).toEqual({ namespace: 'db', podName: 'pg-0' });
    expect(out.extensions).toEqual({ sourceZone: 'eu-1a', destinationZone: 'unknown' });
  });

  it('fills services and leaves node hits without an endpoint', () => {
    const enricher = new Enricher(cacheWithPods());
    const out = enricher.enrich(flowBetween('192.168.0.2', '10.96.0.10'));
    expect(out.source).toBeUndefined();
    expect(out.destination).toBeUndefined();
    expect(out.destinationService).toEqual({ name: 'web', namespace: 'shop' });
    expect(out.extensions).toEqual({ sourceZone: 'eu-1a', destinationZone: 'unknown' });
  });

  it('returns the very same object when nothing matches, and flows without IP', () => {
    const enricher = new Enricher(cacheWithPods());
    const f = flowBetween('8.8.8.8', '1.1.1.1');
    expect(enricher.enrich(f)).toBe(f);
    const noIp = { ...f, ip: undefined };
    expect(enricher.enrich(noIp)).toBe(noIp);
  });

  it('does not modify its input and keeps existing fields', () => {
    const enricher = new Enricher(cacheWithPods());
    const f = flowBetween('10.1.0.5', '8.8.8.8', { source: { identity: 42 }, extensions: { bytes: 60 } });
    const snapshot = structuredClone(f);
    const out = enricher.enrich(f);
    expect(f).toEqual(snapshot);
    expect(out.source).toMatchObject({ identity: 42, podName: 'web-1' });
    expect(out.extensions).toEqual({ bytes: 60, sourceZone: 'eu-1a', destinationZone: 'unknown' });
  });

  it('reuses endpoint objects for the same cache record and refreshes them after an update', () => {
    const cache = cacheWithPods();
    const enricher = new Enricher(cache);
    const a = enricher.enrich(flowBetween('10.1.0.9', '8.8.8.8')).source;
    const b = enricher.enrich(flowBetween('10.1.0.9', '8.8.8.8')).source;
    expect(a).toBe(b);
    cache.upsertPod({ namespace: 'db', name: 'pg-0', ips: ['10.1.0.9'], labels: { role: 'primary' } });
    expect(enricher.enrich(flowBetween('10.1.0.9', '8.8.8.8')).source?.labels).toEqual(['role=primary']);
  });

  it('enriches IPv6 flows too', () => {
    const cache = new InMemoryIpCache();
    cache.upsertPod({ namespace: 'a', name: 'p6', ips: ['fd00:10::5'] });
    const out = new Enricher(cache).enrich(flowBetween('fd00:10::5', 'fd00:10::6'));
    expect(out.source?.podName).toBe('p6');
  });
});
