/**
 * Custom resources' status subresource, metadata.generation, CustomResourceDefinition objects and the pods'
 * ephemeralcontainers subresource, over HTTP as clients write them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServerDouble, type ApiServerDouble, type KubeObject } from '../src/index.js';

let api: ApiServerDouble;
beforeEach(async () => {
  api = await startApiServerDouble();
});
afterEach(async () => {
  await api.close();
});

async function call(method: string, path: string, body?: unknown, contentType = 'application/json') {
  const res = await fetch(`${api.url}${path}`, {
    method,
    headers: { 'content-type': contentType },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as KubeObject & { status?: unknown; spec?: unknown } };
}

const MC = '/apis/retina.sh/v1alpha1/metricsconfigurations';

describe('status subresource of custom resources', () => {
  it('ignores status on create and object writes, and spec on status writes', async () => {
    const created = await call('POST', MC, { metadata: { name: 'm' }, spec: { a: 1 }, status: { state: 'Accepted' } });
    expect(created.status).toBe(201);
    expect(created.body.status).toBeUndefined();
    expect(created.body.metadata.generation).toBe(1);

    const st = await call('PATCH', `${MC}/m/status`, { spec: { a: 2 }, status: { state: 'Errored' } }, 'application/merge-patch+json');
    expect(st.status).toBe(200);
    expect(st.body.status).toEqual({ state: 'Errored' });
    expect(st.body.spec).toEqual({ a: 1 });
    expect(st.body.metadata.generation).toBe(1);

    const cur = api.get('metricsconfigurations', undefined, 'm');
    const put = await call('PUT', `${MC}/m`, { ...cur, spec: { a: 3 }, status: { state: 'Accepted' } });
    expect(put.body.status).toEqual({ state: 'Errored' });
    expect(put.body.spec).toEqual({ a: 3 });
    expect(put.body.metadata.generation).toBe(2);

    const labelsOnly = await call('PATCH', `${MC}/m`, { metadata: { labels: { x: 'y' } } }, 'application/merge-patch+json');
    expect(labelsOnly.body.metadata.generation).toBe(2);

    const stale = await call('PUT', `${MC}/m/status`, { ...cur, status: { state: 'Accepted' } });
    expect(stale.status).toBe(409);
  });
});

describe('CustomResourceDefinitions', () => {
  it('are cluster-scoped objects of apiextensions.k8s.io/v1', async () => {
    const path = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
    const crd = { metadata: { name: 'captures.retina.sh' }, spec: { group: 'retina.sh' } };
    expect((await call('POST', path, crd)).status).toBe(201);
    expect((await call('POST', path, crd)).status).toBe(409);
    const got = await call('GET', `${path}/captures.retina.sh`);
    expect(got.body.kind).toBe('CustomResourceDefinition');
    expect(got.body.spec).toEqual({ group: 'retina.sh' });
  });
});

describe('pods/ephemeralcontainers', () => {
  it('changes only spec.ephemeralContainers', async () => {
    api.create('pods', { metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [{ name: 'c' }] } });
    const cur = api.get('pods', 'ns', 'p');
    const body = {
      ...cur,
      metadata: { ...cur.metadata, labels: { ignored: 'yes' } },
      spec: { containers: [], ephemeralContainers: [{ name: 'debug', image: 'img' }] },
    };
    const res = await call('PUT', '/api/v1/namespaces/ns/pods/p/ephemeralcontainers', body);
    expect(res.status).toBe(200);
    const after = api.get<KubeObject & { spec: { containers: unknown[]; ephemeralContainers: unknown[] } }>('pods', 'ns', 'p');
    expect(after.spec.containers).toEqual([{ name: 'c' }]);
    expect(after.spec.ephemeralContainers).toEqual([{ name: 'debug', image: 'img' }]);
    expect(after.metadata.labels).toBeUndefined();
    expect(api.requests({ resource: 'pods', verb: 'update' })[0]!.subresource).toBe('ephemeralcontainers');
  });
});

describe('pods/attach', () => {
  it('hands the client input to the attach handler and sends back its output, refusing unknown containers', async () => {
    const { Attach, KubeConfig } = await import('@kubernetes/client-node');
    const { PassThrough } = await import('node:stream');
    const { mkdtemp } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { writeKubeconfig } = await import('../src/index.js');
    const file = await writeKubeconfig(join(await mkdtemp(join(tmpdir(), 'double-attach-')), 'kubeconfig'), { server: api.url });
    const kc = new KubeConfig();
    kc.loadFromFile(file);
    api.create('pods', { metadata: { name: 'p', namespace: 'ns' }, spec: { containers: [{ name: 'c' }] }, status: { phase: 'Running' } });
    api.setAttachHandler(async ({ container, input }) => {
      let typed = '';
      for await (const chunk of input) {
        typed += chunk.toString();
        if (typed.endsWith('\n')) break;
      }
      return { stdout: `${container}: ${typed}` };
    });
    const stdin = new PassThrough();
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    const ws = await new Attach(kc).attach('ns', 'p', 'c', stdout, null, stdin, true);
    stdin.write('hello\n');
    await new Promise((r) => ws.on('close', r));
    expect(out).toBe('c: hello\n');
    await expect(new Attach(kc).attach('ns', 'p', 'nope', new PassThrough(), null, new PassThrough(), true)).rejects.toBeDefined();
    expect(api.requests({ resource: 'pods' }).filter((r) => r.subresource === 'attach').map((r) => r.status)).toEqual([101, 400]);
  });
});
