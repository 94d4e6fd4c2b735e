/**
 * Finds the client configuration: an explicit kubeconfig path or object, else `KUBECONFIG`, else the in-cluster
 * service account, else none (standalone: the agent runs without Kubernetes context).
 */
import { existsSync } from 'node:fs';
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

/**
 * The configuration to use, or undefined when there is none (no explicit path, no KUBECONFIG, not in a cluster).
 * Throws KubeconfigError when a named configuration is unreadable or incomplete.
 */
export function resolveKubeconfig(options: ResolveKubeconfigOptions = {}): ResolvedKubeconfig | undefined {
  const env = options.env ?? process.env;
  const { kubeconfig } = options;
  // Structural, not instanceof: a caller's KubeConfig comes from its own copy of the client.
  if (kubeconfig !== undefined && typeof kubeconfig !== 'string') {
    return { kubeConfig: kubeconfig, source: 'explicit', server: serverOf(kubeconfig, 'kubeconfig') };
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
    return { kubeConfig: kc, source: 'env', server: serverOf(kc, `KUBECONFIG=${env.KUBECONFIG}`), file: fromEnv };
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
    return { kubeConfig: kc, source: 'in-cluster', server: serverOf(kc, 'in-cluster service account') };
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
  return { kubeConfig: kc, source, server: serverOf(kc, `kubeconfig ${file}`), file };
}
