/**
 * The real @kubernetes/client-node informers against the API server double: the IP cache converges through
 * creates, relabels, deletes, IP reuse, 410 Gone, dropped connections, bookmarks and an API server that is down
 * at start; the enricher labels flows with what the watchers put in the cache.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMetricsModule, Enricher, InMemoryIpCache } from '@retina-ts/core';
import { startApiServerDouble } from '@retina-ts/k8s-apiserver-double';
import { startKubernetes, type KubernetesHandle, type StartKubernetesOptions } from '../src/index.js';
import { agentConfig, captureLogger, eventually, FAST_BACKOFF, flowBetween, pod, replicaSet, startDoubleEnv, type DoubleEnv } from './helpers.js';

describe('Kubernetes watchers against the API server double', () => {
  let env: DoubleEnv;
  let cache: InMemoryIpCache;
  let handle: KubernetesHandle | undefined;

  beforeEach(async () => {
    env = await startDoubleEnv();
    cache = new InMemoryIpCache();
  });
  afterEach(async () => {
    await handle?.stop();
    handle = undefined;
    await env.close();
  });

  const start = (extra: Partial<StartKubernetesOptions> = {}, configOverrides: Record<string, unknown> = {}) => {
    handle = startKubernetes({
      config: agentConfig(configOverrides),
      ipCache: cache,
      logger: captureLogger().logger,
      kubeconfig: env.kubeconfig,
      backoff: FAST_BACKOFF,
      podInterfaces: false,
      // The kubeconfig's host (127.0.0.1) would otherwise sit in the cache as the API server pseudo-pod.
      apiServerPseudoPod: false,
      ...extra,
    });
    return handle;
  };

  it('fills pods with labels and the workload resolved through ReplicaSet→Deployment and Job→CronJob', async () => {
    const { api } = env;
    api.create('replicasets', replicaSet('shop', 'web-7d9f', 'web'));
    api.create('jobs', {
      metadata: { name: 'backup-2891', namespace: 'ops', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'backup', uid: 'u1', controller: true }] },
    });
    api.create('pods', pod({ name: 'web-7d9f-abcde', namespace: 'shop', ip: '10.210.0.5', labels: { app: 'web', 'pod-template-hash': '7d9f' }, owner: { kind: 'ReplicaSet', name: 'web-7d9f' } }));
    api.create('pods', pod({ name: 'backup-2891-x', namespace: 'ops', ip: '10.210.0.6', owner: { kind: 'Job', name: 'backup-2891' } }));
    api.create('pods', pod({ name: 'db-0', namespace: 'shop', ip: '10.210.0.7', owner: { kind: 'StatefulSet', name: 'db' } }));
    api.create('pods', pod({ name: 'elsewhere', ip: '10.210.0.8', node: 'node-b' }));
    api.create('pods', pod({ name: 'hostnet', ip: '192.168.50.2', hostNetwork: true }));
    api.create('pods', pod({ name: 'pending' }));
    const h = start();
    await h.ready;
    await eventually(() => {
      expect(cache.lookup('10.210.0.5')).toMatchObject({
        kind: 'pod',
        name: 'web-7d9f-abcde',
        namespace: 'shop',
        labels: { app: 'web', 'pod-template-hash': '7d9f' },
        workload: { kind: 'Deployment', name: 'web' },
        nodeName: 'node-a',
      });
      expect(cache.lookup('10.210.0.6')?.workload).toEqual({ kind: 'CronJob', name: 'backup' });
    });
    expect(cache.lookup('10.210.0.7')?.workload).toEqual({ kind: 'StatefulSet', name: 'db' });
    // Local context: only this node's pods; host-network and IP-less pods never enter the cache.
    expect(cache.lookup('10.210.0.8')).toBeUndefined();
    expect(cache.lookup('192.168.50.2')).toBeUndefined();
    expect(api.requests({ resource: 'pods', verb: 'list' })[0]!.query.fieldSelector).toBe('spec.nodeName=node-a');
    await eventually(() =>
      expect(api.requests({ resource: 'pods', verb: 'watch' })[0]?.query).toMatchObject({
        fieldSelector: 'spec.nodeName=node-a',
        allowWatchBookmarks: 'true',
        timeoutSeconds: expect.stringMatching(/^\d+$/),
      }),
    );

    const enriched = new Enricher(cache).enrich(flowBetween('10.210.0.5', '10.210.0.7'));
    expect(enriched.source).toEqual({
      namespace: 'shop',
      podName: 'web-7d9f-abcde',
      labels: ['app=web', 'pod-template-hash=7d9f'],
      workloads: [{ name: 'web', kind: 'Deployment' }],
    });
    expect(enriched.destination).toMatchObject({ podName: 'db-0', workloads: [{ name: 'db', kind: 'StatefulSet' }] });
  });

  it('follows relabels, IP changes, completion and deletion', async () => {
    const { api } = env;
    api.create('pods', pod({ name: 'a', ip: '10.210.1.1', labels: { v: '1' } }));
    const h = start();
    await h.ready;
    await eventually(() => expect(cache.lookup('10.210.1.1')?.labels).toEqual({ v: '1' }));

    api.modify('pods', 'default', 'a', (p) => {
      p.metadata.labels = { v: '2', tier: 'x' };
    });
    await eventually(() => expect(cache.lookup('10.210.1.1')?.labels).toEqual({ v: '2', tier: 'x' }));
    expect(new Enricher(cache).enrich(flowBetween('10.210.1.1', '10.210.9.9')).source?.labels).toEqual(['tier=x', 'v=2']);

    api.modify('pods', 'default', 'a', (p) => {
      (p.status as Record<string, unknown>).podIPs = [{ ip: '10.210.1.2' }, { ip: 'fd00:21::2' }];
      (p.status as Record<string, unknown>).podIP = '10.210.1.2';
    });
    await eventually(() => {
      expect(cache.lookup('10.210.1.1')).toBeUndefined();
      expect(cache.lookup('10.210.1.2')?.name).toBe('a');
      expect(cache.lookup('FD00:21::2')?.name).toBe('a');
    });

    // A finished pod's IP is free for reuse: it leaves the cache even though the object stays.
    api.modify('pods', 'default', 'a', (p) => {
      (p.status as Record<string, unknown>).phase = 'Succeeded';
    });
    await eventually(() => expect(cache.lookup('10.210.1.2')).toBeUndefined());

    api.create('pods', pod({ name: 'b', ip: '10.210.1.3' }));
    await eventually(() => expect(cache.lookup('10.210.1.3')?.name).toBe('b'));
    api.delete('pods', 'default', 'b');
    await eventually(() => expect(cache.lookup('10.210.1.3')).toBeUndefined());
    expect(cache.size).toBe(0);
  });

  it('survives IP reuse: a stale update of the old pod does not take the IP back, and its deletion leaves it', async () => {
    const { api } = env;
    api.create('pods', pod({ name: 'old', ip: '10.210.2.9', labels: { gen: 'old' } }));
    const h = start();
    await h.ready;
    await eventually(() => expect(cache.lookup('10.210.2.9')?.name).toBe('old'));

    // The old pod is terminating but still shows the IP; the network plugin already gave it to the new pod.
    api.create('pods', pod({ name: 'new', ip: '10.210.2.9', labels: { gen: 'new' } }));
    await eventually(() => expect(cache.lookup('10.210.2.9')?.name).toBe('new'));
    api.modify('pods', 'default', 'old', (p) => {
      p.metadata.deletionTimestamp = new Date().toISOString();
      p.metadata.labels = { gen: 'old', terminating: 'yes' };
    });
    api.create('pods', pod({ name: 'marker', ip: '10.210.2.10' }));
    await eventually(() => expect(cache.lookup('10.210.2.10')).toBeDefined());
    expect(cache.lookup('10.210.2.9')?.name).toBe('new');

    api.delete('pods', 'default', 'old');
    api.modify('pods', 'default', 'marker', (p) => {
      p.metadata.labels = { step: '2' };
    });
    await eventually(() => expect(cache.lookup('10.210.2.10')?.labels).toEqual({ step: '2' }));
    expect(cache.lookup('10.210.2.9')).toMatchObject({ name: 'new', labels: { gen: 'new' } });

    // When the new pod goes, the IP is free.
    api.delete('pods', 'default', 'new');
    await eventually(() => expect(cache.lookup('10.210.2.9')).toBeUndefined());
  });

  it('lists again after 410 Gone and drops what was deleted while it was away', async () => {
    const { api } = env;
    api.create('pods', pod({ name: 'stays', ip: '10.210.3.1' }));
    api.create('pods', pod({ name: 'goes', ip: '10.210.3.2' }));
    const h = start();
    await h.ready;
    await eventually(() => expect(cache.lookup('10.210.3.2')).toBeDefined());
    expect(h.status().watchers.find((w) => w.resource === 'pods')!.lists).toBe(1);

    // Take the server away, change things, compact history, and bring it back: the watch resumes from a
    // resourceVersion the server no longer has.
    await api.goOffline();
    api.delete('pods', 'default', 'goes');
    api.create('pods', pod({ name: 'came', ip: '10.210.3.3' }));
    api.modify('pods', 'default', 'stays', (p) => {
      p.metadata.labels = { changed: 'yes' };
    });
    api.compact();
    await api.goOnline();

    await eventually(() => {
      expect(cache.lookup('10.210.3.2')).toBeUndefined();
      expect(cache.lookup('10.210.3.3')?.name).toBe('came');
      expect(cache.lookup('10.210.3.1')?.labels).toEqual({ changed: 'yes' });
    });
    const pods = h.status().watchers.find((w) => w.resource === 'pods')!;
    expect(pods.lists).toBe(2);
    expect(pods.synced).toBe(true);
    // The refused watch: it asked for the old resourceVersion and got a 410 ERROR event.
    const watches = api.requests({ resource: 'pods', verb: 'watch' });
    expect(watches.some((r) => Number(r.query.resourceVersion) < api.store.compactedResourceVersion)).toBe(true);
  });

  it('lists again after a watch answered with HTTP 410', async () => {
    await env.api.close();
    const api = await startApiServerDouble({ goneAs: 'status', port: env.api.port });
    env.api = api;
    api.create('services', { metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.96.21.1', clusterIPs: ['10.96.21.1'] } });
    const h = start({ watchers: { pods: false, nodes: false, metricsconfigurations: false } });
    await h.ready;
    await eventually(() => expect(cache.lookup('10.96.21.1')?.kind).toBe('service'));
    await api.goOffline();
    api.delete('services', 'shop', 'web');
    api.create('services', { metadata: { name: 'api', namespace: 'shop' }, spec: { clusterIP: '10.96.21.2' } });
    api.compact();
    await api.goOnline();
    await eventually(() => {
      expect(cache.lookup('10.96.21.1')).toBeUndefined();
      expect(cache.lookup('10.96.21.2')).toMatchObject({ kind: 'service', name: 'api', namespace: 'shop' });
    });
    expect(api.requests({ resource: 'services', verb: 'watch' }).some((r) => r.status === 410)).toBe(true);
  });

  it('resumes a dropped watch from the last resourceVersion without listing again', async () => {
    const { api } = env;
    api.create('pods', pod({ name: 'a', ip: '10.210.4.1' }));
    const h = start();
    await h.ready;
    await eventually(() => expect(api.openWatches('pods')).toBe(1));
    const before = api.requests({ resource: 'pods', verb: 'watch' }).length;

    api.create('pods', pod({ name: 'b', ip: '10.210.4.2' }));
    await eventually(() => expect(cache.lookup('10.210.4.2')).toBeDefined());
    const rvSeen = api.store.resourceVersion;
    expect(api.closeWatches('pods', 'destroy')).toBe(1);
    await eventually(() => expect(api.requests({ resource: 'pods', verb: 'watch' }).length).toBeGreaterThan(before));
    const resumed = api.requests({ resource: 'pods', verb: 'watch' }).at(-1)!;
    expect(resumed.query.resourceVersion).toBe(String(rvSeen));

    // A cleanly ended watch (as the server's timeout) resumes the same way.
    await eventually(() => expect(api.openWatches('pods')).toBe(1));
    api.closeWatches('pods', 'end');
    api.create('pods', pod({ name: 'c', ip: '10.210.4.3' }));
    await eventually(() => expect(cache.lookup('10.210.4.3')?.name).toBe('c'));
    expect(api.requests({ resource: 'pods', verb: 'list' })).toHaveLength(1);
  });

  it('drops a silent watch and resumes it, without listing again', async () => {
    const { api } = env;
    api.create('pods', pod({ name: 'a', ip: '10.210.4.9' }));
    const h = start({ idleTimeoutMs: 200, watchers: { services: false, nodes: false, metricsconfigurations: false } });
    await h.ready;
    // Nothing happens on the server: the watchdog gives up on the connection and opens a new watch.
    await eventually(() => expect(api.requests({ resource: 'pods', verb: 'watch' }).length).toBeGreaterThanOrEqual(3));
    const watches = api.requests({ resource: 'pods', verb: 'watch' });
    expect(new Set(watches.map((r) => r.query.resourceVersion)).size).toBe(1);
    expect(api.requests({ resource: 'pods', verb: 'list' })).toHaveLength(1);
    expect(h.status().watchers[0]!.restarts).toBe(0);
  });

  it('takes the resourceVersion of bookmarks, and resumes from it', async () => {
    const { api } = env;
    const h = start({ watchers: { services: false, nodes: false, metricsconfigurations: false } });
    await h.ready;
    await eventually(() => expect(api.openWatches('pods')).toBe(1));
    // Changes to other resources move the resourceVersion; a bookmark tells the pod watcher about it.
    api.create('nodes', { metadata: { name: 'n9' } });
    api.create('services', { metadata: { name: 's', namespace: 'default' }, spec: { clusterIP: '10.96.22.1' } });
    const bookmarkRv = String(api.store.resourceVersion);
    expect(api.sendBookmarks('pods')).toBe(1);
    await eventually(() => {
      const s = h.status().watchers.find((w) => w.resource === 'pods')!;
      expect(s.bookmarks).toBe(1);
      expect(s.resourceVersion).toBe(bookmarkRv);
    });
    api.closeWatches('pods');
    await eventually(() => expect(api.requests({ resource: 'pods', verb: 'watch' }).at(-1)!.query.resourceVersion).toBe(bookmarkRv));
  });

  it('keeps retrying while the API server is down at start, then converges', async () => {
    const { api } = env;
    api.create('pods', pod({ name: 'a', ip: '10.210.5.1' }));
    api.create('nodes', { metadata: { name: 'node-a', labels: { 'topology.kubernetes.io/zone': 'z1' } }, status: { addresses: [{ type: 'InternalIP', address: '192.168.77.1' }] } });
    await api.goOffline();
    const h = start();
    let ready = false;
    void h.ready.then(() => (ready = true));
    await eventually(() => {
      const s = h.status();
      expect(s.state).toBe('degraded');
      expect(s.reason).toMatch(/unreachable \(ECONNREFUSED\)/);
      expect(s.watchers.every((w) => w.restarts >= 2)).toBe(true);
    });
    expect(ready).toBe(false);
    expect(cache.size).toBe(0);

    await api.goOnline();
    await h.ready;
    await eventually(() => {
      expect(h.status().state).toBe('synced');
      expect(cache.lookup('10.210.5.1')).toMatchObject({ name: 'a', zone: 'z1' });
      expect(cache.lookup('192.168.77.1')).toMatchObject({ kind: 'node', name: 'node-a' });
    });
  });

  it('restarts a watcher with backoff after server errors', async () => {
    const { api } = env;
    api.injectFailure({ resource: 'pods', verb: 'list', status: 503, count: 3 });
    api.create('pods', pod({ name: 'a', ip: '10.210.6.1' }));
    const h = start({ watchers: { services: false, nodes: false, metricsconfigurations: false } });
    await h.ready;
    await eventually(() => expect(cache.lookup('10.210.6.1')).toBeDefined());
    const s = h.status().watchers[0]!;
    expect(s.restarts).toBe(3);
    expect(s.lastError).toMatch(/^pods: HTTP 503/);
    expect(api.requests({ resource: 'pods', verb: 'list' }).map((r) => r.status)).toEqual([503, 503, 503, 200]);
  });

  it('pages large lists', async () => {
    const { api } = env;
    for (let i = 0; i < 7; i++) api.create('pods', pod({ name: `p${i}`, ip: `10.210.7.${i + 1}` }));
    const h = start({ pageSize: 3, watchers: { services: false, nodes: false, metricsconfigurations: false } });
    await h.ready;
    expect(cache.size).toBe(7);
    const lists = api.requests({ resource: 'pods', verb: 'list' });
    expect(lists.map((r) => r.query.limit)).toEqual(['3', '3', '3']);
    expect(lists.filter((r) => r.query.continue).length).toBe(2);
  });

  it('fills services and nodes, and removes them on delete', async () => {
    const { api } = env;
    api.create('services', { metadata: { name: 'web', namespace: 'shop' }, spec: { clusterIP: '10.96.30.1', clusterIPs: ['10.96.30.1', 'fd00:96::1'] } });
    api.create('services', { metadata: { name: 'headless', namespace: 'shop' }, spec: { clusterIP: 'None' } });
    api.create('services', {
      metadata: { name: 'lb', namespace: 'shop' },
      spec: { clusterIP: '10.96.30.2', type: 'LoadBalancer' },
      status: { loadBalancer: { ingress: [{ ip: '203.0.113.7' }] } },
    });
    api.create('nodes', {
      metadata: { name: 'node-b', labels: { 'topology.kubernetes.io/zone': 'eu-2b' } },
      status: { addresses: [{ type: 'Hostname', address: 'node-b' }, { type: 'InternalIP', address: '192.168.80.2' }, { type: 'ExternalIP', address: '198.51.100.2' }] },
    });
    const h = start();
    await h.ready;
    await eventually(() => {
      expect(cache.lookup('10.96.30.1')).toMatchObject({ kind: 'service', name: 'web', namespace: 'shop' });
      expect(cache.lookup('fd00:96::1')?.name).toBe('web');
      expect(cache.lookup('203.0.113.7')?.name).toBe('lb');
      expect(cache.lookup('192.168.80.2')).toMatchObject({ kind: 'node', name: 'node-b', zone: 'eu-2b' });
    });
    expect(cache.lookup('198.51.100.2')).toBeUndefined();
    const out = new Enricher(cache).enrich(flowBetween('10.210.9.1', '10.96.30.1'));
    expect(out.destinationService).toEqual({ name: 'web', namespace: 'shop' });

    api.delete('services', 'shop', 'web');
    api.delete('nodes', undefined, 'node-b');
    await eventually(() => {
      expect(cache.lookup('10.96.30.1')).toBeUndefined();
      expect(cache.lookup('192.168.80.2')).toBeUndefined();
    });
  });

  it('watches nodes for the Hubble control plane and reports each node change as an event', async () => {
    const { api } = env;
    api.create('nodes', { metadata: { name: 'node-c' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.81.3' }] } });
    const h = start({}, { enablePodLevel: false, controlPlane: 'hubble' });
    const changes: string[] = [];
    h.on('node', (c) => changes.push(`${c.type} ${c.node.name} ${c.node.ips.join(',')}`));
    await h.ready;
    expect(h.status().watchers.map((w) => w.resource)).toEqual(['nodes']);
    await eventually(() => expect(h.nodes()).toEqual([{ name: 'node-c', ips: ['192.168.81.3'] }]));
    api.create('nodes', {
      metadata: { name: 'node-d' },
      status: { addresses: [{ type: 'InternalIP', address: 'fd00:81::4' }, { type: 'InternalIP', address: '192.168.81.4' }] },
    });
    api.apply('nodes', { metadata: { name: 'node-c' }, status: { addresses: [{ type: 'InternalIP', address: '192.168.81.33' }] } });
    api.delete('nodes', undefined, 'node-d');
    await eventually(() =>
      expect(changes).toEqual([
        'upsert node-c 192.168.81.3',
        'upsert node-d fd00:81::4,192.168.81.4',
        'upsert node-c 192.168.81.33',
        'delete node-d fd00:81::4,192.168.81.4',
      ]),
    );
    expect(h.nodes().map((n) => n.name)).toEqual(['node-c']);
  });

  it('reports the API server IPs from the kubeconfig host, the kubernetes service and its endpoints', async () => {
    const { api } = env;
    api.create('services', { metadata: { name: 'kubernetes', namespace: 'default' }, spec: { clusterIP: '10.96.0.1' } });
    api.create('endpointslices', {
      metadata: { name: 'kubernetes', namespace: 'default', labels: { 'kubernetes.io/service-name': 'kubernetes' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['192.168.90.10'] }],
    });
    const changes: string[][] = [];
    const h = start({ apiServerRefreshIntervalMs: 50, apiServerPseudoPod: true }, { enablePodLevel: false });
    h.on('apiServerIps', (c) => changes.push(c.ips));
    await eventually(() => expect(h.apiServerIps()).toEqual(['10.96.0.1', '127.0.0.1', '192.168.90.10']));
    // As Retina, the API server is a pseudo-pod in the cache.
    expect(cache.lookup('192.168.90.10')).toMatchObject({ kind: 'pod', name: 'kubernetes-apiserver', namespace: 'kubernetes-apiserver' });
    expect(h.status().watchers).toEqual([]); // basic mode: no resource watchers

    api.modify('endpointslices', 'default', 'kubernetes', (s) => {
      s.endpoints = [{ addresses: ['192.168.90.11'] }];
    });
    await eventually(() => expect(h.apiServerIps()).toEqual(['10.96.0.1', '127.0.0.1', '192.168.90.11']));
    expect(changes.at(-1)).toEqual(['10.96.0.1', '127.0.0.1', '192.168.90.11']);
    expect(cache.lookup('192.168.90.10')).toBeUndefined();
  });

  it('tracks namespaces and pods annotated retina.sh=observe in annotation mode', async () => {
    const { api } = env;
    api.create('namespaces', { metadata: { name: 'shop', annotations: { 'retina.sh': 'observe' } } });
    api.create('namespaces', { metadata: { name: 'quiet' } });
    api.create('pods', pod({ name: 'watched', ip: '10.210.8.1', annotations: { 'retina.sh': 'observe' } }));
    api.create('pods', pod({ name: 'plain', ip: '10.210.8.2' }));
    const h = start({}, { enableAnnotations: true });
    const seen: string[][] = [];
    h.on('observedNamespaces', (ns) => seen.push(ns));
    await h.ready;
    expect(h.observedNamespaces()).toEqual(['shop']);
    expect(h.observedPodIps()).toEqual(['10.210.8.1']);
    expect(h.status().watchers.map((w) => w.resource).sort()).toEqual(['namespaces', 'nodes', 'pods', 'services']);

    api.modify('namespaces', undefined, 'quiet', (n) => {
      n.metadata.annotations = { 'retina.sh': 'observe' };
    });
    api.modify('namespaces', undefined, 'shop', (n) => {
      n.metadata.annotations = {};
    });
    await eventually(() => expect(h.observedNamespaces()).toEqual(['quiet']));
    expect(seen.at(-1)).toEqual(['quiet']);
  });

  it('applies the oldest accepted MetricsConfiguration', async () => {
    const { api } = env;
    const mc = (name: string, state: string | undefined, created: string, include: string[]) => ({
      metadata: { name, creationTimestamp: created },
      spec: {
        contextOptions: [{ metricName: 'forward_count', sourceLabels: ['ip', 'podname'], destinationLabels: ['ip'], ttl: '5m' }],
        namespaces: { include },
      },
      ...(state ? { status: { state } } : {}),
    });
    api.create('metricsconfigurations', mc('pending', undefined, '2026-01-01T00:00:00Z', ['a']));
    api.create('metricsconfigurations', mc('second', 'Accepted', '2026-01-03T00:00:00Z', ['b']));
    const h = start();
    await h.ready;
    expect(h.metricsConfiguration()).toMatchObject({
      name: 'second',
      spec: { namespaces: { include: ['b'] }, contextOptions: [{ metricName: 'forward_count', ttlMs: 300_000 }] },
    });
    const events: (string | undefined)[] = [];
    h.on('metricsConfiguration', (c) => events.push(c?.name));
    api.modify('metricsconfigurations', undefined, 'pending', (o) => {
      o.status = { state: 'Accepted' };
    });
    await eventually(() => expect(h.metricsConfiguration()?.name).toBe('pending'));
    api.delete('metricsconfigurations', undefined, 'pending');
    api.delete('metricsconfigurations', undefined, 'second');
    await eventually(() => expect(h.metricsConfiguration()).toBeUndefined());
    expect(events).toEqual(['pending', 'second', undefined]);
  });

  it('fills the cache from RetinaEndpoints in remote context, with node names and zones from node IPs', async () => {
    const { api } = env;
    api.create('nodes', {
      metadata: { name: 'node-c', labels: { 'topology.kubernetes.io/zone': 'z3' } },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.60.3' }] },
    });
    api.create('replicasets', replicaSet('shop', 'cart-55f', 'cart'));
    api.create('retinaendpoints', {
      metadata: { name: 'cart-55f-q', namespace: 'shop' },
      spec: {
        podIP: '10.210.10.1',
        podIPs: ['10.210.10.1'],
        nodeIP: '192.168.60.3',
        labels: { app: 'cart' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'cart-55f' }],
      },
    });
    const h = start({}, { remoteContext: true });
    await h.ready;
    expect(h.status().watchers.map((w) => w.resource).sort()).toEqual(['metricsconfigurations', 'nodes', 'retinaendpoints', 'services']);
    await eventually(() =>
      expect(cache.lookup('10.210.10.1')).toMatchObject({
        name: 'cart-55f-q',
        namespace: 'shop',
        labels: { app: 'cart' },
        workload: { kind: 'Deployment', name: 'cart' },
        nodeName: 'node-c',
        zone: 'z3',
      }),
    );
    api.delete('retinaendpoints', 'shop', 'cart-55f-q');
    await eventually(() => expect(cache.lookup('10.210.10.1')).toBeUndefined());
  });

  it('does not hold readiness on a CRD the cluster does not serve, and says so', async () => {
    const { api } = env;
    api.injectFailure({ resource: 'metricsconfigurations', verb: 'list', status: 404, count: 1_000_000 });
    const h = start();
    await h.ready;
    // It keeps retrying: between tries it is in backoff, with the reason.
    await eventually(() => expect(h.status()).toMatchObject({ state: 'degraded', reason: expect.stringContaining('is the CRD installed?') }));
    expect(h.status().watchers.find((w) => w.resource === 'pods')!.synced).toBe(true);
  });

  it('reports watcher health as self-metrics', async () => {
    const metrics = createMetricsModule();
    const h = start({ metrics });
    await h.ready;
    const text = (await metrics.expose()).body;
    expect(text).toContain('controlplane_networkobservability_k8s_watcher_synced{resource="pods"} 1');
    expect(text).toMatch(/controlplane_networkobservability_k8s_watcher_watch_requests_total\{resource="nodes"\} [1-9]/);
  });

  it('is disabled, not failing, without any configuration', async () => {
    handle = startKubernetes({ config: agentConfig(), ipCache: cache, logger: captureLogger().logger, env: {}, podInterfaces: false });
    await handle.ready;
    expect(handle.status()).toMatchObject({ state: 'disabled', mode: 'none', reason: expect.stringMatching(/not running in a cluster/) });
  });

  it('reports an unreadable kubeconfig in status instead of throwing', async () => {
    handle = startKubernetes({ config: agentConfig(), ipCache: cache, logger: captureLogger().logger, kubeconfig: `${env.dir}/missing`, podInterfaces: false });
    await handle.ready;
    expect(handle.status()).toMatchObject({ state: 'disabled', reason: `kubeconfig ${env.dir}/missing: no such file` });
  });
});
