/**
 * The agent's HTTP listener: /metrics (Prometheus text or OpenMetrics, by Accept), /healthz, /readyz, /plugins, and
 * with `enableDebugEndpoints` the /debug/* routes of debug.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsModule } from '@retina-ts/core';
import { DebugEndpoints } from './debug.js';
import { hostsOf, redactStatus, redactText } from './redact.js';

/** What the HTTP listener needs to know about the running agent. */
export interface HttpSources {
  metrics: MetricsModule;
  /** The plugin table served on /plugins. */
  plugins(): unknown[];
  /** Kubernetes watcher status, shown on /plugins (undefined before start). */
  kubernetes?(): unknown;
  /** Ready once every plugin has left its first start attempt (running, failed or unsupported). */
  ready(): boolean;
  /** Serve /debug/heap, /debug/profile and /debug/vars (`enableDebugEndpoints`); `queues` feeds /debug/vars. */
  debug?: { queues?(): Record<string, unknown> };
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value, null, 2) + '\n');
}

/** /plugins content: no URLs, credentials or API server address, as it is served on every interface. */
function pluginStatus(src: HttpSources): { plugins: unknown[]; kubernetes: unknown } {
  const kubernetes = src.kubernetes?.();
  const hosts = hostsOf((kubernetes as { server?: string } | undefined)?.server);
  return redactStatus({ plugins: src.plugins(), kubernetes }, hosts);
}

async function route(
  src: HttpSources,
  debug: DebugEndpoints | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const [path = '/', query = ''] = (req.url ?? '/').split('?');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, 'text/plain', 'method not allowed\n');
  }
  switch (path) {
    case '/metrics': {
      const { contentType, body } = await src.metrics.expose(req.headers.accept);
      return send(res, 200, contentType, body);
    }
    case '/healthz':
      return send(res, 200, 'text/plain', 'ok\n');
    case '/readyz':
      return src.ready()
        ? send(res, 200, 'text/plain', 'ready\n')
        : send(res, 503, 'text/plain', 'starting\n');
    case '/plugins':
      return json(res, 200, pluginStatus(src));
    default:
      if (debug && path.startsWith('/debug/')) return debug.handle(path, new URLSearchParams(query), req, res);
      return send(res, 404, 'text/plain', 'not found: try /metrics, /healthz, /readyz or /plugins\n');
  }
}

/** Starts the listener; resolves once it is bound (port 0 picks a free port, see `address()`). */
export async function startHttpServer(src: HttpSources, host: string, port: number): Promise<Server> {
  const debug = src.debug
    ? new DebugEndpoints({
        metrics: src.metrics,
        plugins: () => pluginStatus(src).plugins,
        ...(src.debug.queues ? { queues: src.debug.queues } : {}),
      })
    : undefined;
  const server = createServer((req, res) => {
    route(src, debug, req, res).catch((err: unknown) => {
      if (!res.headersSent)
        send(res, 500, 'text/plain', `internal error: ${redactText((err as Error).message)}\n`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  if (debug) server.once('close', () => debug.close());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    debug?.close();
    throw err;
  }
  return server;
}

/** The bound address of a started server. */
export function boundAddress(server: Server): AddressInfo {
  return server.address() as AddressInfo;
}

/** Closes the listener and any idle keep-alive sockets. */
export async function stopHttpServer(server: Server): Promise<void> {
  server.closeIdleConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
