import { describe, expect, it } from 'vitest';
import { InMemoryIpCache } from '../src/index.js';

describe('InMemoryIpCache', () => {
  it('looks up pods, services and nodes', () => {
    const cache = new InMemoryIpCache();
    cache.upsertPod({
      namespace: 'shop',
      name: 'web-1',
      ips: ['10.1.0.5', 'FD00:1::5'],
      labels: { app: 'web' },
      workload: { kind: 'ReplicaSet', name: 'web-7d9f' },
      nodeName: 'node-a',
    });
    cache.upsertService({ namespace: 'shop', name: 'web', ips: ['10.96.0.10'] });
    cache.upsertNode({ name: 'node-a', ips: ['192.168.0.2'], zone: 'eu-1a' });
    expect(cache.lookup('10.1.0.5')).toEqual({
      kind: 'pod',
      name: 'web-1',
      namespace: 'shop',
      labels: { app: 'web' },
      workload: { kind: 'ReplicaSet', name: 'web-7d9f' },
      nodeName: 'node-a',
      zone: 'eu-1a',
    });
    expect(cache.lookup('fd00:1::5')?.name).toBe('web-1');
    expect(cache.lookup('10.96.0.10')).toEqual({ kind: 'service', name: 'web', namespace: 'shop' });
    expect(cache.lookup('192.168.0.2')).toEqual({ kind: 'node', name: 'node-a', zone: 'eu-1a' });
    expect(cache.lookup('10.9.9.9')).toBeUndefined();
    expect(cache.size).toBe(4);
  });

  it('IP reuse: the newer pod owns the IP, and deleting the stale pod does not evict it', () => {
    const cache = new InMemoryIpCache();
    cache.upsertPod({ namespace: 'a', name: 'old', ips: ['10.1.0.7'] });
    cache.upsertPod({ namespace: 'b', name: 'new', ips: ['10.1.0.7'] });
    expect(cache.lookup('10.1.0.7')?.name).toBe('new');
    expect(cache.deletePod('a', 'old')).toBe(true);
    expect(cache.lookup('10.1.0.7')?.name).toBe('new');
    expect(cache.size).toBe(1);
    expect(cache.deletePod('b', 'new')).toBe(true);
    expect(cache.lookup('10.1.0.7')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('releases IPs a pod no longer has', () => {
    const cache = new InMemoryIpCache();
    cache.upsertPod({ namespace: 'a', name: 'p', ips: ['10.1.0.1', '10.1.0.2'] });
    cache.upsertPod({ namespace: 'a', name: 'p', ips: ['10.1.0.2'] });
    expect(cache.lookup('10.1.0.1')).toBeUndefined();
    expect(cache.lookup('10.1.0.2')?.name).toBe('p');
    expect(cache.size).toBe(1);
  });

  it('prefers pod over service over node for a shared IP', () => {
    const cache = new InMemoryIpCache();
    cache.upsertNode({ name: 'n', ips: ['10.0.0.1'] });
    expect(cache.lookup('10.0.0.1')?.kind).toBe('node');
    cache.upsertPod({ namespace: 'kube-system', name: 'hostnet', ips: ['10.0.0.1'] });
    expect(cache.lookup('10.0.0.1')?.kind).toBe('pod');
    cache.deletePod('kube-system', 'hostnet');
    expect(cache.lookup('10.0.0.1')?.kind).toBe('node');
    expect(cache.size).toBe(1);
  });

  it('gives pods the zone of their node, also when the node arrives later or changes', () => {
    const cache = new InMemoryIpCache();
    cache.upsertPod({ namespace: 'a', name: 'p', ips: ['10.1.0.1'], nodeName: 'n1' });
    cache.upsertPod({ namespace: 'a', name: 'q', ips: ['10.1.0.2'], nodeName: 'n1', zone: 'explicit' });
    expect(cache.lookup('10.1.0.1')?.zone).toBeUndefined();
    cache.upsertNode({ name: 'n1', ips: ['192.168.0.1'], zone: 'z1' });
    expect(cache.lookup('10.1.0.1')?.zone).toBe('z1');
    expect(cache.lookup('10.1.0.2')?.zone).toBe('explicit');
    cache.upsertNode({ name: 'n1', ips: ['192.168.0.1'], zone: 'z2' });
    expect(cache.lookup('10.1.0.1')?.zone).toBe('z2');
    cache.deleteNode('n1');
    expect(cache.lookup('10.1.0.1')?.zone).toBeUndefined();
  });

  it('returns frozen records and copies input', () => {
    const cache = new InMemoryIpCache();
    const labels = { app: 'x' };
    cache.upsertPod({ namespace: 'a', name: 'p', ips: ['10.1.0.1'], labels });
    labels.app = 'changed';
    const info = cache.lookup('10.1.0.1');
    expect(info?.labels).toEqual({ app: 'x' });
    expect(Object.isFrozen(info)).toBe(true);
  });

  it('deleting unknown owners is a no-op', () => {
    const cache = new InMemoryIpCache();
    expect(cache.deletePod('a', 'b')).toBe(false);
    expect(cache.deleteService('a', 'b')).toBe(false);
    expect(cache.deleteNode('n')).toBe(false);
  });
});

describe('InMemoryIpCache.podIps', () => {
  it('lists pod IPs, optionally filtered, and follows IP reuse and deletes', () => {
    const cache = new InMemoryIpCache();
    cache.upsertPod({ name: 'a', namespace: 'ns', ips: ['10.1.0.1'], nodeName: 'n1' });
    cache.upsertPod({ name: 'b', namespace: 'ns', ips: ['10.1.0.2', 'fd00::2'], nodeName: 'n2' });
    cache.upsertService({ name: 's', namespace: 'ns', ips: ['10.96.0.1'] });
    expect(cache.podIps().sort()).toEqual(['10.1.0.1', '10.1.0.2', 'fd00::2']);
    expect(cache.podIps((p) => p.nodeName === 'n1')).toEqual(['10.1.0.1']);
    cache.upsertPod({ name: 'c', namespace: 'ns', ips: ['10.1.0.1'], nodeName: 'n2' });
    expect(cache.podIps((p) => p.nodeName === 'n1')).toEqual([]);
    cache.deletePod('ns', 'b');
    expect(cache.podIps().sort()).toEqual(['10.1.0.1']);
  });
});
