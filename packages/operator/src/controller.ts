/**
 * The operator's control loop: informers on Captures and capture Jobs feed a work queue of capture keys; one
 * worker reconciles each key, retrying failures with backoff, and every key is resynced periodically so a
 * missed event only delays, never loses, a reconcile.
 */
import { BatchV1Api, CustomObjectsApi, makeInformer, type Informer, type KubeConfig, type KubernetesObject, type V1Job } from '@kubernetes/client-node';
import {
  CAPTURE_GROUP,
  CAPTURE_PLURAL,
  CAPTURE_VERSION,
  LABEL_APP,
  LABEL_APP_CAPTURE,
  LABEL_CAPTURE_NAME,
  type Capture,
} from '@retina-ts/capture';
import type { Logger } from '@retina-ts/core';
import type { CaptureReconciler } from './reconciler.js';

/** Knobs every controller of the operator has. */
export interface WatchingControllerOptions {
  logger: Logger;
  /** First retry delay after a failed reconcile (default 1 s), doubling up to maxRetryMs (default 60 s). */
  retryMs?: number;
  maxRetryMs?: number;
  /** Restart a failed informer after this long (default 5 s). */
  informerRestartMs?: number;
}

/** Knobs of the Capture controller. */
export interface ControllerOptions extends WatchingControllerOptions {
  /** Reconcile every known capture this often (default 5 min). */
  resyncMs?: number;
}

/** A de-duplicating queue of keys processed one at a time. */
export class WorkQueue {
  readonly #pending = new Set<string>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #failures = new Map<string, number>();
  #running = false;
  #stopped = false;
  #idle: (() => void)[] = [];

  constructor(
    private readonly handle: (key: string) => Promise<void>,
    private readonly onError: (key: string, err: unknown, retryInMs: number) => void,
    private readonly retryMs = 1000,
    private readonly maxRetryMs = 60_000,
  ) {}

  /** Queues `key` (once, however often it is added before it runs). */
  add(key: string): void {
    if (this.#stopped) return;
    this.#pending.add(key);
    void this.#drain();
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    while (this.#pending.size > 0 && !this.#stopped) {
      const key = this.#pending.values().next().value as string;
      this.#pending.delete(key);
      try {
        await this.handle(key);
        this.#failures.delete(key);
      } catch (err) {
        const n = (this.#failures.get(key) ?? 0) + 1;
        this.#failures.set(key, n);
        const delay = Math.min(this.maxRetryMs, this.retryMs * 2 ** (n - 1));
        this.onError(key, err, delay);
        clearTimeout(this.#timers.get(key));
        this.#timers.set(
          key,
          setTimeout(() => {
            this.#timers.delete(key);
            this.add(key);
          }, delay),
        );
      }
    }
    this.#running = false;
    for (const r of this.#idle.splice(0)) r();
  }

  /** Resolves once nothing is queued or running (retries scheduled for later do not count). */
  async idle(): Promise<void> {
    if (!this.#running && this.#pending.size === 0) return;
    await new Promise<void>((r) => this.#idle.push(r));
  }

  /** Stops processing and cancels scheduled retries. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    this.#pending.clear();
  }
}

/**
 * A WorkQueue that runs `handle` on each key, logging a failed reconcile with the key under `field` (e.g. `pod`)
 * and retrying it with the controller's backoff.
 */
export function reconcileQueue(
  field: string,
  handle: (key: string) => Promise<void>,
  options: WatchingControllerOptions,
): WorkQueue {
  return new WorkQueue(
    handle,
    (key, err, retryInMs) =>
      options.logger.error({ [field]: key, error: (err as Error).message, retryInMs }, 'reconcile failed; retrying'),
    options.retryMs,
    options.maxRetryMs,
  );
}

const keyOf = (ns: string | undefined, name: string | undefined) => `${ns ?? 'default'}/${name ?? ''}`;

/** Watches Captures and their Jobs and reconciles them. */
export class CaptureController {
  readonly queue: WorkQueue;
  readonly #kc: KubeConfig;
  readonly #reconciler: CaptureReconciler;
  readonly #o: ControllerOptions;
  readonly #informers: Informer<KubernetesObject>[] = [];
  readonly #known = new Set<string>();
  #resync?: NodeJS.Timeout;
  #stopped = false;

  constructor(kc: KubeConfig, reconciler: CaptureReconciler, options: ControllerOptions) {
    this.#kc = kc;
    this.#reconciler = reconciler;
    this.#o = options;
    this.queue = reconcileQueue(
      'capture',
      async (key) => {
        const [ns, name] = key.split('/') as [string, string];
        const outcome = await this.#reconciler.reconcile(ns, name);
        if (outcome === 'gone' || outcome === 'cleaned-up') this.#known.delete(key);
        options.logger.debug({ capture: key, outcome }, 'reconciled');
      },
      options,
    );
  }

  #watch<T extends KubernetesObject>(name: string, inf: Informer<T>, onObject: (o: T) => void, onDelete?: (o: T) => void): void {
    inf.on('add', onObject);
    inf.on('update', onObject);
    inf.on('delete', onDelete ?? onObject);
    inf.on('error', (err: unknown) => {
      if (this.#stopped) return;
      this.#o.logger.warn({ informer: name, error: (err as Error)?.message ?? String(err) }, 'watch failed; restarting');
      setTimeout(() => {
        if (!this.#stopped) void inf.start().catch(() => {});
      }, this.#o.informerRestartMs ?? 5000);
    });
    this.#informers.push(inf as unknown as Informer<KubernetesObject>);
  }

  /** Starts the informers and the periodic resync; resolves once both informers have listed. */
  async start(): Promise<void> {
    const custom = this.#kc.makeApiClient(CustomObjectsApi);
    const batch = this.#kc.makeApiClient(BatchV1Api);
    const captures = makeInformer<Capture & KubernetesObject>(
      this.#kc,
      `/apis/${CAPTURE_GROUP}/${CAPTURE_VERSION}/${CAPTURE_PLURAL}`,
      async () => (await custom.listClusterCustomObject({ group: CAPTURE_GROUP, version: CAPTURE_VERSION, plural: CAPTURE_PLURAL })) as never,
    );
    const selector = `${LABEL_APP}=${LABEL_APP_CAPTURE}`;
    const jobs = makeInformer<V1Job>(
      this.#kc,
      '/apis/batch/v1/jobs',
      () => batch.listJobForAllNamespaces({ labelSelector: selector }),
      selector,
    );
    this.#watch('captures', captures, (c) => {
      const key = keyOf(c.metadata?.namespace, c.metadata?.name);
      this.#known.add(key);
      this.queue.add(key);
    });
    this.#watch('jobs', jobs, (j) => {
      const capture = j.metadata?.labels?.[LABEL_CAPTURE_NAME];
      if (capture) this.queue.add(keyOf(j.metadata?.namespace, capture));
    });
    await Promise.all(this.#informers.map((i) => i.start()));
    this.#resync = setInterval(() => {
      for (const k of this.#known) this.queue.add(k);
    }, this.#o.resyncMs ?? 300_000);
    this.#resync.unref();
    this.#o.logger.info('capture controller started');
  }

  /** Stops watching and reconciling. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#resync) clearInterval(this.#resync);
    this.queue.stop();
    await Promise.all(this.#informers.map((i) => i.stop()));
  }
}
