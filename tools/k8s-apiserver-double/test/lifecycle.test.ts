/**
 * Secrets, Leases, generated names, finalizers, and the pod subresources (`log`, `exec` over WebSocket), driven by
 * the official client exactly as tools using them would.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, Exec, KubeConfig, type V1Status } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble, type ExecRequest } from '../src/index.js';

let api: ApiServerDouble;
let kc: KubeConfig;
let dir: string;

beforeAll(async () => {
  api = await startApiServerDouble({ token: 't0ken' });
  dir = await mkdtemp(join(tmpdir(), 'double-lifecycle-'));
  const file = join(dir, 'kubeconfig');
  await writeKubeconfig(file, { server: api.url, token: 't0ken' });
  kc = new KubeConfig();
  kc.loadFromFile(file);
});
afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

describe('secrets and generated names', () => {
  it('names a secret from generateName and serves it back', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const s = await core.createNamespacedSecret({
      namespace: 'ns1',
      body: { metadata: { generateName: 'upload-secret-' }, data: { key: Buffer.from('v').toString('base64') } },
    });
    expect(s.metadata?.name).toMatch(/^upload-secret-[a-z0-9]{5}$/);
    const back = await core.readNamespacedSecret({ namespace: 'ns1', name: s.metadata!.name! });
    expect(Buffer.from(back.data!.key!, 'base64').toString()).toBe('v');
  });

  it('still requires a name or generateName', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await expect(core.createNamespacedSecret({ namespace: 'ns1', body: { metadata: {} } })).rejects.toThrow(/metadata.name or metadata.generateName/);
  });
});

describe('leases', () => {
  it('creates and replaces a Lease, refusing a stale resourceVersion', async () => {
    const co = kc.makeApiClient(CoordinationV1Api);
    const lease = await co.createNamespacedLease({
      namespace: 'kube-system',
      body: { metadata: { name: 'lock' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } },
    });
    const renewed = await co.replaceNamespacedLease({
      namespace: 'kube-system',
      name: 'lock',
      body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } },
    });
    expect(renewed.spec?.holderIdentity).toBe('b');
    await expect(co.replaceNamespacedLease({ namespace: 'kube-system', name: 'lock', body: lease })).rejects.toThrow(/409|Conflict/);
  });
});

describe('finalizers', () => {
  it('marks an object with finalizers on delete and removes it with the last finalizer', async () => {
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: 'retina.sh', version: 'v1alpha1', namespace: 'ns1', plural: 'captures' };
    await custom.createNamespacedCustomObject({
      ...ref,
      body: { apiVersion: 'retina.sh/v1alpha1', kind: 'Capture', metadata: { name: 'c1', finalizers: ['a/x', 'a/y'] }, spec: {} },
    });
    await custom.deleteNamespacedCustomObject({ ...ref, name: 'c1' });
    const marked = api.get('captures', 'ns1', 'c1');
    expect(marked.metadata.deletionTimestamp).toEqual(expect.any(String));

    // No new finalizers while deleting.
    const more = { ...marked, metadata: { ...marked.metadata, finalizers: ['a/x', 'a/y', 'a/z'] } };
    await expect(custom.replaceNamespacedCustomObject({ ...ref, name: 'c1', body: more })).rejects.toThrow(/no new finalizers/);

    api.modify('captures', 'ns1', 'c1', (o) => {
      o.metadata.finalizers = ['a/y'];
    });
    expect(api.get('captures', 'ns1', 'c1').metadata.deletionTimestamp).toBe(marked.metadata.deletionTimestamp);
    api.modify('captures', 'ns1', 'c1', (o) => {
      o.metadata.finalizers = [];
    });
    expect(() => api.get('captures', 'ns1', 'c1')).toThrow(/not found/);
  });

  it('deletes an object without finalizers at once', () => {
    api.create('secrets', { metadata: { name: 'plain', namespace: 'ns1' } });
    api.delete('secrets', 'ns1', 'plain');
    expect(api.list('secrets').map((s) => s.metadata.name)).not.toContain('plain');
  });
});

describe('pod subresources', () => {
  beforeAll(() => {
    api.create('pods', { metadata: { name: 'runner', namespace: 'ns2' }, status: { phase: 'Running' } });
    api.create('pods', { metadata: { name: 'pending', namespace: 'ns2' }, status: { phase: 'Pending' } });
  });

  it('serves the log set by the test', async () => {
    api.setPodLog('ns2', 'runner', 'line 1\nline 2\n');
    const core = kc.makeApiClient(CoreV1Api);
    expect(await core.readNamespacedPodLog({ namespace: 'ns2', name: 'runner' })).toBe('line 1\nline 2\n');
  });

  async function exec(pod: string, command: string[]): Promise<{ stdout: Buffer; stderr: string; status: V1Status }> {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    stdout.on('data', (c: Buffer) => out.push(c));
    stderr.on('data', (c: Buffer) => err.push(c));
    const status = await new Promise<V1Status>((resolve, reject) => {
      new Exec(kc).exec('ns2', pod, 'main', command, stdout, stderr, null, false, resolve).catch(reject);
    });
    return { stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString(), status };
  }

  it('runs exec through the handler: binary output in several frames, exit code in the Status', async () => {
    const seen: ExecRequest[] = [];
    const payload = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i % 256));
    api.setExecHandler((req) => {
      seen.push(req);
      if (req.command[0] === 'cat') return { stdout: payload };
      return { stderr: 'no such file\n', exitCode: 1 };
    });
    const ok = await exec('runner', ['cat', '/host/file']);
    expect(ok.status.status).toBe('Success');
    expect(ok.stdout.equals(payload)).toBe(true);
    expect(seen[0]).toMatchObject({ namespace: 'ns2', pod: 'runner', container: 'main', command: ['cat', '/host/file'] });

    const bad = await exec('runner', ['test', '-r', '/host/missing']);
    expect(bad.status).toMatchObject({ status: 'Failure', reason: 'NonZeroExitCode', details: { causes: [{ reason: 'ExitCode', message: '1' }] } });
    expect(bad.stderr).toBe('no such file\n');
    expect(api.requests({ resource: 'pods' }).filter((r) => r.subresource === 'exec').map((r) => r.status)).toEqual([101, 101]);
  });

  it('refuses exec into a pod that is not running or does not exist', async () => {
    await expect(exec('pending', ['true'])).rejects.toBeDefined();
    await expect(exec('absent', ['true'])).rejects.toBeDefined();
    const statuses = api
      .requests({ resource: 'pods' })
      .filter((r) => r.subresource === 'exec')
      .map((r) => r.status);
    expect(statuses.slice(-2)).toEqual([400, 404]);
  });
});
