/**
 * The agent's HTTP listener: /metrics (Prometheus text or OpenMetrics, by Accept), /healthz, /readyz, /plugins.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsModule } from '@retina-ts/core';
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
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value, null, 2) + '\n');
}

async function route(src: HttpSources, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
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
    case '/plugins': {
      // Served on every interface: no URLs, credentials or API server address in what it shows.
      const kubernetes = src.kubernetes?.();
      const hosts = hostsOf((kubernetes as { server?: string } | undefined)?.server);
      return json(res, 200, redactStatus({ plugins: src.plugins(), kubernetes }, hosts));
    }
    default:
      return send(res, 404, 'text/plain', 'not found: try /metrics, /healthz, /readyz or /plugins\n');
  }
}

/** Starts the listener; resolves once it is bound (port 0 picks a free port, see `address()`). */
export async function startHttpServer(src: HttpSources, host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    route(src, req, res).catch((err: unknown) => {
      if (!res.headersSent)
        send(res, 500, 'text/plain', `internal error: ${redactText((err as Error).message)}\n`);
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
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
