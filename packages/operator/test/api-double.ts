/**
 * The operator tests' cluster: an API server double and a KubeConfig pointing at it, started before the tests and
 * closed after them (per test with `each`, so no object carries over).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger, type Logger } from '@retina-ts/core';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble } from '@retina-ts/k8s-apiserver-double';

/** What useApiServerDouble hands the tests; read its fields inside hooks and tests (they change per test). */
export interface ApiServerFixture {
  /** The running double. */
  readonly api: ApiServerDouble;
  /** A client configuration for it. */
  readonly kc: KubeConfig;
  /** A folder of the test's own (its `kubeconfig` file among others). */
  readonly dir: string;
}

/**
 * Registers the hooks that start a double (for the file, or for each test with `each`) and remove it afterwards.
 * Hooks registered after this call run after its start and before its close.
 */
export function useApiServerDouble(opts: { prefix: string; each?: boolean; insecureSkipTlsVerify?: boolean }): ApiServerFixture {
  const state = {} as { api: ApiServerDouble; kc: KubeConfig; dir: string };
  const up = async (): Promise<void> => {
    state.api = await startApiServerDouble();
    const kubeconfig = await writeKubeconfig(join(state.dir, 'kubeconfig'), {
      server: state.api.url,
      ...(opts.insecureSkipTlsVerify ? { insecureSkipTlsVerify: true } : {}),
    });
    state.kc = new KubeConfig();
    state.kc.loadFromFile(kubeconfig);
  };
  beforeAll(async () => {
    state.dir = await mkdtemp(join(tmpdir(), `${opts.prefix}-`));
    if (!opts.each) await up();
  });
  afterAll(async () => {
    if (!opts.each) await state.api?.close();
    await rm(state.dir, { recursive: true, force: true });
  });
  if (opts.each) {
    beforeEach(up);
    afterEach(async () => state.api?.close());
  }
  return state;
}

/** Controller options for tests: a silent logger and retries and informer restarts in tens of milliseconds. */
export interface FastControllerOptions {
  logger: Logger;
  retryMs: number;
  maxRetryMs: number;
  informerRestartMs: number;
}

/**
 * Registers a hook that stops, after each test, the controller `start()` made: `start()` builds one on the
 * fixture's cluster with `make` and fast options and starts it; `stop()` stops it earlier.
 */
export function useController<C extends { start(): Promise<void>; stop(): Promise<void> }>(
  cluster: ApiServerFixture,
  make: (kc: KubeConfig, options: FastControllerOptions) => C,
): { start(): Promise<C>; stop(): Promise<void> } {
  const options = { logger: createLogger({ level: 'silent' }), retryMs: 20, maxRetryMs: 200, informerRestartMs: 50 };
  let controller: C | undefined;
  const stop = async (): Promise<void> => {
    await controller?.stop();
    controller = undefined;
  };
  afterEach(stop);
  return {
    async start() {
      controller = make(cluster.kc, options);
      await controller.start();
      return controller;
    },
    stop,
  };
}
