/**
 * Checks, before anything starts, the settings that pass the schema but may still be unusable on this node: a host
 * name that does not resolve, an address that is not this node's, a port already in use, and (with the Hubble
 * control plane) the Hubble listen addresses and metric specs. Each problem names the key, so the CLI can report it
 * the same way as a schema error and exit 2 instead of failing half-started.
 */
import { lookup } from 'node:dns/promises';
import { createServer, isIP, type Server } from 'node:net';
import type { AgentConfig } from '@retina-ts/core';
import type * as Hubble from '@retina-ts/hubble';

/** One unusable setting: the key and what is wrong with its value. */
export interface PreflightIssue {
  key: string;
  message: string;
}

/** Options of `preflight`. */
export interface PreflightOptions {
  /** How long a host name may take to resolve (default 5 s): an unreachable DNS server must not stall the start. */
  resolveTimeoutMs?: number;
  /** Check the listener of /metrics (default true; false when the agent does not listen). */
  listen?: boolean;
  /** Resolver (tests); default `dns.promises.lookup`. */
  resolve?: (host: string) => Promise<string>;
}

/** Default bound on one name resolution. */
export const RESOLVE_TIMEOUT_MS = 5000;

/** A listener to try: which key it comes from, where it binds. */
interface Listener {
  hostKey: string;
  portKey: string;
  host: string;
  port: number;
}

const defaultResolve = async (host: string): Promise<string> => (await lookup(host)).address;

/** Resolves `host` within the bound; an IP literal or the empty host (every address) needs no lookup. */
async function resolveBounded(
  host: string,
  resolve: (host: string) => Promise<string>,
  timeoutMs: number,
): Promise<{ address: string } | { error: string }> {
  if (host === '' || isIP(host)) return { address: host };
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ error: string }>((done) => {
    timer = setTimeout(() => done({ error: `did not resolve within ${timeoutMs / 1000}s (is DNS reachable?)` }), timeoutMs);
  });
  try {
    return await Promise.race([
      resolve(host).then(
        (address) => ({ address }),
        (err: NodeJS.ErrnoException) => ({ error: `does not resolve (${err.code ?? err.message})` }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Binds host:port (kept open so later listeners see it taken); resolves with the server or the bind error. */
function tryBind(host: string, port: number): Promise<{ server: Server } | { code: string }> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => done({ code: err.code ?? err.message }));
    server.listen({ port, ...(host ? { host } : {}), exclusive: true }, () => done({ server }));
  });
}

function bindMessage(l: Listener, code: string): PreflightIssue {
  const where = l.host || 'every address';
  if (code === 'EADDRINUSE') {
    return { key: l.portKey, message: `${l.port} is already in use on ${where} (another process, or another key, listens there)` };
  }
  if (code === 'EADDRNOTAVAIL') {
    return { key: l.hostKey, message: `${JSON.stringify(l.host)} is not an address of this node` };
  }
  if (code === 'EACCES') return { key: l.portKey, message: `${l.port} may not be bound by this user (EACCES)` };
  return { key: l.portKey, message: `cannot listen on ${where}:${l.port} (${code})` };
}

/** The Hubble listeners and metric specs, when the Hubble control plane is configured and its package installed. */
async function hubbleListeners(config: AgentConfig, issues: PreflightIssue[]): Promise<Listener[]> {
  let hubble: typeof Hubble;
  try {
    hubble = await import('@retina-ts/hubble');
  } catch {
    return []; // Not installed: starting the control plane reports it.
  }
  let options: Hubble.HubbleOptions;
  try {
    options = hubble.hubbleOptionsFromConfig(config).options;
  } catch (err) {
    // The messages start with the key (`hubble-listen-address: ...`).
    const message = (err as Error).message;
    const m = /^([a-z0-9-]+): ([\s\S]*)$/.exec(message);
    issues.push(m ? { key: m[1]!, message: m[2]! } : { key: 'hubble', message });
    return [];
  }
  if (options.metrics && options.metrics.enabled.length > 0) {
    try {
      hubble.parseMetricsConfig(options.metrics.enabled);
    } catch (err) {
      issues.push({ key: 'hubble-metrics', message: (err as Error).message });
    }
  }
  const out: Listener[] = [];
  const add = (key: string, address: string | false | undefined, fallback: string): void => {
    if (address === false) return;
    const { host, port } = hubble.parseListenAddress(address ?? fallback, key);
    if (port !== 0) out.push({ hostKey: key, portKey: key, host, port });
  };
  add('hubble-listen-address', options.listenAddress, hubble.HUBBLE_DEFAULTS.listenAddress);
  if (options.metrics && options.metrics.enabled.length > 0) {
    add('hubble-metrics-server', options.metrics.listenAddress, hubble.HUBBLE_DEFAULTS.metricsListenAddress);
  }
  return out;
}

/**
 * Returns every setting that cannot be used on this node (empty when all is well). Host names resolve within
 * `resolveTimeoutMs`; each listener is bound once and released before this returns.
 */
export async function preflight(config: AgentConfig, opts: PreflightOptions = {}): Promise<PreflightIssue[]> {
  const issues: PreflightIssue[] = [];
  const resolve = opts.resolve ?? defaultResolve;
  const timeoutMs = opts.resolveTimeoutMs ?? RESOLVE_TIMEOUT_MS;
  const listeners: Listener[] = [];
  if (opts.listen ?? true) {
    const { host, port } = config.apiServer;
    listeners.push({ hostKey: 'apiServer.host', portKey: 'apiServer.port', host, port });
  }
  if (config.controlPlane === 'hubble') listeners.push(...(await hubbleListeners(config, issues)));

  const servers: Server[] = [];
  try {
    for (const l of listeners) {
      const resolved = await resolveBounded(l.host, resolve, timeoutMs);
      if ('error' in resolved) {
        issues.push({ key: l.hostKey, message: `${JSON.stringify(l.host)} ${resolved.error}` });
        continue;
      }
      if (l.port === 0) continue; // any free port: nothing can be in the way
      const bound = await tryBind(resolved.address, l.port);
      if ('server' in bound) servers.push(bound.server);
      else issues.push(bindMessage({ ...l, host: l.host }, bound.code));
    }
  } finally {
    await Promise.all(servers.map((s) => new Promise((done) => s.close(done))));
  }
  return issues;
}
