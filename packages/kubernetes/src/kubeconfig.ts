/**
 * Finds the client configuration: an explicit kubeconfig path or object, else `KUBECONFIG`, else the in-cluster
 * service account, else none (standalone: the agent runs without Kubernetes context).
 */
import { existsSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { KubeConfig } from './client-node.js';

/** Where the configuration came from. */
export type KubeconfigSource = 'explicit' | 'env' | 'in-cluster';

/** A loaded configuration and a description safe to log. */
export interface ResolvedKubeconfig {
  kubeConfig: KubeConfig;
  source: KubeconfigSource;
  /** The API server URL. */
  server: string;
  /** File the configuration was read from, when it was a file. */
  file?: string;
  /**
   * Set when the server is plain `http://` (e.g. `kubectl proxy`): why it was accepted, for a warning. Requests and
   * the bearer token, if any, then travel unencrypted.
   */
  plainHttp?: string;
}

/** Options of resolveKubeconfig. */
export interface ResolveKubeconfigOptions {
  /** A kubeconfig path or a loaded KubeConfig; wins over everything else. */
  kubeconfig?: string | KubeConfig;
  /** Environment (default process.env): `KUBECONFIG`, `KUBERNETES_SERVICE_HOST`, `KUBERNETES_SERVICE_PORT`. */
  env?: NodeJS.ProcessEnv;
  /** Prefix for the service account files (default ''; tests point it at a fake root). */
  inClusterPathPrefix?: string;
}

const SA_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** Thrown when a configuration was named but cannot be used. */
export class KubeconfigError extends Error {
  override name = 'KubeconfigError';
}

function serverOf(kc: KubeConfig, where: string): string {
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new KubeconfigError(
      `${where}: no current cluster with a server URL (check current-context and its cluster entry)`,
    );
  }
  return cluster.server;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/** True for `localhost` and loopback addresses (URL hostnames: IPv6 in brackets). */
function isLoopbackHost(hostname: string): boolean {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  const family = isIP(host);
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Checks the server URL and lets the client use a plain `http://` server where that is safe enough.
 * @kubernetes/client-node refuses http unless the cluster sets `insecure-skip-tls-verify`, so a kubeconfig of
 * `kubectl proxy` (http on loopback) would fail every request. A loopback http server is accepted as is (the flag
 * only unlocks the client's plain http agent; there is no TLS to skip); a non-loopback one only when the kubeconfig
 * itself sets `insecure-skip-tls-verify: true`, since the token would cross the network in clear.
 */
function checkServer(kc: KubeConfig, server: string, where: string): string | undefined {
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new KubeconfigError(`${where}: cluster server ${JSON.stringify(server)} is not a URL`);
  }
  if (url.protocol === 'https:') return undefined;
  if (url.protocol !== 'http:') {
    throw new KubeconfigError(`${where}: cluster server ${server} has protocol ${url.protocol}; expected https: or http:`);
  }
  const cluster = kc.getCurrentCluster()!;
  if (isLoopbackHost(url.hostname)) {
    if (!cluster.skipTLSVerify) {
      kc.clusters = kc.clusters.map((c) => (c === cluster ? { ...c, skipTLSVerify: true } : c));
    }
    return 'plain http (no TLS) to a loopback address, as kubectl proxy serves';
  }
  if (cluster.skipTLSVerify) return 'plain http (no TLS) to a non-loopback address, allowed by insecure-skip-tls-verify';
  throw new KubeconfigError(
    `${where}: cluster server ${server} is plain http on a non-loopback host; use https, or set ` +
      `insecure-skip-tls-verify: true on cluster "${cluster.name}" to accept unencrypted traffic`,
  );
}

/** The resolved configuration with its server checked (and plain http allowed where it may be). */
function checked(r: ResolvedKubeconfig, where: string): ResolvedKubeconfig {
  const plainHttp = checkServer(r.kubeConfig, r.server, where);
  return plainHttp ? { ...r, plainHttp } : r;
}

/**
 * The configuration to use, or undefined when there is none (no explicit path, no KUBECONFIG, not in a cluster).
 * Throws KubeconfigError when a named configuration is unreadable or incomplete.
 */
export function resolveKubeconfig(options: ResolveKubeconfigOptions = {}): ResolvedKubeconfig | undefined {
  const env = options.env ?? process.env;
  const { kubeconfig } = options;
  // Structural, not instanceof: a caller's KubeConfig comes from its own copy of the client.
  if (kubeconfig !== undefined && typeof kubeconfig !== 'string') {
    return checked({ kubeConfig: kubeconfig, source: 'explicit', server: serverOf(kubeconfig, 'kubeconfig') }, 'kubeconfig');
  }
  if (typeof kubeconfig === 'string' && kubeconfig !== '') {
    return fromFile(kubeconfig, 'explicit');
  }
  const fromEnv = env.KUBECONFIG?.split(':').find((p) => p !== '');
  if (fromEnv) {
    // Several paths are merged as kubectl does: the first file's current-context wins.
    const files = env.KUBECONFIG!.split(':').filter((x) => x !== '');
    const missing = files.filter((p) => !existsSync(p));
    if (missing.length === files.length) {
      throw new KubeconfigError(`KUBECONFIG=${env.KUBECONFIG}: no such file`);
    }
    const kc = new KubeConfig();
    try {
      let first = true;
      for (const p of files.filter((f) => !missing.includes(f))) {
        if (first) kc.loadFromFile(p);
        else {
          const more = new KubeConfig();
          more.loadFromFile(p);
          kc.mergeConfig(more, true);
        }
        first = false;
      }
    } catch (err) {
      throw new KubeconfigError(`KUBECONFIG=${env.KUBECONFIG}: ${(err as Error).message}`);
    }
    const where = `KUBECONFIG=${env.KUBECONFIG}`;
    return checked({ kubeConfig: kc, source: 'env', server: serverOf(kc, where), file: fromEnv }, where);
  }
  const prefix = options.inClusterPathPrefix ?? '';
  if (env.KUBERNETES_SERVICE_HOST && env.KUBERNETES_SERVICE_PORT && existsSync(prefix + SA_TOKEN)) {
    const kc = new KubeConfig();
    // loadFromCluster reads the service host and port from process.env.
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    process.env.KUBERNETES_SERVICE_HOST = env.KUBERNETES_SERVICE_HOST;
    process.env.KUBERNETES_SERVICE_PORT = env.KUBERNETES_SERVICE_PORT;
    try {
      kc.loadFromCluster(prefix);
    } finally {
      restoreEnv('KUBERNETES_SERVICE_HOST', saved.host);
      restoreEnv('KUBERNETES_SERVICE_PORT', saved.port);
    }
    const where = 'in-cluster service account';
    return checked({ kubeConfig: kc, source: 'in-cluster', server: serverOf(kc, where) }, where);
  }
  return undefined;
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

function fromFile(file: string, source: KubeconfigSource): ResolvedKubeconfig {
  if (!existsSync(file)) throw new KubeconfigError(`kubeconfig ${file}: no such file`);
  const kc = new KubeConfig();
  try {
    kc.loadFromFile(file);
  } catch (err) {
    throw new KubeconfigError(`kubeconfig ${file}: ${(err as Error).message}`);
  }
  const where = `kubeconfig ${file}`;
  return checked({ kubeConfig: kc, source, server: serverOf(kc, where), file }, where);
}
