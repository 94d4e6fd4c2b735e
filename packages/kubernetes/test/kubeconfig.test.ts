/**
 * Finding the client configuration: explicit path, KUBECONFIG (several files merged), the in-cluster service
 * account (over TLS with a bearer token, against the double), and the errors for unusable configurations.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InMemoryIpCache } from '@retina-ts/core';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble } from '@retina-ts/k8s-apiserver-double';
import { KubeconfigError, resolveKubeconfig, startKubernetes } from '../src/index.js';
import { agentConfig, captureLogger, eventually, FAST_BACKOFF, pod } from './helpers.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retina-kcfg-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resolveKubeconfig', () => {
  it('loads an explicit path first', async () => {
    const file = await writeKubeconfig(join(dir, 'explicit'), { server: 'https://10.220.0.1:6443', token: 't' });
    const r = resolveKubeconfig({ kubeconfig: file, env: { KUBECONFIG: '/nonexistent' } })!;
    expect(r).toMatchObject({ source: 'explicit', server: 'https://10.220.0.1:6443', file });
  });

  it('merges the files of KUBECONFIG, the first current-context winning', async () => {
    const a = await writeKubeconfig(join(dir, 'a'), { server: 'https://10.220.0.2:6443', name: 'a' });
    const b = await writeKubeconfig(join(dir, 'b'), { server: 'https://10.220.0.3:6443', name: 'b' });
    const r = resolveKubeconfig({ env: { KUBECONFIG: `${a}:${b}` } })!;
    expect(r).toMatchObject({ source: 'env', server: 'https://10.220.0.2:6443', file: a });
    expect(r.kubeConfig.getContexts().map((c) => c.name).sort()).toEqual(['a', 'b']);
  });

  it('is undefined without any configuration', () => {
    expect(resolveKubeconfig({ env: {} })).toBeUndefined();
    // A service host without the service account token is not a cluster either.
    expect(resolveKubeconfig({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, inClusterPathPrefix: dir })).toBeUndefined();
  });

  it('names the file and the problem when a configuration is unusable', async () => {
    expect(() => resolveKubeconfig({ kubeconfig: join(dir, 'nope') })).toThrow(KubeconfigError);
    expect(() => resolveKubeconfig({ kubeconfig: join(dir, 'nope') })).toThrow(`kubeconfig ${join(dir, 'nope')}: no such file`);
    const bad = join(dir, 'bad');
    await writeFile(bad, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    expect(() => resolveKubeconfig({ kubeconfig: bad })).toThrow(/no current cluster with a server URL/);
    expect(() => resolveKubeconfig({ env: { KUBECONFIG: join(dir, 'nope') } })).toThrow(/KUBECONFIG=.*no such file/);
  });
});

describe('in-cluster configuration against a TLS API server requiring a token', () => {
  let api: ApiServerDouble;
  let prefix: string;

  beforeAll(async () => {
    const tls = join(dir, 'tls');
    await mkdir(tls, { recursive: true });
    // A self-signed certificate for 127.0.0.1 serves as its own CA, like a cluster's ca.crt.
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=kube-apiserver',
      '-addext', 'subjectAltName=IP:127.0.0.1',
      '-keyout', join(tls, 'key.pem'), '-out', join(tls, 'cert.pem'),
    ], { stdio: 'ignore' });
    const cert = await readFile(join(tls, 'cert.pem'));
    api = await startApiServerDouble({ tls: { key: await readFile(join(tls, 'key.pem')), cert }, token: 'sa-token' });
    prefix = join(dir, 'root');
    const sa = join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, 'token'), 'sa-token');
    await writeFile(join(sa, 'ca.crt'), cert);
    await writeFile(join(sa, 'namespace'), 'kube-system');
  });
  afterAll(async () => {
    await api?.close();
  });

  it('uses the service account and watches pods over TLS', async () => {
    api.create('pods', pod({ name: 'tls-pod', ip: '10.220.1.1' }));
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(api.port) };
    const r = resolveKubeconfig({ env, inClusterPathPrefix: prefix })!;
    expect(r).toMatchObject({ source: 'in-cluster', server: `https://127.0.0.1:${api.port}` });
    // The variables were only lent to the client while it loaded.
    expect(process.env.KUBERNETES_SERVICE_PORT).not.toBe(String(api.port));

    const cache = new InMemoryIpCache();
    const h = startKubernetes({
      config: agentConfig(),
      ipCache: cache,
      logger: captureLogger().logger,
      env,
      inClusterPathPrefix: prefix,
      backoff: FAST_BACKOFF,
      podInterfaces: false,
    });
    try {
      await h.ready;
      expect(h.status()).toMatchObject({ state: 'synced', mode: 'in-cluster' });
      await eventually(() => expect(cache.lookup('10.220.1.1')?.name).toBe('tls-pod'));
      expect(api.requests().every((r) => r.status !== 401)).toBe(true);
    } finally {
      await h.stop();
    }
  });
});
