/** Shared fixtures for the watcher tests: config, logger, object factories, and polling. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, parseConfig, type AgentConfig, type Logger } from '@retina-ts/core';
import { logSink, type LogLine } from '@retina-ts/core/testing';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble, type KubeObject } from '@retina-ts/k8s-apiserver-double';

export { flowBetween } from '@retina-ts/core/testing';

/** An agent config from Retina-style keys (pod level on, node `node-a`). */
export function agentConfig(overrides: Record<string, unknown> = {}): AgentConfig {
  return parseConfig({ enablePodLevel: true, nodeName: 'node-a', ...overrides }, { env: {} }).config;
}

/** A logger whose JSON lines are kept in `lines`. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: LogLine[] = [];
  return { logger: createLogger({ level: 'debug', destination: logSink(lines) }), lines };
}

/** Polls until `fn` returns without throwing (e.g. an `expect`), or rethrows its last error after `timeoutMs`. */
export async function eventually<T>(fn: () => T, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** Fast reconnects for tests. */
export const FAST_BACKOFF = { initialMs: 20, maxMs: 200, factor: 2, jitter: 0 };

/** Options of `pod`. */
export interface PodSpec {
  name: string;
  namespace?: string;
  ip?: string;
  ips?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  owner?: { kind: string; name: string };
  node?: string;
  phase?: string;
  hostNetwork?: boolean;
  created?: string;
}

/** A Pod object as the API server stores it. */
export function pod(s: PodSpec): KubeObject {
  const ips = s.ips ?? (s.ip ? [s.ip] : []);
  return {
    metadata: {
      name: s.name,
      namespace: s.namespace ?? 'default',
      labels: s.labels ?? {},
      ...(s.annotations ? { annotations: s.annotations } : {}),
      ...(s.created ? { creationTimestamp: s.created } : {}),
      ...(s.owner
        ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: s.owner.kind, name: s.owner.name, uid: `uid-${s.owner.name}`, controller: true }] }
        : {}),
    },
    spec: { nodeName: s.node ?? 'node-a', containers: [{ name: 'c', image: 'busybox' }], ...(s.hostNetwork ? { hostNetwork: true } : {}) },
    status: {
      phase: s.phase ?? 'Running',
      ...(ips.length ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
    },
  };
}

/** A ReplicaSet owned by a Deployment. */
export function replicaSet(namespace: string, name: string, deployment: string): KubeObject {
  return {
    metadata: {
      name,
      namespace,
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment, uid: `uid-${deployment}`, controller: true }],
    },
    spec: { selector: { matchLabels: {} } },
  };
}

/** A running double with a kubeconfig file pointing at it. */
export interface DoubleEnv {
  api: ApiServerDouble;
  kubeconfig: string;
  dir: string;
  close(): Promise<void>;
}

/** Starts a double and writes a kubeconfig for it. */
export async function startDoubleEnv(): Promise<DoubleEnv> {
  const api = await startApiServerDouble();
  const dir = await mkdtemp(join(tmpdir(), 'retina-k8s-'));
  const kubeconfig = await writeKubeconfig(join(dir, 'kubeconfig'), { server: api.url, token: 'test-token' });
  return {
    api,
    kubeconfig,
    dir,
    close: async () => {
      await api.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
