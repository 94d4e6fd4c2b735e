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

describe('plain http API server (kubectl proxy)', () => {
  let api: ApiServerDouble;

  beforeAll(async () => {
    api = await startApiServerDouble();
  });
  afterAll(async () => {
    await api?.close();
  });

  /** A kubeconfig of a plain http server as kubectl proxy users write it: no insecure-skip-tls-verify. */
  async function proxyKubeconfig(name: string, server: string, skip = false): Promise<string> {
    const file = await writeKubeconfig(join(dir, name), { server, insecureSkipTlsVerify: skip });
    expect(await readFile(file, 'utf8')).toContain(skip ? 'insecure-skip-tls-verify: true' : `server: "${server}"`);
    if (!skip) expect(await readFile(file, 'utf8')).not.toContain('insecure-skip-tls-verify');
    return file;
  }

  it('accepts loopback http servers and says why', async () => {
    for (const server of ['http://127.0.0.1:8001', 'http://127.3.0.9', 'http://[::1]:8001', 'http://localhost:8001']) {
      const r = resolveKubeconfig({ kubeconfig: await proxyKubeconfig('loop', server) })!;
      expect(r.server).toBe(server);
      expect(r.plainHttp).toMatch(/^plain http \(no TLS\) to a loopback address/);
    }
    const tls = resolveKubeconfig({ kubeconfig: await proxyKubeconfig('https-loop', 'https://127.0.0.1:6443') })!;
    expect(tls.plainHttp).toBeUndefined();
  });

  it('refuses non-loopback http unless the kubeconfig sets insecure-skip-tls-verify, naming the server', async () => {
    const file = await proxyKubeconfig('remote', 'http://10.220.0.9:8001');
    expect(() => resolveKubeconfig({ kubeconfig: file })).toThrow(KubeconfigError);
    expect(() => resolveKubeconfig({ kubeconfig: file })).toThrow(
      `kubeconfig ${file}: cluster server http://10.220.0.9:8001 is plain http on a non-loopback host; use https, or set insecure-skip-tls-verify: true on cluster "double"`,
    );
    const allowed = resolveKubeconfig({ kubeconfig: await proxyKubeconfig('remote-skip', 'http://10.220.0.9:8001', true) })!;
    expect(allowed.plainHttp).toMatch(/non-loopback address, allowed by insecure-skip-tls-verify/);
  });

  it('names a server that is not an http(s) URL', async () => {
    const notUrl = await proxyKubeconfig('not-url', 'localhost:8001x');
    expect(() => resolveKubeconfig({ kubeconfig: notUrl })).toThrow(/cluster server localhost:8001x has protocol localhost:/);
    const bare = await proxyKubeconfig('bare', '127.0.0.1:8001');
    expect(() => resolveKubeconfig({ kubeconfig: bare })).toThrow(`cluster server "127.0.0.1:8001" is not a URL`);
  });

  it('watches pods through the real client over plain http and warns once naming the server', async () => {
    const file = await proxyKubeconfig('proxy', api.url);
    expect(api.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    // What the agent got before: the client itself refuses this kubeconfig.
    const { CoreV1Api, KubeConfig } = await import('@kubernetes/client-node');
    const raw = new KubeConfig();
    raw.loadFromFile(file);
    await expect(raw.makeApiClient(CoreV1Api).listNamespace()).rejects.toThrow(
      'HTTP protocol is not allowed when skipTLSVerify is not set or false',
    );

    api.create('pods', pod({ name: 'proxied-pod', ip: '10.220.2.1' }));
    const cache = new InMemoryIpCache();
    const { logger, lines } = captureLogger();
    const h = startKubernetes({
      config: agentConfig(),
      ipCache: cache,
      logger,
      env: { KUBECONFIG: file },
      backoff: FAST_BACKOFF,
      podInterfaces: false,
    });
    try {
      await h.ready;
      expect(h.status()).toMatchObject({ state: 'synced' });
      await eventually(() => expect(cache.lookup('10.220.2.1')?.name).toBe('proxied-pod'));
      const warnings = lines.filter((l) => String(l['msg']).includes('plain http'));
      expect(warnings).toEqual([
        expect.objectContaining({
          level: 'warn',
          server: api.url,
          msg: `Kubernetes API server ${api.url}: plain http (no TLS) to a loopback address, as kubectl proxy serves`,
        }),
      ]);
      expect(lines.some((l) => String(l['msg']).includes('HTTP protocol is not allowed'))).toBe(false);
    } finally {
      await h.stop();
    }
  });
});
