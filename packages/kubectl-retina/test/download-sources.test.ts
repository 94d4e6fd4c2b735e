/**
 * `capture download` from an S3 bucket (s3rver, a real S3-compatible server started here) and from the nodes'
 * host paths through download pods, against the API server double: its node-files exec handler plays the
 * container, serving files only through the pod's read-only hostPath mount, from a directory per node.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { nodeFilesExecHandler, startApiServerDouble, startKubelet, writeKubeconfig, type ApiServerDouble, type ExecRequest } from '@retina-ts/k8s-apiserver-double';
import { uploadToS3 } from '@retina-ts/capture';
import { downloadCapture, downloadPodManifest } from '../src/index.js';
import { runCaptured } from './run.js';

let dir: string;
const NOW = new Date('2024-06-01T12:00:00Z');

const kr = (kubeconfig: string | undefined, ...args: string[]) =>
  runCaptured([...(kubeconfig ? ['--kubeconfig', kubeconfig] : []), ...args], {
    env: {},
    now: () => NOW,
    pollIntervalMs: 10,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kr-download-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('capture download from S3 (s3rver)', () => {
  interface S3rverInstance {
    run(): Promise<{ port: number }>;
    close(): Promise<void>;
  }
  let server: S3rverInstance;
  let endpoint: string;
  const creds = ['--s3-access-key-id', 'S3RVER', '--s3-secret-access-key', 'S3RVER'];

  beforeAll(async () => {
    const S3rver = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => S3rverInstance;
    server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: await mkdtemp(join(dir, 's3rver-')),
      vhostBuckets: false,
      configureBuckets: [{ name: 'caps' }],
    });
    endpoint = `http://127.0.0.1:${(await server.run()).port}`;
    const cfg = { bucket: 'caps', endpoint, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', path: 'retina/captures' };
    for (const n of ['web-n1-20240601120000UTC.tar.gz', 'web-n2-20240601120000UTC.tar.gz', 'api-n1-20240601120000UTC.tar.gz', 'web-readme.txt']) {
      const f = join(dir, n);
      await writeFile(f, `content of ${n}`);
      await uploadToS3(f, cfg);
    }
  });
  afterAll(() => server?.close());

  it('downloads the tarballs of one capture under the default path prefix', async () => {
    const out = join(dir, 's3-web');
    const r = await kr(undefined, 'capture', 'download', '--name', 'web', '--s3-bucket', 'caps', '--s3-endpoint', endpoint, '--s3-region', 'us-east-1', ...creds, '-o', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').at(-1)).toBe(`Downloaded 2 file(s) to ${out}`);
    expect((await readdir(out)).sort()).toEqual(['web-n1-20240601120000UTC.tar.gz', 'web-n2-20240601120000UTC.tar.gz']);
    expect(await readFile(join(out, 'web-n2-20240601120000UTC.tar.gz'), 'utf8')).toBe('content of web-n2-20240601120000UTC.tar.gz');
  });

  it('without --name downloads every tarball under the prefix', async () => {
    const out = join(dir, 's3-all');
    const r = await kr(undefined, 'capture', 'download', '--s3-bucket', 'caps', '--s3-endpoint', endpoint, '--s3-region', 'us-east-1', ...creds, '-o', out);
    expect(r.code).toBe(0);
    expect((await readdir(out)).length).toBe(3);
  });

  it('says what it looked for when nothing matches, and names refused credentials without the secret', async () => {
    const none = await kr(undefined, 'capture', 'download', '--name', 'db', '--s3-bucket', 'caps', '--s3-endpoint', endpoint, '--s3-region', 'us-east-1', ...creds);
    expect(none).toMatchObject({ code: 1, err: 'error: no capture tarballs of db found in s3://caps/retina/captures/db-' });
    const bad = await kr(undefined, 'capture', 'download', '--name', 'web', '--s3-bucket', 'caps', '--s3-endpoint', endpoint, '--s3-region', 'us-east-1', '--s3-access-key-id', 'NOPE', '--s3-secret-access-key', 'hush-hush');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/^error: listing s3:\/\/caps\/retina\/captures\/web- \(HTTP 403\) failed: InvalidAccessKeyId/);
    expect(bad.err).not.toContain('hush-hush');
  });

  it('refuses --blob-url together with --s3-bucket', async () => {
    const r = await kr(undefined, 'capture', 'download', '--blob-url', 'https://a/c?sig=x', '--s3-bucket', 'caps');
    expect(r).toMatchObject({ code: 1, err: 'error: capture download: give either --blob-url or --s3-bucket, not both' });
  });
});

describe('capture download from the nodes through download pods', () => {
  let api: ApiServerDouble;
  let kubeconfig: string;
  let kc: KubeConfig;
  let nodesRoot: string;
  let stopKubelet: () => void;
  /** Pods the simulated kubelet leaves Pending (to exercise the start timeout). */
  const stuckNodes = new Set<string>();
  const execs: ExecRequest[] = [];
  const HOST_PATH = '/var/log/retina/captures/retina';

  beforeAll(async () => {
    api = await startApiServerDouble();
    kubeconfig = await writeKubeconfig(join(dir, 'kubeconfig'), { server: api.url, namespace: 'team', insecureSkipTlsVerify: true });
    kc = new KubeConfig();
    kc.loadFromFile(kubeconfig);
    nodesRoot = await mkdtemp(join(dir, 'nodes-'));
    api.setExecHandler(nodeFilesExecHandler(nodesRoot, (req) => execs.push(req)));
    // Download pods start on their node unless the node is stuck.
    stopKubelet = startKubelet(api, (p) => stuckNodes.has((p as unknown as V1Pod).spec!.nodeName!));
  });
  afterAll(async () => {
    stopKubelet();
    await api.close();
  });

  const bytes = (node: string) => Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i + node.length * 31) % 256));

  beforeEach(async () => {
    for (const n of ['n1', 'n2']) {
      api.apply('nodes', { metadata: { name: n, labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/hostname': n } } });
      const d = join(nodesRoot, n, HOST_PATH);
      await mkdir(d, { recursive: true });
      await writeFile(join(d, `web-${n}-20240601120000UTC.tar.gz`), bytes(n + n));
    }
    const r = await kr(kubeconfig, 'capture', 'create', '--name', 'web', '--node-names', 'n1,n2', '--use-operator', 'false', '--duration', '10s');
    expect(r.code).toBe(0);
    execs.length = 0;
  });
  afterEach(async () => {
    stuckNodes.clear();
    for (const r of ['jobs', 'pods', 'secrets']) for (const o of api.list(r)) api.delete(r, o.metadata.namespace, o.metadata.name);
    await rm(nodesRoot, { recursive: true, force: true });
  });

  it('copies each node tarball out of a pod that mounts the host path, then deletes the pods', async () => {
    const out = join(dir, 'nodes-out');
    const r = await kr(kubeconfig, 'capture', 'download', '--name', 'web', '-o', out);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out.split('\n').at(-1)).toBe(`Downloaded 2 file(s) to ${out}`);
    for (const n of ['n1', 'n2']) {
      expect((await readFile(join(out, `web-${n}-20240601120000UTC.tar.gz`))).equals(bytes(n + n))).toBe(true);
    }
    expect((await readdir(out)).sort()).toEqual(['web-n1-20240601120000UTC.tar.gz', 'web-n2-20240601120000UTC.tar.gz']);

    // Each pod ran on its node, mounted only the capture directory, and was asked to check and then read the file.
    const pods = new Map(execs.map((e) => [e.pod, e.object as unknown as V1Pod]));
    expect([...pods.values()].map((p) => p.spec!.nodeName).sort()).toEqual(['n1', 'n2']);
    for (const p of pods.values()) {
      expect(p.metadata!.labels).toMatchObject({ 'retina.sh/app': 'download', 'capture-name': 'web' });
      expect(p.spec!.volumes).toEqual([{ name: 'capture-host-path', hostPath: { path: HOST_PATH, type: 'Directory' } }]);
      expect(p.spec!.containers[0]!.volumeMounts![0]).toMatchObject({ mountPath: `/host${HOST_PATH}`, readOnly: true });
    }
    expect(execs.map((e) => e.command[0])).toEqual(['wc', 'cat', 'wc', 'cat']);
    expect(api.list('pods')).toEqual([]);
  });

  it('--all downloads every capture of the namespace, --all-namespaces those of every namespace', async () => {
    const r0 = await kr(kubeconfig, '-n', 'other', 'capture', 'create', '--name', 'api', '--node-names', 'n1', '--use-operator', 'false', '--duration', '10s');
    expect(r0.code).toBe(0);
    await writeFile(join(nodesRoot, 'n1', HOST_PATH, 'api-n1-20240601120000UTC.tar.gz'), bytes('api'));
    const one = join(dir, 'all-one');
    const r1 = await kr(kubeconfig, 'capture', 'download', '--all', '-o', one);
    expect(r1.err).toBe('');
    expect(r1.out).toContain('Found 1 capture(s) to download');
    expect((await readdir(join(one, 'team', 'web'))).sort()).toEqual(['web-n1-20240601120000UTC.tar.gz', 'web-n2-20240601120000UTC.tar.gz']);
    await expect(readdir(join(one, 'other'))).rejects.toThrow();

    const every = join(dir, 'all-every');
    const r2 = await kr(kubeconfig, 'capture', 'download', '--all', '--all-namespaces', '-o', every);
    expect(r2.code).toBe(0);
    expect(r2.out.split('\n').at(-1)).toBe(`Downloaded 3 file(s) to ${every}`);
    expect((await readFile(join(every, 'other', 'api', 'api-n1-20240601120000UTC.tar.gz'))).equals(bytes('api'))).toBe(true);
    expect(api.list('pods')).toEqual([]);

    const bad = await kr(kubeconfig, 'capture', 'download', '--all-namespaces');
    expect([bad.code, bad.err]).toEqual([1, 'error: --all-namespaces can only be used with --all']);
    const none = await kr(kubeconfig, '-n', 'empty', 'capture', 'download', '--all', '-o', join(dir, 'none'));
    expect(none.out).toContain('No captures found in namespace empty');
  });

  it('reports a node without the tarball, still downloads the others, and deletes every pod', async () => {
    await rm(join(nodesRoot, 'n2', HOST_PATH, 'web-n2-20240601120000UTC.tar.gz'));
    const out = join(dir, 'nodes-partial');
    const r = await kr(kubeconfig, 'capture', 'download', '--name', 'web', '-o', out);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `error: downloaded 1 of 2 tarball(s); node n2: node n2 has no readable ${HOST_PATH}/web-n2-20240601120000UTC.tar.gz (the capture may still be running, or failed)`,
    );
    expect(await readdir(out)).toEqual(['web-n1-20240601120000UTC.tar.gz']);
    expect(api.list('pods')).toEqual([]);
  });

  it('gives up on a download pod that does not start, and deletes it', async () => {
    stuckNodes.add('n1');
    const out = join(dir, 'nodes-stuck');
    const err = (await downloadCapture({
      name: 'web',
      output: out,
      kube: { kc, namespace: 'team' },
      out: () => {},
      podReadyTimeoutMs: 100,
      pollIntervalMs: 10,
    }).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/^downloaded 1 of 2 tarball\(s\); node n1: download pod team\/web-download-n1-[a-z0-9]{5} on node n1 did not start within 0.1 s \(phase unknown\)$/);
    expect(api.list('pods')).toEqual([]);
  });

  it('names a capture that does not exist', async () => {
    const r = await kr(kubeconfig, 'capture', 'download', '--name', 'nope');
    expect(r).toMatchObject({ code: 1, err: 'error: capture nope in namespace team was not found' });
  });

  it('keeps generated pod names within the limit for long node names', () => {
    const m = downloadPodManifest('web', 'team', { node: 'x'.repeat(80), jobName: 'j', hostPath: '/h', file: 'f' });
    expect(m.metadata!.generateName!.length + 5).toBeLessThanOrEqual(63);
    expect(m.metadata!.generateName!.endsWith('-')).toBe(true);
  });
});
