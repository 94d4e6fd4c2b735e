/**
 * Packet captures started from the UI for one flow's two endpoints. Standalone, the capture workload of
 * @retina-ts/capture runs tcpdump on this host and the tarball is served for download; in a cluster a Capture
 * resource is created (the operator or `kubectl retina` runs it) and its status is shown.
 */
import { mkdir, rm } from 'node:fs/promises';
import { isIP } from 'node:net';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '@retina-ts/core';
import type { UiCapture } from './model/types.js';

/** A capture request from the browser, checked field by field. */
export interface CaptureRequest {
  name: string;
  ips: string[];
  port?: number;
  durationSeconds: number;
  /** The node the flow was seen on (cluster mode: the capture runs there). */
  node?: string;
}

export class CaptureRequestError extends Error {
  override readonly name = 'CaptureRequestError';
  /** The HTTP status the server answers with. */
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const NAME = /^[a-z0-9]([-a-z0-9]{0,40}[a-z0-9])?$/;
/** Longest capture the UI starts; longer ones belong to `kubectl retina capture create`. */
export const MAX_CAPTURE_SECONDS = 600;
/** Captures kept in the list (oldest finished ones go first, with their tarballs). */
export const MAX_CAPTURES = 20;
/** Captures running at once. */
export const MAX_RUNNING = 2;

/** Checks a request body; throws CaptureRequestError naming the field. */
export function parseCaptureRequest(body: unknown): CaptureRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new CaptureRequestError('body: not a JSON object');
  const b = body as Record<string, unknown>;
  const name = b['name'] ?? 'ui-capture';
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new CaptureRequestError(`name: ${JSON.stringify(name)} is not a DNS label of at most 42 characters`);
  }
  const ips = b['ips'];
  if (!Array.isArray(ips) || ips.length < 1 || ips.length > 2) throw new CaptureRequestError('ips: give one or two IP addresses');
  for (const ip of ips) {
    if (typeof ip !== 'string' || isIP(ip) === 0) throw new CaptureRequestError(`ips: ${JSON.stringify(ip)} is not an IP address`);
  }
  const out: CaptureRequest = { name, ips: ips as string[], durationSeconds: 10 };
  if (b['port'] !== undefined && b['port'] !== null) {
    const p = b['port'];
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) throw new CaptureRequestError(`port: ${JSON.stringify(p)} is not 1-65535`);
    out.port = p;
  }
  if (b['durationSeconds'] !== undefined) {
    const d = b['durationSeconds'];
    if (typeof d !== 'number' || !Number.isInteger(d) || d < 1 || d > MAX_CAPTURE_SECONDS) {
      throw new CaptureRequestError(`durationSeconds: ${JSON.stringify(d)} is not 1-${MAX_CAPTURE_SECONDS}`);
    }
    out.durationSeconds = d;
  }
  if (b['node'] !== undefined) {
    if (typeof b['node'] !== 'string' || b['node'].length > 253) throw new CaptureRequestError('node: not a node name');
    if (b['node']) out.node = b['node'];
  }
  return out;
}

/** The pcap expression of a request: traffic between the endpoints (both directions), optionally one port. */
export function captureFilter(r: CaptureRequest): string {
  const hosts = r.ips.map((ip) => `host ${ip}`).join(' and ');
  return r.port ? `${hosts} and port ${r.port}` : hosts;
}

/** How a cluster capture's tarball is streamed to a browser. */
export interface StreamTarballOptions {
  /** Stops the download (the browser went away, or the time ran out). */
  signal: AbortSignal;
  /** Largest tarball sent. */
  maxBytes: number;
  /** Called once the file is known to be readable, before its first byte is written. */
  onStart(file: string, bytes: number): void;
}

export interface CaptureBackend {
  readonly mode: 'standalone' | 'cluster';
  start(r: CaptureRequest): Promise<UiCapture>;
  list(): Promise<UiCapture[]>;
  /** Path of a finished capture's tarball (standalone only). */
  tarball(id: string): string | undefined;
  /**
   * Cluster only: streams the tarball node `node` (may be omitted when there is one) keeps for capture `id` into
   * `sink`, reading it off the node as `kubectl retina capture download` does. Errors are CaptureRequestErrors
   * (unknown capture or node, not done) or CaptureDownloadErrors of @retina-ts/capture.
   */
  streamTarball?(id: string, node: string | undefined, sink: Writable, o: StreamTarballOptions): Promise<void>;
  close(): Promise<void>;
}

interface LocalCapture extends UiCapture {
  abort: AbortController;
  file?: string;
  done: Promise<void>;
}

/** Captures on this host with the capture workload; tarballs under `workDir`. */
export class LocalCaptures implements CaptureBackend {
  readonly mode = 'standalone' as const;
  readonly #captures = new Map<string, LocalCapture>();
  readonly #workDir: string;
  readonly #logger: Logger;
  #next = 1;

  constructor(o: { workDir?: string; logger: Logger }) {
    this.#workDir = o.workDir ?? join(tmpdir(), `retina-ui-captures-${process.pid}`);
    this.#logger = o.logger;
  }

  async start(r: CaptureRequest): Promise<UiCapture> {
    const running = [...this.#captures.values()].filter((c) => c.state === 'running').length;
    if (running >= MAX_RUNNING) throw new CaptureRequestError(`at most ${MAX_RUNNING} captures run at once; wait for one to finish`);
    const { runCaptureWorkload } = await import('@retina-ts/capture');
    await mkdir(this.#workDir, { recursive: true, mode: 0o700 });
    await this.#prune();
    const id = String(this.#next++);
    const filter = captureFilter(r);
    const abort = new AbortController();
    const c: LocalCapture = {
      id,
      name: r.name,
      state: 'running',
      filter,
      startedAt: Date.now(),
      durationSeconds: r.durationSeconds,
      downloadable: false,
      abort,
      done: Promise.resolve(),
    };
    this.#captures.set(id, c);
    c.done = runCaptureWorkload(
      {
        captureName: r.name,
        nodeName: hostname(),
        startTime: new Date(Math.floor(Date.now() / 1000) * 1000),
        durationMs: r.durationSeconds * 1000,
        interfaces: [],
        includeMetadata: false,
        filter,
        tcpdumpFlags: [],
        outputs: {},
        workDir: join(this.#workDir, id),
      },
      { logger: this.#logger, signal: abort.signal, keepLocalTarball: true },
    ).then(
      (res) => {
        c.state = 'done';
        if (res.localTarball) {
          c.file = res.localTarball;
          c.downloadable = true;
        }
      },
      (err: Error) => {
        c.state = 'failed';
        c.error = err.message;
      },
    );
    return view(c);
  }

  async list(): Promise<UiCapture[]> {
    return [...this.#captures.values()].map(view).reverse();
  }

  tarball(id: string): string | undefined {
    return this.#captures.get(id)?.file;
  }

  /** Forgets the oldest finished captures beyond MAX_CAPTURES - 1, removing their files. */
  async #prune(): Promise<void> {
    const finished = [...this.#captures.values()].filter((c) => c.state !== 'running');
    while (this.#captures.size >= MAX_CAPTURES && finished.length) {
      const c = finished.shift()!;
      this.#captures.delete(c.id);
      await rm(join(this.#workDir, c.id), { recursive: true, force: true });
    }
    if (this.#captures.size >= MAX_CAPTURES) throw new CaptureRequestError(`at most ${MAX_CAPTURES} captures are kept`);
  }

  async close(): Promise<void> {
    for (const c of this.#captures.values()) c.abort.abort();
    await Promise.all([...this.#captures.values()].map((c) => c.done));
    await rm(this.#workDir, { recursive: true, force: true });
  }
}

function view(c: UiCapture & { abort?: unknown; file?: unknown; done?: unknown }): UiCapture {
  const { abort: _a, file: _f, done: _d, ...rest } = c;
  return rest;
}

/** Captures as Capture resources in `namespace` of the cluster of `kubeconfig` (default: KUBECONFIG or in-cluster). */
export class ClusterCaptures implements CaptureBackend {
  readonly mode = 'cluster' as const;
  readonly #namespace: string;
  readonly #kubeconfig: string | undefined;
  readonly #created: UiCapture[] = [];
  readonly #podReadyTimeoutMs: number | undefined;
  #kc: KubeConfig | undefined;

  constructor(o: { namespace: string; kubeconfig?: string; podReadyTimeoutMs?: number }) {
    this.#namespace = o.namespace;
    this.#kubeconfig = o.kubeconfig;
    this.#podReadyTimeoutMs = o.podReadyTimeoutMs;
  }

  async #kubeConfig(): Promise<KubeConfig> {
    if (this.#kc) return this.#kc;
    const k8s = await import('@kubernetes/client-node');
    const kc = new k8s.KubeConfig();
    if (this.#kubeconfig) kc.loadFromFile(this.#kubeconfig);
    else kc.loadFromDefault();
    this.#kc = kc;
    return kc;
  }

  async #api() {
    const k8s = await import('@kubernetes/client-node');
    return (await this.#kubeConfig()).makeApiClient(k8s.CustomObjectsApi);
  }

  async start(r: CaptureRequest): Promise<UiCapture> {
    const { CAPTURE_API_VERSION, CAPTURE_GROUP, CAPTURE_KIND, CAPTURE_PLURAL, CAPTURE_VERSION, validateCapture } =
      await import('@retina-ts/capture');
    const name = `${r.name}-${Date.now().toString(36)}`.slice(0, 63);
    const body = {
      apiVersion: CAPTURE_API_VERSION,
      kind: CAPTURE_KIND,
      metadata: { name, namespace: this.#namespace },
      spec: {
        captureConfiguration: {
          captureTarget: r.node
            ? { nodeSelector: { matchLabels: { 'kubernetes.io/hostname': r.node } } }
            : { nodeSelector: { matchLabels: { 'kubernetes.io/os': 'linux' } } },
          captureOption: { duration: `${r.durationSeconds}s`, pcapFilter: captureFilter(r) },
          includeMetadata: true,
        },
        outputConfiguration: { hostPath: 'retina-ui' },
      },
    };
    validateCapture(body);
    const api = await this.#api();
    await api.createNamespacedCustomObject({
      group: CAPTURE_GROUP,
      version: CAPTURE_VERSION,
      namespace: this.#namespace,
      plural: CAPTURE_PLURAL,
      body,
    });
    const c: UiCapture = {
      id: name,
      name,
      state: 'running',
      filter: captureFilter(r),
      startedAt: Date.now(),
      durationSeconds: r.durationSeconds,
      downloadable: false,
      resource: `${this.#namespace}/${name}`,
    };
    this.#created.push(c);
    if (this.#created.length > MAX_CAPTURES) this.#created.shift();
    return c;
  }

  /** The Captures created here, their state read back from the API server, and a done one's tarballs. */
  async list(): Promise<UiCapture[]> {
    const { CAPTURE_GROUP, CAPTURE_PLURAL, CAPTURE_VERSION, nodeTarballs } = await import('@retina-ts/capture');
    const api = await this.#api();
    await Promise.all(
      this.#created
        .filter((c) => c.state === 'running' || (c.state === 'done' && !c.files))
        .map(async (c) => {
          try {
            if (c.state === 'running') {
              const obj = (await api.getNamespacedCustomObject({
                group: CAPTURE_GROUP,
                version: CAPTURE_VERSION,
                namespace: this.#namespace,
                plural: CAPTURE_PLURAL,
                name: c.name,
              })) as { status?: { conditions?: { type: string; status: string; message?: string }[] } };
              const cond = obj.status?.conditions ?? [];
              const failed = cond.find((x) => x.type === 'error' && x.status === 'True');
              if (failed) {
                c.state = 'failed';
                c.error = failed.message ?? 'failed';
              } else if (cond.some((x) => x.type === 'complete' && x.status === 'True')) c.state = 'done';
            }
            if (c.state === 'done') {
              // The capture's Jobs name the nodes and host paths of its tarballs.
              c.files = (await nodeTarballs(await this.#kubeConfig(), this.#namespace, c.name))
                .map((t) => ({ node: t.node, file: t.file }))
                .sort((a, b) => (a.node < b.node ? -1 : 1));
              c.downloadable = c.files.length > 0;
              delete c.error;
            }
          } catch (err) {
            c.error = `reading ${c.resource}: ${(err as Error).message}`;
          }
        }),
    );
    return [...this.#created].reverse();
  }

  tarball(): undefined {
    return undefined;
  }

  async streamTarball(id: string, node: string | undefined, sink: Writable, o: StreamTarballOptions): Promise<void> {
    const c = this.#created.find((x) => x.id === id);
    if (!c) throw new CaptureRequestError(`capture ${id} was not started from this UI`, 404);
    if (c.state !== 'done') throw new CaptureRequestError(`capture ${c.resource} is ${c.state}, not done: nothing to download yet`, 409);
    const { nodeTarballs, streamNodeTarball } = await import('@retina-ts/capture');
    const kc = await this.#kubeConfig();
    const all = await nodeTarballs(kc, this.#namespace, c.name);
    if (node === undefined && all.length > 1) {
      throw new CaptureRequestError(`node: capture ${c.resource} has tarballs on ${all.length} nodes; name one (${all.map((t) => t.node).sort().join(', ')})`);
    }
    const t = node === undefined ? all[0] : all.find((x) => x.node === node);
    if (!t) throw new CaptureRequestError(`node: capture ${c.resource} has no tarball on node ${JSON.stringify(node)}`, 404);
    await streamNodeTarball(kc, this.#namespace, c.name, t, sink, {
      signal: o.signal,
      maxBytes: o.maxBytes,
      ...(this.#podReadyTimeoutMs !== undefined ? { podReadyTimeoutMs: this.#podReadyTimeoutMs } : {}),
      onSize: (bytes) => o.onStart(t.file, bytes),
    });
  }

  async close(): Promise<void> {}
}
