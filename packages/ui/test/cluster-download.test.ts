/**
 * Cluster capture downloads through the UI server: the server reads a done Capture's tarballs off their nodes
 * the way `kubectl retina capture download` does (the same code of @retina-ts/capture: a download pod mounting
 * the host path, `wc -c` and `cat` over exec), against the API server double, whose node-files exec handler plays
 * the pod's container and serves files only through its hostPath mount. The browser's side is plain HTTP here:
 * the bytes, the headers, one download at a time per capture, the size limit, the time limit, and errors naming
 * the cause; every download pod is deleted afterwards. Then the Capture page in Debian's chromium: a link per
 * node, one tarball downloaded through the page, and a node without its file shown as an error beside its link.
 */
import { mkdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { renderCaptureJob, type Capture } from '@retina-ts/capture';
import {
  nodeFilesExecHandler,
  startApiServerDouble,
  startKubelet,
  writeKubeconfig,
  type ApiServerDouble,
  type ExecRequest,
  type KubeObject,
} from '@retina-ts/k8s-apiserver-double';
import { commandExists, describeKernel } from '@retina-ts/testkit';
import { startUiServer, type UiCapture, type UiServer } from '../src/index.js';

const CHROMIUM = '/usr/bin/chromium';
const OUT = join(import.meta.dirname, '..', 'test-output');

const NS = 'debug';
const START = new Date('2024-06-01T12:00:00Z');
/** Where a Capture with `outputConfiguration.hostPath: retina-ui` keeps its tarballs on a node. */
const HOST_PATH = '/var/log/retina/captures/retina-ui';

let api: ApiServerDouble;
let kubeconfig: string;
let dir: string;
let nodesRoot: string;
let stopKubelet: () => void;
/** Nodes whose download pods the kubelet leaves Pending. */
const held = new Set<string>();
const execs: ExecRequest[] = [];
const servers: UiServer[] = [];

const bytes = (n: number, seed: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + seed) % 256));
const NODE_A = bytes(50_000, 1);
const NODE_B = bytes(90_000, 2);

async function ui(extra: Partial<Parameters<typeof startUiServer>[0]> = {}): Promise<UiServer> {
  const s = await startUiServer({ hubble: '127.0.0.1:1', port: 0, capture: 'cluster', captureNamespace: NS, kubeconfig, ...extra });
  servers.push(s);
  return s;
}

async function listCaptures(s: UiServer): Promise<UiCapture[]> {
  const r = await fetch(new URL('api/captures', s.url));
  return ((await r.json()) as { captures: UiCapture[] }).captures;
}

/**
 * Starts a capture from the UI and plays the operator: a Job per node (as the capture translation renders them),
 * the tarball each wrote into its node's host path, and the Capture marked complete.
 */
async function doneCapture(s: UiServer, nodes: Record<string, Buffer>): Promise<UiCapture> {
  const r = await fetch(new URL('api/captures', s.url), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'web-cart', ips: ['10.1.0.1', '10.1.0.2'], durationSeconds: 5 }),
  });
  expect(r.status).toBe(201);
  const started = (await r.json()) as UiCapture;
  const capture = api.get('captures.retina.sh', NS, started.name) as unknown as Capture;
  for (const [node, data] of Object.entries(nodes)) {
    api.create('jobs', renderCaptureJob(capture, { nodeName: node, os: 'linux', podIPs: [] }, { image: 'agent', startTime: START }) as unknown as KubeObject);
    const d = join(nodesRoot, node, HOST_PATH);
    await mkdir(d, { recursive: true });
    await writeFile(join(d, `${started.name}-${node}-20240601120000UTC.tar.gz`), data);
  }
  api.modify('captures.retina.sh', NS, started.name, (c: Record<string, unknown>) => {
    c['status'] = { conditions: [{ type: 'complete', status: 'True', reason: 'JobsCompleted', message: 'done', lastTransitionTime: START.toISOString() }] };
  });
  const listed = (await listCaptures(s)).find((c) => c.id === started.id)!;
  expect(listed).toMatchObject({ state: 'done', downloadable: true });
  return listed;
}

const download = (s: UiServer, c: UiCapture, node?: string) =>
  fetch(new URL(`api/captures/${c.id}/download${node ? `?node=${node}` : ''}`, s.url));

/** Resolves once no download pod is left (the server deletes it after the last byte is sent). */
async function podsGone(): Promise<void> {
  while (api.list('pods').length > 0) await new Promise((r) => setImmediate(r));
}

/** Downloads again until the capture's previous download has released it (it does so after deleting its pod). */
async function downloadWhenFree(s: UiServer, c: UiCapture, node: string): Promise<Response> {
  for (;;) {
    const r = await download(s, c, node);
    if (r.status !== 409) return r;
    await r.body?.cancel();
  }
}

/** Resolves once a download pod exists for `node` (the download is under way). */
async function downloadPodOn(node: string): Promise<void> {
  while (!api.list<KubeObject & { spec: { nodeName: string } }>('pods').some((p) => p.spec.nodeName === node)) {
    await new Promise((r) => setImmediate(r));
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'retina-ui-cluster-download-'));
  nodesRoot = join(dir, 'nodes');
  api = await startApiServerDouble();
  api.create('namespaces', { metadata: { name: NS } });
  kubeconfig = await writeKubeconfig(join(dir, 'kubeconfig'), { server: api.url, namespace: NS, insecureSkipTlsVerify: true });
  api.setExecHandler(nodeFilesExecHandler(nodesRoot, (req) => execs.push(req)));
  stopKubelet = startKubelet(api, (p) => held.has((p as unknown as { spec: { nodeName: string } }).spec.nodeName));
});

afterEach(() => {
  held.clear();
});

afterAll(async () => {
  for (const s of servers) await s.close();
  stopKubelet?.();
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('downloading a done cluster capture from the UI', () => {
  it('lists each node tarball and streams the one asked for, byte for byte, then deletes the download pod', async () => {
    const s = await ui();
    const c = await doneCapture(s, { 'node-a': NODE_A, 'node-b': NODE_B });
    expect(c.files?.map((f) => f.node).sort()).toEqual(['node-a', 'node-b']);
    execs.length = 0;
    const r = await download(s, c, 'node-b');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-length')).toBe(String(NODE_B.length));
    expect(r.headers.get('content-disposition')).toBe(`attachment; filename="${c.name}-node-b-20240601120000UTC.tar.gz"`);
    expect(Buffer.from(await r.arrayBuffer()).equals(NODE_B)).toBe(true);
    await podsGone();
    // The pod ran on node-b, mounted only the capture directory read-only, and was asked for the size, then the file.
    expect(execs.map((e) => e.command[0])).toEqual(['wc', 'cat']);
    const pod = execs[0]!.object as unknown as { spec: { nodeName: string; volumes: unknown[]; containers: { volumeMounts: unknown[] }[] } };
    expect(pod.spec.nodeName).toBe('node-b');
    expect(pod.spec.volumes).toEqual([{ name: 'capture-host-path', hostPath: { path: HOST_PATH, type: 'Directory' } }]);
    expect(pod.spec.containers[0]!.volumeMounts[0]).toMatchObject({ mountPath: `/host${HOST_PATH}`, readOnly: true });
    expect(api.list('pods')).toEqual([]);
  });

  it('asks which node when there are several, and names an unknown node or capture', async () => {
    const s = await ui();
    const c = await doneCapture(s, { 'node-a': NODE_A, 'node-b': NODE_B });
    const which = await download(s, c);
    expect(which.status).toBe(400);
    expect(((await which.json()) as { error: string }).error).toBe(`node: capture ${NS}/${c.name} has tarballs on 2 nodes; name one (node-a, node-b)`);
    const unknownNode = await download(s, c, 'node-z');
    expect([unknownNode.status, ((await unknownNode.json()) as { error: string }).error]).toEqual([404, `node: capture ${NS}/${c.name} has no tarball on node "node-z"`]);
    const unknown = await fetch(new URL('api/captures/nope-1/download', s.url));
    expect([unknown.status, ((await unknown.json()) as { error: string }).error]).toEqual([404, 'capture nope-1 was not started from this UI']);
  });

  it('says a node has no tarball when its file is missing', async () => {
    const s = await ui();
    const c = await doneCapture(s, { 'node-a': NODE_A });
    await rm(join(nodesRoot, 'node-a', HOST_PATH, `${c.name}-node-a-20240601120000UTC.tar.gz`));
    const r = await download(s, c);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { error: string }).error).toBe(
      `node node-a has no readable ${HOST_PATH}/${c.name}-node-a-20240601120000UTC.tar.gz (the capture may still be running, or failed)`,
    );
    expect(api.list('pods')).toEqual([]);
  });

  it('refuses a tarball over the size limit before sending a byte', async () => {
    const s = await ui({ maxDownloadBytes: 60_000 });
    const c = await doneCapture(s, { 'node-a': NODE_A, 'node-b': NODE_B });
    const r = await download(s, c, 'node-b');
    expect(r.status).toBe(413);
    expect(((await r.json()) as { error: string }).error).toBe(
      `${HOST_PATH}/${c.name}-node-b-20240601120000UTC.tar.gz on node node-b is 90000 bytes, over the download limit of 60000 bytes`,
    );
    const small = await download(s, c, 'node-a');
    expect(small.status).toBe(200);
    expect(Buffer.from(await small.arrayBuffer()).equals(NODE_A)).toBe(true);
    await podsGone();
  });

  it('runs one download of a capture at a time', async () => {
    const s = await ui();
    const c = await doneCapture(s, { 'node-a': NODE_A, 'node-b': NODE_B });
    held.add('node-a');
    const first = download(s, c, 'node-a');
    await downloadPodOn('node-a');
    const second = await download(s, c, 'node-b');
    expect(second.status).toBe(409);
    expect(((await second.json()) as { error: string }).error).toBe(`capture ${c.id} is being downloaded already; wait for that download to finish`);
    held.delete('node-a');
    const r = await first;
    expect(r.status).toBe(200);
    expect(Buffer.from(await r.arrayBuffer()).equals(NODE_A)).toBe(true);
    // Once the first is done, the next may start.
    const next = await downloadWhenFree(s, c, 'node-b');
    expect(next.status).toBe(200);
    expect(Buffer.from(await next.arrayBuffer()).equals(NODE_B)).toBe(true);
    await podsGone();
  });

  it('gives up on a download that outlasts its time limit, and deletes the pod', async () => {
    const s = await ui({ downloadTimeoutMs: 300 });
    const c = await doneCapture(s, { 'node-a': NODE_A });
    held.add('node-a');
    const r = await download(s, c);
    expect(r.status).toBe(504);
    expect(((await r.json()) as { error: string }).error).toMatch(/^waiting for download pod debug\/web-cart-[a-z0-9]+-download-node-a-[a-z0-9]{5} timed out$/);
    expect(api.list('pods')).toEqual([]);
  });
});

// Run with the kernel tests: like the other browser test it needs Debian's chromium, and fails rather than skips in CI.
describeKernel(
  'the Capture page in chromium with a done cluster capture',
  () => {
    it('offers each node tarball, downloads one, and shows why another cannot be', async () => {
      const s = await ui();
      const c = await doneCapture(s, { 'node-a': NODE_A, 'node-b': NODE_B });
      await rm(join(nodesRoot, 'node-b', HOST_PATH, `${c.name}-node-b-20240601120000UTC.tar.gz`));
      const profile = await mkdtemp(join(tmpdir(), 'retina-ui-chromium-'));
      const context = await chromium.launchPersistentContext(profile, {
        executablePath: CHROMIUM,
        headless: true,
        viewport: { width: 1360, height: 560 },
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
      });
      try {
        const page = context.pages()[0] ?? (await context.newPage());
        const consoleErrors: string[] = [];
        page.on('pageerror', (e) => consoleErrors.push(e.message));
        await page.goto(s.url);
        await page.click('nav a[data-page=capture]');
        const row = page.locator('[data-testid=captures] tbody tr', { hasText: c.name });
        const linkA = row.locator('a:has-text("Download (node-a)")');
        // The page lists captures every 2 s; no fixed wait, the test's own timeout bounds it.
        await linkA.waitFor({ timeout: 0 });
        const [download] = await Promise.all([page.waitForEvent('download', { timeout: 0 }), linkA.click()]);
        expect(download.suggestedFilename()).toBe(`${c.name}-node-a-20240601120000UTC.tar.gz`);
        expect((await readFile((await download.path())!)).equals(NODE_A)).toBe(true);
        await row.locator('a:has-text("Download (node-b)")').click();
        const error = row.locator('[data-testid=download-error]');
        await error.waitFor({ timeout: 0 });
        expect(await error.innerText()).toContain(`node node-b has no readable ${HOST_PATH}/${c.name}-node-b-20240601120000UTC.tar.gz`);
        mkdirSync(OUT, { recursive: true });
        await page.screenshot({ path: join(OUT, 'capture-cluster.png') });
        expect(consoleErrors).toEqual([]);
        await podsGone();
      } finally {
        await context.close();
        await rm(profile, { recursive: true, force: true });
      }
    });
  },
  { requires: () => (commandExists(CHROMIUM) ? undefined : `${CHROMIUM} not found (apt-get install -y chromium)`) },
);
