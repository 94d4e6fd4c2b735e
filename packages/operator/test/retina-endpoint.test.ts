/**
 * RetinaEndpoints against the API server double: one per running pod with an IP, carrying what the agents'
 * reader (podInfoFromRetinaEndpoint) needs; host-network and IP-less pods skipped; updates and deletion follow the
 * pod; after a restart nothing is duplicated or rewritten, orphans are deleted and missing ones created.
 */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '@retina-ts/k8s-apiserver-double';
import { useApiServerDouble, useController } from './api-double.js';
import { podInfoFromRetinaEndpoint } from '@retina-ts/kubernetes';
import { RetinaEndpointController, type RetinaEndpointObject } from '../src/index.js';

const cluster = useApiServerDouble({ prefix: 'operator-re', each: true });

const pod = (name: string, ip: string | undefined, extra: Record<string, unknown> = {}): KubeObject => ({
  metadata: {
    name,
    namespace: 'shop',
    labels: { app: name, 'pod-template-hash': 'abc12' },
    annotations: { 'retina.sh': 'observe', 'kubectl.kubernetes.io/last-applied-configuration': '{"big":true}' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `${name}-abc12`, uid: 'rs-uid', controller: true }],
  },
  spec: { nodeName: 'node-a', containers: [{ name: 'main', image: 'x' }] },
  status: {
    phase: 'Running',
    hostIP: '10.0.0.1',
    ...(ip ? { podIP: ip, podIPs: [{ ip }, { ip: 'fd00::5' }] } : {}),
    containerStatuses: [{ name: 'main', containerID: 'containerd://c0ffee', ready: true, restartCount: 0, image: 'x', imageID: 'x' }],
  },
  ...extra,
});
const endpoints = () => cluster.api.list<RetinaEndpointObject & KubeObject>('retinaendpoints');
const names = () => endpoints().map((e) => `${e.metadata.namespace}/${e.metadata.name}`).sort();
const { start, stop } = useController(cluster, (kc, options) => new RetinaEndpointController(kc, options));

describe('RetinaEndpointController', () => {
  it('keeps one RetinaEndpoint per running pod with an IP, as the agents read them', async () => {
    cluster.api.create('pods', pod('web', '10.1.0.5'));
    cluster.api.create('pods', pod('hostnet', '10.0.0.1', { spec: { hostNetwork: true, containers: [] } }));
    cluster.api.create('pods', pod('pending', undefined));
    const controller = await start();
    await cluster.api.waitFor(() => names().length === 1, 'one endpoint');
    await controller.queue.idle();
    expect(names()).toEqual(['shop/web']);
    const ep = cluster.api.get<RetinaEndpointObject & KubeObject>('retinaendpoints', 'shop', 'web');
    expect(ep.spec).toEqual({
      podIP: '10.1.0.5',
      podIPs: ['10.1.0.5', 'fd00::5'],
      nodeIP: '10.0.0.1',
      labels: { app: 'web', 'pod-template-hash': 'abc12' },
      annotations: { 'retina.sh': 'observe' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-abc12' }],
      containers: [{ name: 'main', id: 'containerd://c0ffee' }],
    });
    const podUid = cluster.api.get('pods', 'shop', 'web').metadata.uid;
    expect(ep.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'Pod', name: 'web', uid: podUid, blockOwnerDeletion: false }]);
    const info = podInfoFromRetinaEndpoint(ep);
    expect(info).toMatchObject({
      namespace: 'shop',
      name: 'web',
      ips: ['10.1.0.5', 'fd00::5'],
      owner: { kind: 'ReplicaSet', name: 'web-abc12' },
      nodeIp: '10.0.0.1',
      observed: true,
      podTemplateHash: 'abc12',
    });

    // The pending pod gets an IP and runs: its endpoint appears.
    cluster.api.modify('pods', 'shop', 'pending', (p) => {
      (p.status as Record<string, unknown>).podIP = '10.1.0.6';
    });
    await cluster.api.waitFor(() => names().length === 2, 'pending pod endpoint');
  });

  it('follows label, IP and phase changes and deletes with the pod', async () => {
    cluster.api.create('pods', pod('web', '10.1.0.5'));
    await start();
    await cluster.api.waitFor(() => names().length === 1);
    cluster.api.modify('pods', 'shop', 'web', (p) => {
      p.metadata.labels = { app: 'web', tier: 'front' };
    });
    await cluster.api.waitFor(() => cluster.api.get<RetinaEndpointObject & KubeObject>('retinaendpoints', 'shop', 'web').spec?.labels?.tier === 'front');
    cluster.api.modify('pods', 'shop', 'web', (p) => {
      Object.assign(p.status as object, { podIP: '10.1.0.9', podIPs: [{ ip: '10.1.0.9' }] });
    });
    await cluster.api.waitFor(() => cluster.api.get<RetinaEndpointObject & KubeObject>('retinaendpoints', 'shop', 'web').spec?.podIP === '10.1.0.9');
    expect(cluster.api.get<RetinaEndpointObject & KubeObject>('retinaendpoints', 'shop', 'web').spec?.podIPs).toEqual(['10.1.0.9']);

    // A finished pod no longer owns its IP.
    cluster.api.modify('pods', 'shop', 'web', (p) => {
      (p.status as Record<string, unknown>).phase = 'Succeeded';
    });
    await cluster.api.waitFor(() => names().length === 0, 'endpoint of the finished pod deleted');
    cluster.api.modify('pods', 'shop', 'web', (p) => {
      (p.status as Record<string, unknown>).phase = 'Running';
    });
    await cluster.api.waitFor(() => names().length === 1);
    cluster.api.delete('pods', 'shop', 'web');
    await cluster.api.waitFor(() => names().length === 0, 'endpoint deleted with the pod');
  });

  it('after a restart: no duplicates, no rewrite of current ones, orphans deleted, missing ones created', async () => {
    cluster.api.create('pods', pod('a', '10.1.0.1'));
    cluster.api.create('pods', pod('b', '10.1.0.2'));
    cluster.api.create('pods', pod('d', '10.1.0.4'));
    let controller = await start();
    await cluster.api.waitFor(() => names().length === 3);
    await controller.queue.idle();
    await stop();

    // While the operator is down: b goes away, c arrives, someone deletes a's endpoint; d stays as it was.
    cluster.api.delete('pods', 'shop', 'b');
    cluster.api.create('pods', pod('c', '10.1.0.3'));
    cluster.api.delete('retinaendpoints', 'shop', 'a');
    const before = cluster.api.requests({ resource: 'retinaendpoints.retina.sh' }).length;
    controller = await start();
    await cluster.api.waitFor(() => names().join() === 'shop/a,shop/c,shop/d', `a, c and d (now ${names().join()})`);
    await controller.queue.idle();
    const writes = cluster.api.requests({ resource: 'retinaendpoints.retina.sh' }).slice(before).filter((r) => !['list', 'watch'].includes(r.verb));
    // a and c created, b's orphan deleted; d's endpoint was current and is not written.
    expect(writes.map((r) => (r.verb === 'create' ? 'create' : `${r.verb} ${r.path.split('/').pop()}`)).sort()).toEqual([
      'create',
      'create',
      'delete b',
    ]);
  });

  it('replaces an endpoint edited by someone else and retries after a failed write', async () => {
    cluster.api.create('pods', pod('web', '10.1.0.5'));
    cluster.api.injectFailure({ resource: 'retinaendpoints', verb: 'create', status: 500 });
    await start();
    await cluster.api.waitFor(() => names().length === 1, 'created after a retry');
    cluster.api.modify<RetinaEndpointObject & KubeObject>('retinaendpoints', 'shop', 'web', (e) => {
      e.spec!.podIP = '192.0.2.1';
    });
    await cluster.api.waitFor(() => cluster.api.get<RetinaEndpointObject & KubeObject>('retinaendpoints', 'shop', 'web').spec?.podIP === '10.1.0.5', 'restored');
  });
});
