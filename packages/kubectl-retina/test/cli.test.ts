/**
 * kubectl-retina against the Kubernetes API server double, through the real @kubernetes/client-node and a
 * kubeconfig file, as a user runs it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble, type KubeObject } from '@retina-ts/k8s-apiserver-double';
import type { Capture } from '@retina-ts/capture';
import { VERSION } from '../src/index.js';
import { runCaptured } from './run.js';

let api: ApiServerDouble;
let dir: string;
let kubeconfig: string;

const node = (name: string, os = 'linux', labels: Record<string, string> = {}): KubeObject => ({
  metadata: { name, labels: { 'kubernetes.io/os': os, 'kubernetes.io/hostname': name, ...labels } },
});
const pod = (ns: string, name: string, nodeName: string, ip: string, labels: Record<string, string>): KubeObject => ({
  metadata: { name, namespace: ns, labels },
  spec: { nodeName, containers: [{ name: 'c', image: 'i' }] },
  status: { podIP: ip, podIPs: [{ ip }] },
});

const kr = (...args: string[]) =>
  runCaptured(['--kubeconfig', kubeconfig, ...args], {
    env: { RETINA_AGENT_IMAGE: 'example.test/agent:dev' },
    now: () => new Date('2024-06-01T12:00:00Z'),
    pollIntervalMs: 20,
  });

type Job = KubeObject & {
  spec: { template: { spec: { affinity: unknown; containers: { image: string; env: { name: string; value?: string }[] }[] } } };
};
const jobNode = (j: Job) => j.metadata.labels?.['retina.sh/capture-node'];
const envOf = (j: Job) => Object.fromEntries(j.spec.template.spec.containers[0]!.env.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));

beforeAll(async () => {
  api = await startApiServerDouble();
  dir = await mkdtemp(join(tmpdir(), 'kubectl-retina-'));
  kubeconfig = await writeKubeconfig(join(dir, 'kubeconfig'), { server: api.url, namespace: 'team', insecureSkipTlsVerify: true });
});
afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  for (const n of [node('n1'), node('n2', 'linux', { pool: 'gpu' }), node('w1', 'windows')]) api.apply('nodes', n);
  api.apply('namespaces', { metadata: { name: 'team', labels: { team: 'a' } } });
  api.apply('pods', pod('team', 'api-1', 'n1', '10.244.1.5', { app: 'api' }));
  api.apply('pods', pod('team', 'api-2', 'n2', '10.244.2.7', { app: 'api' }));
});
afterEach(() => {
  for (const r of ['jobs', 'captures', 'pods']) for (const o of api.list(r)) api.delete(r, o.metadata.namespace, o.metadata.name);
});

describe('kubectl retina', () => {
  it('version prints the package version', async () => {
    expect(await kr('version')).toEqual({ code: 0, out: `v${VERSION}`, err: '' });
  });

  it('capture create without an operator creates one Job per selected node', async () => {
    const r = await kr('capture', 'create', '--name', 'web', '--duration', '30s', '--include-filter', '10.0.0.1:80', '--debug');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('web-n1-20240601120000UTC.tar.gz');
    expect(r.out).toContain('web-n2-20240601120000UTC.tar.gz');
    const jobs = api.list<Job>('jobs');
    expect(jobs.map(jobNode).sort()).toEqual(['n1', 'n2']);
    for (const j of jobs) {
      expect(j.metadata.namespace).toBe('team');
      expect(j.metadata.labels).toMatchObject({ 'retina.sh/app': 'capture', 'capture-name': 'web' });
      expect(j.spec.template.spec.containers[0]!.image).toBe('example.test/agent:dev');
      expect(JSON.stringify(j.spec.template.spec.affinity)).toContain(`"values":["${jobNode(j)}"]`);
      expect(envOf(j)).toMatchObject({
        CAPTURE_NAME: 'web',
        NODE_HOST_NAME: jobNode(j),
        CAPTURE_START_TIMESTAMP: '20240601120000UTC',
        CAPTURE_DURATION: '30s',
        CAPTURE_MAX_SIZE: '100',
        INCLUDE_METADATA: 'true',
        TCPDUMP_FILTER: '(host 10.0.0.1 and port 80)',
        HOSTPATH: '/var/log/retina/captures/retina',
      });
    }
    expect(api.list('captures')).toEqual([]);
  });

  it('pod targets capture on the pods’ nodes with their IPs', async () => {
    const r = await kr('capture', 'create', '--name', 'pods', '--pod-names', 'api-2', '--host-path', 'pods');
    expect(r.code).toBe(0);
    const jobs = api.list<Job>('jobs');
    expect(jobs.map(jobNode)).toEqual(['n2']);
    expect(envOf(jobs[0]!)).toMatchObject({ TCPDUMP_FILTER: '(host 10.244.2.7)', HOSTPATH: '/var/log/retina/captures/pods' });
  });

  it('with the operator running, capture create makes a Capture resource with the spec from the flags', async () => {
    api.apply('pods', pod('retina', 'retina-operator-0', 'n1', '10.244.1.2', { 'app.kubernetes.io/name': 'retina-operator' }));
    const r = await kr(
      'capture', 'create',
      '--name', 'viaop',
      '--duration', '2m',
      '--max-size', '50',
      '--pod-selectors', 'app=api',
      '--namespace-selectors', 'team=a',
      '--exclude-filter', '*:22',
      '--pcap-filter', 'tcp',
      '--no-resolve-port',
      '--include-metadata=false',
      '--host-path', 'ops',
    );
    expect(r.err).toBe('');
    expect(r.out).toContain('Capture team/viaop created');
    expect(api.list('jobs')).toEqual([]);
    const c = api.get<Capture & KubeObject>('captures', 'team', 'viaop');
    expect(c.spec).toEqual({
      captureConfiguration: {
        captureTarget: { podSelector: { matchLabels: { app: 'api' } }, namespaceSelector: { matchLabels: { team: 'a' } } },
        filters: { exclude: ['*:22'] },
        includeMetadata: false,
        captureOption: { duration: '2m', maxCaptureSize: 50, pcapFilter: 'tcp', noResolvePort: true },
      },
      outputConfiguration: { hostPath: 'ops' },
    });
  });

  it('refuses more jobs than --job-num-limit and creates none', async () => {
    const r = await kr('capture', 'create', '--name', 'lim', '--job-num-limit', '1');
    expect(r.code).toBe(1);
    expect(r.err).toBe('error: the number of capture jobs 2 exceeds the limit 1');
    expect(api.list('jobs')).toEqual([]);
  });

  it('reports invalid flags with the field', async () => {
    const r = await kr('capture', 'create', '--host-path', '../../etc');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/spec.outputConfiguration.hostPath: "..\/..\/etc" must not contain/);
  });

  it('capture list groups jobs by capture; capture delete removes them', async () => {
    await kr('capture', 'create', '--name', 'one', '--node-names', 'n1');
    await kr('capture', 'create', '--name', 'two');
    const done = api.list<Job>('jobs').find((j) => jobNode(j) === 'n1' && j.metadata.labels?.['capture-name'] === 'two')!;
    api.modify('jobs', 'team', done.metadata.name, (j) => {
      j.status = { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] };
    });
    const list = await kr('capture', 'list');
    const lines = list.out.split('\n');
    expect(lines[0]).toMatch(/^NAMESPACE\s+CAPTURE NAME\s+JOBS\s+COMPLETIONS\s+AGE$/);
    expect(lines.slice(1).map((l) => l.split(/\s{3,}/).slice(0, 2).concat(l.split(/\s{3,}/)[3]!))).toEqual([
      ['team', 'one', '0/1'],
      ['team', 'two', '1/2'],
    ]);
    const del = await kr('capture', 'delete', '--name', 'two');
    expect(del.out).toBe('Deleted 2 job(s) of capture team/two');
    expect(api.list<Job>('jobs').map((j) => j.metadata.labels?.['capture-name'])).toEqual(['one']);
    const missing = await kr('capture', 'delete', '--name', 'two');
    expect(missing.err).toBe('error: capture two in namespace team was not found');
    expect((await kr('capture', 'list', '-n', 'other')).out).toBe('No captures found in namespace other');
  });

  it('capture delete removes a Capture resource', async () => {
    api.apply('captures', { metadata: { name: 'cr', namespace: 'team' }, spec: {} });
    expect((await kr('capture', 'delete', '--name', 'cr')).out).toBe('Capture team/cr deleted');
    expect(api.list('captures')).toEqual([]);
  });

  it('--no-wait=false waits for the jobs, prints the result and deletes them', async () => {
    const finisher = setInterval(() => {
      for (const j of api.list<Job>('jobs')) {
        if (!j.status) api.modify('jobs', 'team', j.metadata.name, (x) => void (x.status = { succeeded: 1 }));
      }
    }, 10);
    try {
      const r = await kr('capture', 'create', '--name', 'waited', '--duration', '5s', '--no-wait=false');
      expect(r.err).toBe('');
      expect(r.out).toMatch(/2\/2 capture jobs finished/);
      expect(r.out).toMatch(/Succeeded/);
      expect(r.out).toContain('Capture team/waited finished; its jobs were deleted');
      expect(api.list('jobs')).toEqual([]);
    } finally {
      clearInterval(finisher);
    }
  });

  it('health reports the API server, the CRD and missing components', async () => {
    const r = await kr('health');
    expect(r.out).toMatch(/api-server\s+ok\s+reachable, v1\.31\.0/);
    expect(r.out).toMatch(/capture-crd\s+ok/);
    expect(r.out).toMatch(/agents\s+FAIL\s+no agent pods/);
    expect(r.code).toBe(1);
  });
});
