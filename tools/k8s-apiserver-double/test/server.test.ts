/**
 * The double's protocol over real HTTP: what a client sees on the wire for list, watch, bookmarks, 410, paging,
 * selectors, writes, failures and going off-line.
 */
import http from 'node:http';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble, type KubeObject } from '../src/index.js';

interface WatchEvent {
  type: string;
  object: KubeObject & { code?: number; reason?: string };
}

/** An open watch: the events received so far and a way to wait for more. */
interface WatchStream {
  status: number;
  events: WatchEvent[];
  ended: Promise<void>;
  next(n: number): Promise<WatchEvent[]>;
  close(): void;
}

function openWatch(url: string): Promise<WatchStream> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, (res) => {
      const events: WatchEvent[] = [];
      let buf = '';
      let wake: (() => void) | undefined;
      let endedResolve: () => void;
      const ended = new Promise<void>((r) => (endedResolve = r));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, i)) as WatchEvent);
          buf = buf.slice(i + 1);
        }
        wake?.();
      });
      res.on('end', () => endedResolve());
      res.on('close', () => endedResolve());
      resolve({
        status: res.statusCode ?? 0,
        events,
        ended,
        async next(n) {
          const deadline = Date.now() + 5000;
          while (events.length < n) {
            if (Date.now() > deadline) throw new Error(`only ${events.length} of ${n} watch events arrived`);
            await new Promise<void>((r) => {
              wake = r;
              setTimeout(r, 50);
            });
          }
          return events.slice(0, n);
        },
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}

const pod = (name: string, labels: Record<string, string> = {}, nodeName = 'node-a'): KubeObject => ({
  metadata: { name, namespace: 'default', labels },
  spec: { nodeName },
  status: { podIP: '10.200.0.1' },
});

describe('API server double', () => {
  let api: ApiServerDouble;
  const open: WatchStream[] = [];
  const watch = async (path: string) => {
    const w = await openWatch(api.url + path);
    open.push(w);
    return w;
  };

  beforeEach(async () => {
    api = await startApiServerDouble();
  });
  afterEach(async () => {
    for (const w of open.splice(0)) w.close();
    await api.close();
  });

  it('lists with a resourceVersion and without kind on built-in items', async () => {
    api.create('pods', pod('a'));
    api.create('Pod', pod('b'));
    const res = await fetch(`${api.url}/api/v1/namespaces/default/pods`);
    const body = (await res.json()) as { kind: string; metadata: { resourceVersion: string }; items: KubeObject[] };
    expect(body.kind).toBe('PodList');
    expect(body.items.map((p) => p.metadata.name)).toEqual(['a', 'b']);
    expect(body.items[0]!.kind).toBeUndefined();
    expect(body.metadata.resourceVersion).toBe(String(api.store.resourceVersion));
    const one = (await (await fetch(`${api.url}/api/v1/namespaces/default/pods/b`)).json()) as KubeObject;
    expect(one.kind).toBe('Pod');
    expect(one.metadata.uid).toMatch(/[0-9a-f-]{36}/);
  });

  it('keeps kind and apiVersion on custom resource list items', async () => {
    api.create('retinaendpoints', { metadata: { name: 'ep', namespace: 'default' }, spec: { podIP: '10.200.0.9' } });
    const body = (await (await fetch(`${api.url}/apis/retina.sh/v1alpha1/retinaendpoints`)).json()) as { items: KubeObject[] };
    expect(body.items[0]).toMatchObject({ kind: 'RetinaEndpoint', apiVersion: 'retina.sh/v1alpha1' });
  });

  it('pages a list with limit and continue at one resourceVersion', async () => {
    for (const n of ['a', 'b', 'c', 'd', 'e']) api.create('pods', pod(n));
    const first = (await (await fetch(`${api.url}/api/v1/pods?limit=2`)).json()) as {
      metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
      items: KubeObject[];
    };
    expect(first.items.map((p) => p.metadata.name)).toEqual(['a', 'b']);
    expect(first.metadata.remainingItemCount).toBe(3);
    // Changes after the first page do not show in later pages: the list is a snapshot.
    api.delete('pods', 'default', 'c');
    api.create('pods', pod('f'));
    const second = (await (await fetch(`${api.url}/api/v1/pods?limit=2&continue=${first.metadata.continue}`)).json()) as typeof first;
    expect(second.items.map((p) => p.metadata.name)).toEqual(['c', 'd']);
    expect(second.metadata.resourceVersion).toBe(first.metadata.resourceVersion);
    const third = (await (await fetch(`${api.url}/api/v1/pods?limit=2&continue=${second.metadata.continue}`)).json()) as typeof first;
    expect(third.items.map((p) => p.metadata.name)).toEqual(['e']);
    expect(third.metadata.continue).toBeUndefined();
  });

  it('answers 410 for a continue token older than the compaction', async () => {
    for (const n of ['a', 'b', 'c']) api.create('pods', pod(n));
    const first = (await (await fetch(`${api.url}/api/v1/pods?limit=1`)).json()) as { metadata: { continue: string } };
    api.create('pods', pod('d'));
    api.compact();
    const res = await fetch(`${api.url}/api/v1/pods?limit=1&continue=${first.metadata.continue}`);
    expect(res.status).toBe(410);
    expect(await res.json()).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
  });

  it('filters lists and watches by label and field selectors', async () => {
    api.create('pods', pod('a', { app: 'web' }, 'node-a'));
    api.create('pods', pod('b', { app: 'db' }, 'node-a'));
    api.create('pods', pod('c', { app: 'web' }, 'node-b'));
    const body = (await (
      await fetch(`${api.url}/api/v1/pods?labelSelector=${encodeURIComponent('app=web')}&fieldSelector=${encodeURIComponent('spec.nodeName=node-a')}`)
    ).json()) as { items: KubeObject[] };
    expect(body.items.map((p) => p.metadata.name)).toEqual(['a']);
    const bad = await fetch(`${api.url}/api/v1/pods?labelSelector=${encodeURIComponent('app >> 1')}`);
    expect(bad.status).toBe(400);
  });

  it('streams the current objects, then changes, to a watch without resourceVersion', async () => {
    api.create('pods', pod('a'));
    const w = await watch('/api/v1/pods?watch=true');
    expect(w.status).toBe(200);
    await w.next(1);
    api.modify('pods', 'default', 'a', (p) => {
      p.metadata.labels = { v: '2' };
    });
    api.delete('pods', 'default', 'a');
    const evs = await w.next(3);
    expect(evs.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(evs[1]!.object.metadata.labels).toEqual({ v: '2' });
    expect(Number(evs[2]!.object.metadata.resourceVersion)).toBe(api.store.resourceVersion);
  });

  it('replays the changes after a given resourceVersion', async () => {
    api.create('pods', pod('a'));
    const rv = api.store.resourceVersion;
    api.create('pods', pod('b'));
    api.delete('pods', 'default', 'a');
    const w = await watch(`/api/v1/pods?watch=1&resourceVersion=${rv}`);
    const evs = await w.next(2);
    expect(evs.map((e) => [e.type, e.object.metadata.name])).toEqual([
      ['ADDED', 'b'],
      ['DELETED', 'a'],
    ]);
  });

  it('turns a change out of a watch selection into DELETED and into it into ADDED', async () => {
    api.create('pods', pod('a', { app: 'web' }));
    const w = await watch(`/api/v1/pods?watch=true&labelSelector=app%3Dweb&resourceVersion=${api.store.resourceVersion}`);
    api.modify('pods', 'default', 'a', (p) => {
      p.metadata.labels = { app: 'db' };
    });
    api.modify('pods', 'default', 'a', (p) => {
      p.metadata.labels = { app: 'web' };
    });
    expect((await w.next(2)).map((e) => e.type)).toEqual(['DELETED', 'ADDED']);
  });

  it('sends bookmarks only to watches that allow them', async () => {
    const withBm = await watch(`/api/v1/pods?watch=true&allowWatchBookmarks=true&resourceVersion=${api.store.resourceVersion}`);
    const without = await watch(`/api/v1/pods?watch=true&resourceVersion=${api.store.resourceVersion}`);
    await api.waitFor(() => api.openWatches('pods') === 2, 'two watches');
    api.create('nodes', { metadata: { name: 'n1' } });
    expect(api.sendBookmarks()).toBe(1);
    const [bm] = await withBm.next(1);
    expect(bm).toEqual({
      type: 'BOOKMARK',
      object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(api.store.resourceVersion) } },
    });
    api.create('pods', pod('x'));
    expect((await without.next(1))[0]!.type).toBe('ADDED');
  });

  it('refuses a watch from a compacted resourceVersion with an ERROR event or a 410 status', async () => {
    api.create('pods', pod('a'));
    const old = api.store.resourceVersion - 1;
    api.create('pods', pod('b'));
    api.compact();
    const w = await watch(`/api/v1/pods?watch=true&resourceVersion=${old}`);
    expect(w.status).toBe(200);
    const [ev] = await w.next(1);
    expect(ev).toMatchObject({ type: 'ERROR', object: { kind: 'Status', code: 410 } });
    await w.ended;

    const strict = await startApiServerDouble({ goneAs: 'status' });
    try {
      strict.create('pods', pod('a'));
      strict.create('pods', pod('b'));
      strict.compact();
      const res = await fetch(`${strict.url}/api/v1/pods?watch=true&resourceVersion=1`);
      expect(res.status).toBe(410);
    } finally {
      await strict.close();
    }
  });

  it('closes watches on demand, cleanly or by resetting the connection', async () => {
    const a = await watch('/api/v1/pods?watch=true');
    const b = await watch('/api/v1/services?watch=true');
    await api.waitFor(() => api.openWatches() === 2, 'two watches');
    expect(api.closeWatches('pods')).toBe(1);
    await a.ended;
    expect(api.openWatches()).toBe(1);
    expect(api.closeWatches(undefined, 'destroy')).toBe(1);
    await b.ended;
    expect(api.openWatches()).toBe(0);
  });

  it('ends a watch after timeoutSeconds', async () => {
    const w = await watch('/api/v1/pods?watch=true&timeoutSeconds=1');
    await w.ended;
    expect(api.openWatches()).toBe(0);
  });

  it('creates, replaces, merge-patches and deletes over HTTP', async () => {
    const post = await fetch(`${api.url}/api/v1/namespaces/ns1/pods`, {
      method: 'POST',
      body: JSON.stringify({ metadata: { name: 'p' }, spec: {} }),
    });
    expect(post.status).toBe(201);
    const created = (await post.json()) as KubeObject;
    expect(created.metadata.namespace).toBe('ns1');
    const dup = await fetch(`${api.url}/api/v1/namespaces/ns1/pods`, { method: 'POST', body: JSON.stringify({ metadata: { name: 'p' } }) });
    expect(dup.status).toBe(409);
    const stale = await fetch(`${api.url}/api/v1/namespaces/ns1/pods/p`, {
      method: 'PUT',
      body: JSON.stringify({ metadata: { name: 'p', resourceVersion: '1' } }),
    });
    expect(stale.status).toBe(409);
    const patch = await fetch(`${api.url}/api/v1/namespaces/ns1/pods/p`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ metadata: { labels: { a: 'b' } } }),
    });
    expect(((await patch.json()) as KubeObject).metadata.labels).toEqual({ a: 'b' });
    expect((await fetch(`${api.url}/api/v1/namespaces/ns1/pods/p`, { method: 'DELETE' })).status).toBe(200);
    const gone = await fetch(`${api.url}/api/v1/namespaces/ns1/pods/p`);
    expect(gone.status).toBe(404);
    expect(await gone.json()).toMatchObject({ kind: 'Status', reason: 'NotFound', message: 'pods "p" not found' });
  });

  it('serves cluster-scoped resources and discovery', async () => {
    api.create('namespaces', { metadata: { name: 'kube-system' } });
    const ns = (await (await fetch(`${api.url}/api/v1/namespaces/kube-system`)).json()) as KubeObject;
    expect(ns.metadata).toMatchObject({ name: 'kube-system' });
    expect(ns.metadata.namespace).toBeUndefined();
    const rl = (await (await fetch(`${api.url}/apis/apps/v1`)).json()) as { resources: { name: string }[] };
    expect(rl.resources.map((r) => r.name)).toContain('replicasets');
    expect(await (await fetch(`${api.url}/version`)).json()).toMatchObject({ gitVersion: 'v1.31.0' });
  });

  it('answers injected failures and records requests', async () => {
    api.injectFailure({ resource: 'pods', verb: 'list', status: 503, count: 2 });
    expect((await fetch(`${api.url}/api/v1/pods`)).status).toBe(503);
    expect((await fetch(`${api.url}/api/v1/services`)).status).toBe(200);
    expect((await fetch(`${api.url}/api/v1/pods`)).status).toBe(503);
    expect((await fetch(`${api.url}/api/v1/pods`)).status).toBe(200);
    expect(api.requests({ resource: 'pods', verb: 'list' }).map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('requires the bearer token when one is set', async () => {
    const secured = await startApiServerDouble({ token: 's3cret' });
    try {
      expect((await fetch(`${secured.url}/api/v1/pods`)).status).toBe(401);
      expect((await fetch(`${secured.url}/api/v1/pods`, { headers: { authorization: 'Bearer s3cret' } })).status).toBe(200);
    } finally {
      await secured.close();
    }
  });

  it('goes off-line and comes back on the same port with its objects', async () => {
    api.create('pods', pod('a'));
    const w = await watch('/api/v1/pods?watch=true');
    const port = api.port;
    await api.goOffline();
    await w.ended;
    await expect(fetch(`${api.url}/api/v1/pods`)).rejects.toThrow();
    await api.goOnline();
    expect(api.port).toBe(port);
    const body = (await (await fetch(`${api.url}/api/v1/pods`)).json()) as { items: KubeObject[] };
    expect(body.items).toHaveLength(1);
  });

  it('writes a kubeconfig naming the server, token and namespace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kcfg-'));
    const file = await writeKubeconfig(join(dir, 'sub', 'config'), { server: api.url, token: 't"k', namespace: 'ns1' });
    const text = await readFile(file, 'utf8');
    expect(text).toContain(`server: "${api.url}"`);
    expect(text).toContain('token: "t\\"k"');
    expect(text).toContain('namespace: "ns1"');
    expect(text).toContain('current-context: "double"');
  });
});
