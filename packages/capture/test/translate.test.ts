import type { V1Job, V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import {
  captureJobName,
  captureStatusFromJobs,
  expectedArtifacts,
  labelSelectorString,
  NoCaptureTargetsError,
  parseLabelPairs,
  renderCaptureJob,
  resolveCaptureTargets,
  unlessNotFound,
  type Capture,
  type ClusterReader,
} from '../src/index.js';

const node = (name: string, labels: Record<string, string> = { 'kubernetes.io/os': 'linux' }): V1Node => ({ metadata: { name, labels } });
const pod = (ns: string, name: string, nodeName: string | undefined, ips: string[], labels: Record<string, string> = {}): V1Pod => ({
  metadata: { name, namespace: ns, labels },
  spec: { containers: [], ...(nodeName ? { nodeName } : {}) },
  status: { podIPs: ips.map((ip) => ({ ip })) },
});

/** A reader over fixed objects that evaluates equality selectors the way the API server does. */
function reader(nodes: V1Node[], namespaces: V1Namespace[], pods: V1Pod[]): ClusterReader & { queries: string[] } {
  const queries: string[] = [];
  const matches = (labels: Record<string, string> | undefined, sel?: string) =>
    !sel || sel.split(',').every((p) => {
      const [k, v] = p.split('=');
      return labels?.[k!] === v;
    });
  return {
    queries,
    async listNodes(sel) {
      queries.push(`nodes?${sel ?? ''}`);
      return nodes.filter((n) => matches(n.metadata?.labels, sel));
    },
    async listNamespaces(sel) {
      queries.push(`namespaces?${sel ?? ''}`);
      return namespaces.filter((n) => matches(n.metadata?.labels, sel));
    },
    async listPods(ns, sel) {
      queries.push(`pods/${ns}?${sel ?? ''}`);
      return pods.filter((p) => (!ns || p.metadata?.namespace === ns) && matches(p.metadata?.labels, sel));
    },
    async getPod(ns, name) {
      return pods.find((p) => p.metadata?.namespace === ns && p.metadata?.name === name);
    },
  };
}

const capture = (target: Capture['spec']['captureConfiguration']['captureTarget'], extra: Partial<Capture['spec']> = {}): Capture => ({
  apiVersion: 'retina.sh/v1alpha1',
  kind: 'Capture',
  metadata: { name: 'web', namespace: 'team' },
  spec: {
    captureConfiguration: {
      captureTarget: target,
      filters: { include: ['10.0.0.1:80'] },
      captureOption: { duration: '30s', maxCaptureSize: 10, pcapFilter: 'tcp', sourceIPs: ['10.0.0.9'], noResolveDNS: true },
    },
    outputConfiguration: { hostPath: 'retina', persistentVolumeClaim: 'claim', blobUpload: 'blob-sec', s3Upload: { bucket: 'b', secretName: 's3-sec', region: 'eu' } },
    ...extra,
  },
});

const cluster = reader(
  [node('n1'), node('n2', { 'kubernetes.io/os': 'linux', pool: 'gpu' }), node('w1', { 'kubernetes.io/os': 'windows' })],
  [{ metadata: { name: 'team', labels: { team: 'a' } } }, { metadata: { name: 'other', labels: {} } }],
  [
    pod('team', 'api-1', 'n1', ['10.244.1.5', 'fd00::5'], { app: 'api' }),
    pod('team', 'api-2', 'n2', ['10.244.2.7'], { app: 'api' }),
    pod('team', 'api-3', undefined, [], { app: 'api' }),
    pod('other', 'api-4', 'n2', ['10.244.2.8'], { app: 'api' }),
    pod('default', 'db', 'n1', ['10.244.1.9'], { app: 'db' }),
  ],
);

describe('capture targets', () => {
  it('renders selectors in query syntax', () => {
    expect(
      labelSelectorString({
        matchLabels: { b: '2', a: '1' },
        matchExpressions: [
          { key: 'k', operator: 'In', values: ['y', 'x'] },
          { key: 'n', operator: 'NotIn', values: ['z'] },
          { key: 'e', operator: 'Exists' },
          { key: 'g', operator: 'DoesNotExist' },
        ],
      }),
    ).toBe('a=1,b=2,k in (x,y),n notin (z),e,!g');
    expect(parseLabelPairs('a=1, b=x=y', '--node-selectors')).toEqual({ a: '1', b: 'x=y' });
    expect(() => parseLabelPairs('nokey', '--node-selectors')).toThrow('--node-selectors: "nokey" is not key=value');
  });

  it('node selector: the matching nodes, no pod filter', async () => {
    expect(await resolveCaptureTargets(capture({ nodeSelector: { matchLabels: { pool: 'gpu' } } }), cluster)).toEqual([
      { nodeName: 'n2', os: 'linux', podIPs: [] },
    ]);
  });

  it('pod selector with namespace selector: the pods’ nodes with their IPs', async () => {
    const t = await resolveCaptureTargets(
      capture({ podSelector: { matchLabels: { app: 'api' } }, namespaceSelector: { matchLabels: { team: 'a' } } }),
      cluster,
    );
    expect(t).toEqual([
      { nodeName: 'n1', os: 'linux', podIPs: ['10.244.1.5', 'fd00::5'] },
      { nodeName: 'n2', os: 'linux', podIPs: ['10.244.2.7'] },
    ]);
  });

  it('pod selector alone looks in the default namespace', async () => {
    expect(await resolveCaptureTargets(capture({ podSelector: { matchLabels: { app: 'db' } } }), cluster)).toEqual([
      { nodeName: 'n1', os: 'linux', podIPs: ['10.244.1.9'] },
    ]);
  });

  it('pod names in the capture namespace; a missing pod is named', async () => {
    expect(await resolveCaptureTargets(capture({ podNames: ['api-2'] }), cluster)).toEqual([
      { nodeName: 'n2', os: 'linux', podIPs: ['10.244.2.7'] },
    ]);
    await expect(resolveCaptureTargets(capture({ podNames: ['nope'] }), cluster)).rejects.toThrow('pod "nope" was not found in namespace "team"');
  });

  it('no match is an error', async () => {
    await expect(resolveCaptureTargets(capture({ nodeSelector: { matchLabels: { pool: 'none' } } }), cluster)).rejects.toThrow(
      NoCaptureTargetsError,
    );
  });
});

describe('capture job', () => {
  const start = new Date('2024-02-03T04:05:06Z');
  const c = capture({ podNames: ['api-1'] });
  const job = renderCaptureJob(c, { nodeName: 'n1', os: 'linux', podIPs: ['10.244.1.5'] }, {
    image: 'ghcr.io/example/retina-ts-agent:0.1.0',
    startTime: start,
    blobSecretName: 'blob-sec',
    s3SecretName: 's3-sec',
    ownerReferences: [{ apiVersion: 'retina.sh/v1alpha1', kind: 'Capture', name: 'web', uid: 'u1', controller: true }],
  });
  const spec = job.spec!.template.spec!;
  const container = spec.containers[0]!;
  const env = Object.fromEntries(container.env!.map((e) => [e.name, e.value ?? `<${e.valueFrom?.fieldRef?.fieldPath}>`]));

  it('is named, labelled and owned for its capture and node', () => {
    expect(job.metadata!.name).toBe(captureJobName('web', 'n1', start));
    expect(job.metadata!.name).toMatch(/^web-[0-9a-f]{8}$/);
    expect(captureJobName('x'.repeat(80), 'n1', start)).toHaveLength(63);
    expect(job.metadata!.namespace).toBe('team');
    expect(job.metadata!.labels).toEqual({ 'retina.sh/app': 'capture', 'capture-name': 'web', 'retina.sh/capture-node': 'n1' });
    expect(job.metadata!.ownerReferences![0]!.uid).toBe('u1');
    expect(job.spec!.backoffLimit).toBe(0);
  });

  it('runs privileged enough on the target node only', () => {
    expect(spec.affinity!.nodeAffinity!.requiredDuringSchedulingIgnoredDuringExecution!.nodeSelectorTerms[0]!.matchExpressions).toEqual([
      { key: 'kubernetes.io/hostname', operator: 'In', values: ['n1'] },
    ]);
    expect(spec.hostNetwork).toBe(true);
    expect(spec.restartPolicy).toBe('Never');
    expect(spec.terminationGracePeriodSeconds).toBe(1800);
    expect(container.securityContext!.capabilities!.add).toEqual(['NET_ADMIN', 'SYS_ADMIN']);
    expect(container.command).toEqual(['retina-capture']);
    expect(job.spec!.template.metadata!.annotations).toEqual({
      'retina-capture-filename': 'web',
      'retina-capture-timestamp': '20240203040506UTC',
      'retina-capture-hostpath': '/var/log/retina/captures/retina',
    });
  });

  it('passes the workload its configuration', () => {
    expect(env).toEqual({
      CAPTURE_NAME: 'web',
      NODE_HOST_NAME: 'n1',
      CAPTURE_START_TIMESTAMP: '20240203040506UTC',
      POD_NAME: '<metadata.name>',
      NAMESPACE: '<metadata.namespace>',
      INCLUDE_METADATA: 'true',
      CAPTURE_DURATION: '30s',
      CAPTURE_MAX_SIZE: '10',
      TCPDUMP_FILTER: '(host 10.0.0.1 and port 80) or (host 10.244.1.5)',
      PCAP_FILTER: '(tcp) and ((src host 10.0.0.9))',
      TCPDUMP_FLAGS: '-n',
      HOSTPATH: '/var/log/retina/captures/retina',
      PERSISTENT_VOLUME_CLAIM: 'claim',
      S3_BUCKET: 'b',
      S3_REGION: 'eu',
      S3_PATH: 'retina/captures',
    });
  });

  it('mounts the host path, the PVC and the secrets', () => {
    expect(spec.volumes).toEqual([
      { name: 'hostpath', hostPath: { path: '/var/log/retina/captures/retina', type: 'DirectoryOrCreate' } },
      { name: 'pvc', persistentVolumeClaim: { claimName: 'claim' } },
      { name: 'blob-upload-secret', secret: { secretName: 'blob-sec' } },
      { name: 's3-upload-secret', secret: { secretName: 's3-sec' } },
    ]);
    expect(container.volumeMounts!.map((m) => m.mountPath)).toEqual([
      '/var/log/retina/captures/retina',
      '/mnt/azure',
      '/etc/blob-upload-secret',
      '/etc/s3-upload-secret',
    ]);
  });

  it('refuses Windows nodes', () => {
    expect(() => renderCaptureJob(c, { nodeName: 'w1', os: 'windows', podIPs: [] }, { image: 'i', startTime: start })).toThrow(
      /runs windows: the capture workload runs on Linux nodes only/,
    );
  });

  it('lists where each node’s artifact goes', () => {
    expect(expectedArtifacts(c, 'n1', start)).toEqual([
      'hostPath://n1/var/log/retina/captures/retina/web-n1-20240203040506UTC.tar.gz',
      'pvc://claim/web-n1-20240203040506UTC.tar.gz',
      'blob://blob-sec/web-n1-20240203040506UTC.tar.gz',
      's3://b/retina/captures/web-n1-20240203040506UTC.tar.gz',
    ]);
  });
});

describe('capture status from jobs', () => {
  const job = (name: string, nodeName: string, status: V1Job['status']): V1Job => ({
    metadata: { name, labels: { 'retina.sh/capture-node': nodeName } },
    status,
  });
  const base = { startTime: '2024-01-01T00:00:00Z', now: new Date('2024-01-01T00:01:00Z') };

  it('in progress', () => {
    const s = captureStatusFromJobs({ ...base, jobs: [job('a', 'n1', { active: 1 }), job('b', 'n2', { succeeded: 1 })] });
    expect(s).toMatchObject({ active: 1, succeeded: 1, failed: 0 });
    expect(s.conditions).toEqual([
      {
        type: 'complete',
        status: 'False',
        reason: 'JobsInProgress',
        message: '1/2 Capture jobs are in progress, waiting for completion',
        lastTransitionTime: '2024-01-01T00:01:00Z',
      },
    ]);
    expect(s.nodes!.map((n) => [n.nodeName, n.phase])).toEqual([
      ['n1', 'Running'],
      ['n2', 'Succeeded'],
    ]);
    expect(s.completionTime).toBeUndefined();
  });

  it('completed, with the last job completion as completion time', () => {
    const s = captureStatusFromJobs({
      ...base,
      jobs: [
        job('a', 'n1', { conditions: [{ type: 'Complete', status: 'True' }], completionTime: new Date('2024-01-01T00:00:40Z') }),
        job('b', 'n2', { succeeded: 1, completionTime: new Date('2024-01-01T00:00:50Z') }),
      ],
      artifacts: (n) => [`hostPath://${n}/x`],
    });
    expect(s.conditions![0]).toMatchObject({ type: 'complete', status: 'True', reason: 'JobsCompleted', message: 'All 2 Capture jobs are completed' });
    expect(s.completionTime).toBe('2024-01-01T00:00:50Z');
    expect(s.nodes![0]!.artifacts).toEqual(['hostPath://n1/x']);
  });

  it('failed jobs raise the error condition; the transition time holds while the status stays', () => {
    const first = captureStatusFromJobs({ ...base, jobs: [job('a', 'n1', { failed: 1 })] });
    expect(first.conditions!.find((c) => c.type === 'error')).toMatchObject({ status: 'True', message: '1 Capture jobs are in failed state' });
    const later = captureStatusFromJobs({ ...base, now: new Date('2024-01-01T00:05:00Z'), previous: first, jobs: [job('a', 'n1', { failed: 1 })] });
    expect(later.conditions!.find((c) => c.type === 'error')!.lastTransitionTime).toBe('2024-01-01T00:01:00Z');
  });
});

describe('client errors', () => {
  // Errors shaped as @kubernetes/client-node's ApiException: the HTTP status in `code`.
  const apiError = (code: number) => Object.assign(new Error(`HTTP-Code: ${code}`), { code });

  it('unlessNotFound turns a 404 into undefined and passes values and other errors through', async () => {
    await expect(unlessNotFound(() => Promise.resolve('pod'))).resolves.toBe('pod');
    await expect(unlessNotFound(() => Promise.reject(apiError(404)))).resolves.toBeUndefined();
    await expect(unlessNotFound(() => Promise.reject(apiError(403)))).rejects.toThrow('HTTP-Code: 403');
    await expect(unlessNotFound(() => Promise.reject(new Error('socket hang up')))).rejects.toThrow('socket hang up');
  });
});
