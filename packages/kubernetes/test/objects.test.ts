import { describe, expect, it } from 'vitest';
import { directOwner, namespaceObserved, nodeRecord, podInfoFromPod, podInfoFromRetinaEndpoint, serviceRecord, timeMs } from '../src/index.js';

describe('podInfoFromPod', () => {
  const base = {
    metadata: {
      name: 'web-7d9f-x',
      namespace: 'shop',
      uid: 'u1',
      creationTimestamp: '2026-01-02T03:04:05Z',
      labels: { app: 'web', 'pod-template-hash': '7d9f' },
      annotations: { 'retina.sh': 'observe' },
      ownerReferences: [
        { kind: 'Other', name: 'first' },
        { kind: 'ReplicaSet', name: 'web-7d9f', controller: true },
      ],
    },
    spec: { nodeName: 'node-a' },
    status: { phase: 'Running', podIP: '10.1.0.1', podIPs: [{ ip: '10.1.0.1' }, { ip: 'fd00::1' }], hostIP: '192.168.0.1' },
  };

  it('reads IPs of both families, labels, the controller owner, node and observation', () => {
    expect(podInfoFromPod(base)).toEqual({
      namespace: 'shop',
      name: 'web-7d9f-x',
      uid: 'u1',
      ips: ['10.1.0.1', 'fd00::1'],
      labels: { app: 'web', 'pod-template-hash': '7d9f' },
      owner: { kind: 'ReplicaSet', name: 'web-7d9f' },
      nodeName: 'node-a',
      nodeIp: '192.168.0.1',
      createdMs: Date.parse('2026-01-02T03:04:05Z'),
      observed: true,
      podTemplateHash: '7d9f',
    });
  });

  it('accepts typed objects from lists (Date timestamps)', () => {
    const typed = { ...base, metadata: { ...base.metadata, creationTimestamp: new Date('2026-01-02T03:04:05Z') } };
    expect(podInfoFromPod(typed).createdMs).toBe(Date.parse('2026-01-02T03:04:05Z'));
  });

  it('marks host-network, finished and IP-less pods inactive', () => {
    expect(podInfoFromPod({ ...base, spec: { hostNetwork: true } }).inactive).toBe('hostNetwork');
    expect(podInfoFromPod({ ...base, status: { ...base.status, phase: 'Succeeded' } }).inactive).toBe('terminal');
    expect(podInfoFromPod({ ...base, status: { ...base.status, phase: 'Failed' } }).inactive).toBe('terminal');
    expect(podInfoFromPod({ ...base, status: { phase: 'Pending' } }).inactive).toBe('noIp');
    expect(podInfoFromPod(base).inactive).toBeUndefined();
  });
});

describe('podInfoFromRetinaEndpoint', () => {
  it('reads the pod facts the operator copied into the spec', () => {
    const info = podInfoFromRetinaEndpoint({
      metadata: { name: 'p', namespace: 'ns', uid: 'u' },
      spec: {
        podIP: '10.2.0.1',
        podIPs: ['10.2.0.1', 'fd00::2'],
        nodeIP: '192.168.0.2',
        labels: { a: 'b' },
        annotations: { 'retina.sh': 'observe' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'ds' }],
      },
    });
    expect(info).toMatchObject({ ips: ['10.2.0.1', 'fd00::2'], nodeIp: '192.168.0.2', owner: { kind: 'DaemonSet', name: 'ds' }, observed: true });
    expect(podInfoFromRetinaEndpoint({ metadata: { name: 'q' }, spec: {} }).inactive).toBe('noIp');
  });
});

describe('serviceRecord and nodeRecord', () => {
  it('takes cluster IPs and load-balancer IPs; headless services have none', () => {
    expect(
      serviceRecord({
        metadata: { name: 's', namespace: 'n' },
        spec: { clusterIP: '10.96.0.5', clusterIPs: ['10.96.0.5', 'fd00:96::5'] },
        status: { loadBalancer: { ingress: [{ ip: '203.0.113.1' }, {}] } },
      }).ips,
    ).toEqual(['10.96.0.5', 'fd00:96::5', '203.0.113.1']);
    expect(serviceRecord({ metadata: { name: 'h', namespace: 'n' }, spec: { clusterIP: 'None', clusterIPs: ['None'] } }).ips).toEqual([]);
  });

  it('takes InternalIPs and the zone label', () => {
    expect(
      nodeRecord({
        metadata: { name: 'n1', labels: { 'failure-domain.beta.kubernetes.io/zone': 'old', 'topology.kubernetes.io/zone': 'new' } },
        status: {
          addresses: [
            { type: 'InternalIP', address: '192.168.0.9' },
            { type: 'InternalIP', address: 'fd00:192::9' },
            { type: 'ExternalIP', address: '198.51.100.9' },
          ],
        },
      }),
    ).toMatchObject({ name: 'n1', ips: ['192.168.0.9', 'fd00:192::9'], zone: 'new' });
    expect(nodeRecord({ metadata: { name: 'n2' } })).toEqual({ name: 'n2', ips: [] });
  });
});

describe('helpers', () => {
  it('reads owners, observation and times', () => {
    expect(directOwner({ ownerReferences: [{ kind: 'A', name: 'a' }] })).toEqual({ kind: 'A', name: 'a' });
    expect(directOwner({})).toBeUndefined();
    expect(namespaceObserved({ metadata: { annotations: { 'retina.sh': 'observe' } } })).toBe(true);
    expect(namespaceObserved({ metadata: { annotations: { 'retina.sh': 'ignore' } } })).toBe(false);
    expect(timeMs('not a time')).toBe(0);
    expect(timeMs(undefined)).toBe(0);
  });
});

describe('slimObject', () => {
  it('keeps metadata (without managedFields, annotations cut to retina.sh) and the named fields', async () => {
    const { slimObject, SLIM_FIELDS } = await import('../src/index.js');
    const slim = slimObject(
      {
        kind: 'Node',
        metadata: {
          name: 'n1',
          resourceVersion: '7',
          labels: { a: 'b' },
          annotations: { 'retina.sh': 'observe', big: 'x'.repeat(1000) },
          managedFields: [{ manager: 'kubelet' }],
        } as never,
        spec: { podCIDR: '10.0.0.0/24' },
        status: { addresses: [{ type: 'InternalIP', address: '192.168.0.1' }], images: [{ names: ['huge'] }] },
      } as never,
      SLIM_FIELDS.nodes,
    );
    expect(slim).toEqual({
      kind: 'Node',
      metadata: { name: 'n1', resourceVersion: '7', labels: { a: 'b' }, annotations: { 'retina.sh': 'observe' } },
      status: { addresses: [{ type: 'InternalIP', address: '192.168.0.1' }] },
    });
  });
});
