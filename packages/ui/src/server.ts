/**
 * The UI's HTTP server: the bundled web app as static files, one Server-Sent Events stream per browser carrying
 * flows (in batches), the service map, DNS latency, node samples and status, and the capture API.
 */
import { createReadStream, existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, type Logger } from '@retina-ts/core';
import { DnsLatencyTracker, ServiceMapAggregator } from './aggregate.js';
import {
  CaptureRequestError,
  ClusterCaptures,
  LocalCaptures,
  parseCaptureRequest,
  type CaptureBackend,
} from './capture.js';
import { filterFromQuery, hubbleWhitelist, UiFilterError } from './filters.js';
import { followFlows, observerClient, type ObserverClient } from './hubble.js';
import { NodePoller } from './node-metrics.js';
import { toUiFlow } from './rows.js';
import type { UiFlow, UiStatus } from './model/types.js';

export interface UiServerOptions {
  /** Hubble-compatible endpoint: `host:port` or `unix:///path` (the agent's Hubble server, or Hubble Relay). */
  hubble: string;
  /** The agent's HTTP listener (`http://host:10093`), for /metrics and /plugins; omit for flows only. */
  metrics?: string;
  /** Port to listen on (0: any free port). */
  port: number;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** `standalone`: tcpdump on this host; `cluster`: Capture resources; `off`: no captures (default standalone). */
  capture?: 'standalone' | 'cluster' | 'off';
  /** Namespace of Capture resources in cluster mode (default `default`). */
  captureNamespace?: string;
  kubeconfig?: string;
  logger?: Logger;
  /** Most flows sent to one browser per second; the rest are counted as skipped (default 2000). */
  maxFlowsPerSecond?: number;
  /** Directory of the built web app (default: the package's dist/public). */
  publicDir?: string;
  /** Largest cluster capture tarball the UI downloads (default 512 MiB; larger: `kubectl retina capture download`). */
  maxDownloadBytes?: number;
  /** Longest a cluster capture download may take, download pod start included (default 10 min). */
  downloadTimeoutMs?: number;
  /** How long a cluster download pod may take to start (default 30 s). */
  downloadPodReadyTimeoutMs?: number;
}

export interface UiServer {
  readonly port: number;
  readonly url: string;
  close(): Promise<void>;
}

/** Most concurrent browser streams; each holds one GetFlows call to the Hubble endpoint. */
export const MAX_STREAMS = 32;
/** Cluster capture downloads running at once (each holds a pod on a node and an exec stream). */
export const MAX_DOWNLOADS = 2;
export const DEFAULT_MAX_DOWNLOAD_BYTES = 512 * 1024 * 1024;
export const DEFAULT_DOWNLOAD_TIMEOUT_MS = 10 * 60_000;
/** Largest request body accepted (capture requests). */
const MAX_BODY = 16 * 1024;
/** Flows are batched into one event this often. */
const BATCH_MS = 100;
/** A browser that has this much unsent data falls behind: new flows are skipped until it catches up. */
const MAX_BUFFERED = 4 * 1024 * 1024;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.map': 'application/json',
};

/** dist/public beside the built server, or (running from src/, as tests do) the package's dist/public. */
function defaultPublicDir(): string {
  const built = fileURLToPath(new URL('./public/', import.meta.url));
  if (existsSync(join(built, 'index.html'))) return built;
  return fileURLToPath(new URL('../dist/public/', import.meta.url));
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new CaptureRequestError(`body: larger than ${MAX_BODY} bytes`);
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new CaptureRequestError('body: not valid JSON');
  }
}

/** Starts the UI server; resolves once it listens. */
export async function startUiServer(o: UiServerOptions): Promise<UiServer> {
  const logger = o.logger ?? createLogger({ name: 'retina-ui' });
  const client: ObserverClient = observerClient(o.hubble);
  const poller = o.metrics ? new NodePoller(o.metrics) : undefined;
  const captureMode = o.capture ?? 'standalone';
  const captures: CaptureBackend | undefined =
    captureMode === 'standalone'
      ? new LocalCaptures({ logger: logger.child({ component: 'capture' }) })
      : captureMode === 'cluster'
        ? new ClusterCaptures({
            namespace: o.captureNamespace ?? 'default',
            ...(o.kubeconfig ? { kubeconfig: o.kubeconfig } : {}),
            ...(o.downloadPodReadyTimeoutMs !== undefined ? { podReadyTimeoutMs: o.downloadPodReadyTimeoutMs } : {}),
          })
        : undefined;
  const publicDir = o.publicDir ?? defaultPublicDir();
  const maxPerSecond = o.maxFlowsPerSecond ?? 2000;
  const maxDownloadBytes = o.maxDownloadBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
  const downloadTimeoutMs = o.downloadTimeoutMs ?? DEFAULT_DOWNLOAD_TIMEOUT_MS;
  /** Cluster captures being downloaded. */
  const downloads = new Set<string>();
  const streams = new Set<() => void>();

  async function serveStatic(res: ServerResponse, path: string): Promise<void> {
    const rel = path === '/' ? 'index.html' : normalize(path).replace(/^[/\\]+/, '');
    if (rel.includes('..') || rel !== basename(rel) || !TYPES[extname(rel)]) {
      sendJson(res, 404, { error: `not found: ${path.slice(0, 200)}` });
      return;
    }
    const file = join(publicDir, rel);
    try {
      const st = await stat(file);
      res.writeHead(200, {
        'content-type': TYPES[extname(rel)]!,
        'content-length': st.size,
        'cache-control': 'no-cache',
      });
      createReadStream(file).pipe(res);
    } catch {
      sendJson(res, 404, { error: `not found: ${path.slice(0, 200)}` });
    }
  }

  function stream(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): void {
    let whitelist: object[];
    try {
      whitelist = hubbleWhitelist(filterFromQuery(params));
    } catch (err) {
      if (err instanceof UiFilterError) return sendJson(res, 400, { error: err.message });
      throw err;
    }
    if (streams.size >= MAX_STREAMS) return sendJson(res, 503, { error: `at most ${MAX_STREAMS} browsers at once` });
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const send = (event: string, data: unknown): void => {
      res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    const map = new ServiceMapAggregator();
    const dns = new DnsLatencyTracker();
    let batch: UiFlow[] = [];
    let seq = 0;
    let sentThisSecond = 0;
    const status: UiStatus = {
      hubble: o.hubble,
      connected: false,
      skipped: 0,
      capture: captures?.mode ?? 'off',
    };
    send('status', status);
    if (poller?.last) send('node', poller.last);

    let stopFlows: (() => void) | undefined;
    let retry: NodeJS.Timeout | undefined;
    const connect = (): void => {
      stopFlows = followFlows(client, {
        whitelist,
        onConnected: () => {
          status.connected = true;
          delete status.error;
          send('status', status);
        },
        onFlow: (pb) => {
          const row = toUiFlow(pb, ++seq);
          // Aggregates see every flow; only the table's share is bounded.
          map.add(row);
          dns.add(row);
          if (sentThisSecond >= maxPerSecond || res.writableLength > MAX_BUFFERED) {
            status.skipped++;
            return;
          }
          sentThisSecond++;
          batch.push(row);
        },
        onError: (err) => {
          status.connected = false;
          status.error = err.message;
          send('status', status);
          stopFlows?.();
          // The endpoint restarts or is not up yet: reconnect without piling up calls.
          retry = setTimeout(connect, 2000);
        },
      });
    };
    connect();

    const flush = setInterval(() => {
      if (batch.length) {
        send('flows', batch);
        batch = [];
      }
    }, BATCH_MS);
    const second = setInterval(() => {
      sentThisSecond = 0;
      send('map', map.tick());
      send('dns', dns.take());
      send('status', status);
    }, 1000);
    const unsubscribe = poller?.subscribe((s) => send('node', s));

    const close = (): void => {
      streams.delete(close);
      clearInterval(flush);
      clearInterval(second);
      clearTimeout(retry);
      stopFlows?.();
      unsubscribe?.();
      res.end();
    };
    streams.add(close);
    req.on('close', close);
  }

  /**
   * A cluster capture's tarball, streamed from its node as it is read: one download per capture and
   * MAX_DOWNLOADS in all at a time, at most maxDownloadBytes, within downloadTimeoutMs. Errors found before the
   * first byte are answered as JSON naming the cause; a failure after it cuts the response off (the browser sees
   * fewer bytes than the content-length).
   */
  async function downloadFromCluster(res: ServerResponse, id: string, node: string | undefined): Promise<void> {
    if (node !== undefined && (node.length === 0 || node.length > 253)) return sendJson(res, 400, { error: 'node: not a node name' });
    if (downloads.has(id)) return sendJson(res, 409, { error: `capture ${id} is being downloaded already; wait for that download to finish` });
    if (downloads.size >= MAX_DOWNLOADS) return sendJson(res, 503, { error: `at most ${MAX_DOWNLOADS} downloads run at once; try again when one is done` });
    downloads.add(id);
    const gone = new AbortController();
    const closed = (): void => {
      if (!res.writableFinished) gone.abort(new Error('the browser closed the download'));
    };
    // The response's close, not the request's: a GET's request closes as soon as it has been read.
    res.on('close', closed);
    const signal = AbortSignal.any([gone.signal, AbortSignal.timeout(downloadTimeoutMs)]);
    try {
      await captures!.streamTarball!(id, node, res, {
        signal,
        maxBytes: maxDownloadBytes,
        onStart: (file, bytes) =>
          res.writeHead(200, {
            'content-type': 'application/gzip',
            'content-length': bytes,
            'content-disposition': `attachment; filename="${file.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
            'cache-control': 'no-store',
          }),
      });
      res.end();
    } catch (err) {
      const e = err as Error & { reason?: string; status?: number };
      if (res.headersSent) {
        logger.warn({ err: e.message, capture: id, node }, 'capture download broke off');
        res.destroy();
        return;
      }
      const status =
        e instanceof CaptureRequestError
          ? e.status
          : e.name === 'CaptureDownloadError'
            ? ({ 'not-found': 404, 'too-large': 413, timeout: 504, aborted: 499 } as Record<string, number>)[e.reason ?? ''] ?? 502
            : 502;
      if (status >= 500) logger.warn({ err: e.message, capture: id, node }, 'capture download failed');
      sendJson(res, status, { error: status === 502 && e.name !== 'CaptureDownloadError' ? `reading the tarball from the cluster failed: ${e.message}` : e.message });
    } finally {
      downloads.delete(id);
      res.off('close', closed);
    }
  }

  async function api(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname;
    if (path === '/api/stream' && req.method === 'GET') return stream(req, res, url.searchParams);
    if (path === '/api/health') return sendJson(res, 200, { ok: true, hubble: o.hubble, capture: captures?.mode ?? 'off' });
    if (path === '/api/captures') {
      if (!captures) return sendJson(res, 404, { error: 'captures are off (start with --capture standalone or cluster)' });
      if (req.method === 'GET') return sendJson(res, 200, { captures: await captures.list() });
      if (req.method === 'POST') {
        try {
          const r = parseCaptureRequest(await readBody(req));
          return sendJson(res, 201, await captures.start(r));
        } catch (err) {
          const e = err as Error;
          const bad = e instanceof CaptureRequestError || e.name === 'CaptureValidationError' || e.name === 'CaptureFilterError';
          if (!bad) logger.error({ err: e.message }, 'capture failed to start');
          return sendJson(res, e instanceof CaptureRequestError ? e.status : bad ? 400 : 500, { error: e.message });
        }
      }
      return sendJson(res, 405, { error: `${req.method} not allowed` });
    }
    const m = /^\/api\/captures\/([a-z0-9-]{1,63})\/download$/.exec(path);
    if (m && req.method === 'GET' && captures?.streamTarball) return downloadFromCluster(res, m[1]!, url.searchParams.get('node') ?? undefined);
    if (m && req.method === 'GET') {
      const file = captures?.tarball(m[1]!);
      if (!file) return sendJson(res, 404, { error: `capture ${m[1]} has no tarball (yet)` });
      const st = await stat(file);
      res.writeHead(200, {
        'content-type': 'application/gzip',
        'content-length': st.size,
        'content-disposition': `attachment; filename="${basename(file)}"`,
      });
      createReadStream(file).pipe(res);
      return;
    }
    sendJson(res, 404, { error: `no such API: ${path.slice(0, 200)}` });
  }

  // The bundle must exist: a package installed without its build would otherwise serve only 404s.
  await readFile(join(publicDir, 'index.html')).catch(() => {
    throw new Error(`@retina-ts/ui: the web app is not built (no ${join(publicDir, 'index.html')}); run the package build`);
  });

  const server: Server = createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://ui.invalid');
    } catch {
      return sendJson(res, 400, { error: 'bad request URL' });
    }
    const handle = url.pathname.startsWith('/api/') ? api(req, res, url) : serveStatic(res, url.pathname);
    handle.catch((err: Error) => {
      logger.error({ err: err.message, path: url.pathname }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: err.message });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}/`;
  logger.info({ port: addr.port, url, hubble: o.hubble, metrics: o.metrics }, 'serving the UI');
  return {
    port: addr.port,
    url,
    async close() {
      for (const close of [...streams]) close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      client.close();
      await captures?.close();
    },
  };
}
