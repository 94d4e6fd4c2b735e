/**
 * A resource watcher built on the client's informer (`ListWatch` of @kubernetes/client-node): list, then watch
 * from the list's resourceVersion; a watch the server ends is resumed from the last resourceVersion seen; `410
 * Gone` makes it list again. Around it this adds what a long-running agent needs and the informer leaves to its
 * user: watch requests that ask for bookmarks and a server-side timeout, paged lists, a watchdog for silent
 * connections, restarts with backoff after errors (the informer stops on any error), and a status.
 */
import { ListWatch, Watch, type KubeConfig, type KubernetesListObject, type KubernetesObject } from './client-node.js';
import type { BackoffOptions, Logger } from '@retina-ts/core';
import { Backoff } from './backoff.js';
import { describeError, httpStatusOf } from './errors.js';

/** Lifecycle of a watcher. */
export type WatcherState = 'pending' | 'listing' | 'watching' | 'backoff' | 'stopped';

/** What `status()` reports for one watcher. */
export interface WatcherStatus {
  /** Resource name, e.g. `pods`. */
  resource: string;
  state: WatcherState;
  /** The first list completed. */
  synced: boolean;
  /** Objects in the informer's cache. */
  objects: number;
  /** Full lists done (1 after the first sync; more after 410 Gone or errors that lost the resourceVersion). */
  lists: number;
  /** Watch requests made. */
  watches: number;
  /** BOOKMARK events received. */
  bookmarks: number;
  /** Restarts after errors. */
  restarts: number;
  /** Last resourceVersion seen. */
  resourceVersion: string;
  lastError?: string;
  lastErrorAt?: string;
  nextRetryAt?: string;
}

/** One page of a list. */
export interface ListPage<T> {
  items: T[];
  /** `continue` in JSON; the client's typed models call it `_continue`. */
  metadata?: { resourceVersion?: string; continue?: string; _continue?: string };
}

/** Options of ResourceWatcher. */
export interface ResourceWatcherOptions<T extends KubernetesObject> {
  /** Name for logs, status and metrics (`pods`). */
  resource: string;
  kubeConfig: KubeConfig;
  /** Collection path for watches, e.g. `/api/v1/pods`. */
  path: string;
  /** Fetches one page of the list (with the same selectors as the watch). */
  listPage: (page: { limit: number; continue?: string }) => Promise<ListPage<T>>;
  labelSelector?: string;
  fieldSelector?: string;
  onUpsert: (obj: T) => void;
  onDelete: (obj: T) => void;
  /**
   * Reduces each object before the informer caches it (list items and watch objects), so the cache holds only the
   * fields the handlers read, as client-go's transform functions do.
   */
  transform?: (obj: T) => T;
  /** Called before a full list is applied and after it was (to group the list's objects). */
  onListStart?: () => void;
  onListEnd?: () => void;
  logger: Logger;
  backoff?: BackoffOptions;
  /** Page size of lists (default 500, as client-go). */
  pageSize?: number;
  /** Server-side watch timeout: a random value between this and twice this (default 300 s, as client-go). */
  watchTimeoutSeconds?: number;
  /**
   * A watch that receives nothing (not even a bookmark) for this long is dropped and resumed (default: twice the
   * largest watch timeout plus 30 s), so a silently dead connection cannot stall the watcher.
   */
  idleTimeoutMs?: number;
  /**
   * A custom resource that may not be installed: when its list answers 404, `synced` resolves anyway (nothing to
   * wait for) while the watcher keeps retrying with backoff, so readiness does not hang on a missing CRD.
   */
  optional?: boolean;
  /** Observer of status changes and counters (metrics). */
  onEvent?: (event: 'list' | 'watch' | 'bookmark' | 'restart' | 'relist' | 'state', watcher: ResourceWatcher<T>) => void;
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/**
 * The client's Watch with the request parameters of a well-behaved informer added: `allowWatchBookmarks`, a
 * randomised `timeoutSeconds`, a watchdog, and a pause before reconnecting when watches keep ending at once.
 */
class InformerWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly owner: ResourceWatcher<KubernetesObject>,
  ) {
    super(config);
  }

  override async watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return this.owner.openWatch(
      (params, cb, dn) => super.watch(path, params, cb, dn),
      queryParams,
      callback,
      done,
    );
  }
}

/** Watches one resource through the client's informer and keeps it running. */
export class ResourceWatcher<T extends KubernetesObject> {
  readonly resource: string;
  readonly #opts: ResourceWatcherOptions<T>;
  readonly #informer: ListWatch<T>;
  readonly #backoff: Backoff;
  readonly #abort = new AbortController();
  readonly #log: Logger;
  #state: WatcherState = 'pending';
  #synced = false;
  #listing = false;
  #lists = 0;
  #watches = 0;
  #bookmarks = 0;
  #restarts = 0;
  #lastError?: string;
  #lastErrorAt?: Date;
  #nextRetryAt?: Date;
  #retryTimer?: NodeJS.Timeout;
  #lastWatchOpened = 0;
  #lastWatchEvents = 0;
  #quickEnds = 0;
  #resolveSynced!: () => void;
  /** Resolves after the first complete list (or when stopped first). */
  readonly synced: Promise<void>;

  constructor(options: ResourceWatcherOptions<T>) {
    this.#opts = options;
    this.resource = options.resource;
    this.#backoff = new Backoff(options.backoff);
    this.#log = options.logger.child({ watcher: options.resource });
    this.synced = new Promise((r) => (this.#resolveSynced = r));
    const watch = new InformerWatch(options.kubeConfig, this as unknown as ResourceWatcher<KubernetesObject>);
    this.#informer = new ListWatch<T>(
      options.path,
      watch,
      () => this.#list(),
      false,
      options.labelSelector,
      options.fieldSelector,
    );
    this.#informer.on('add', (o) => this.#apply('upsert', o));
    this.#informer.on('update', (o) => this.#apply('upsert', o));
    this.#informer.on('delete', (o) => this.#apply('delete', o));
    this.#informer.on('error', (err) => this.#onError(err));
  }

  /** Starts listing and watching; returns at once (errors are retried, never thrown). */
  start(): void {
    if (this.#abort.signal.aborted || this.#state !== 'pending') return;
    this.#run();
  }

  /** Stops watching for good. */
  async stop(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    this.#setState('stopped');
    this.#resolveSynced();
    await this.#informer.stop();
  }

  /** The informer's cached objects. */
  list(): readonly T[] {
    return this.#informer.list();
  }

  /** Current status. */
  status(): WatcherStatus {
    return {
      resource: this.resource,
      state: this.#state,
      synced: this.#synced,
      objects: this.#informer.list().length,
      lists: this.#lists,
      watches: this.#watches,
      bookmarks: this.#bookmarks,
      restarts: this.#restarts,
      resourceVersion: this.#informer.latestResourceVersion(),
      ...(this.#lastError ? { lastError: this.#lastError, lastErrorAt: this.#lastErrorAt!.toISOString() } : {}),
      ...(this.#state === 'backoff' && this.#nextRetryAt ? { nextRetryAt: this.#nextRetryAt.toISOString() } : {}),
    };
  }

  #run(): void {
    this.#informer.start().catch((err: unknown) => this.#onError(err));
  }

  #setState(s: WatcherState): void {
    if (this.#state === s) return;
    this.#state = s;
    this.#opts.onEvent?.('state', this);
  }

  #apply(kind: 'upsert' | 'delete', obj: T): void {
    if (this.#abort.signal.aborted) return; // a list that finished after stop()
    try {
      if (kind === 'upsert') this.#opts.onUpsert(obj);
      else this.#opts.onDelete(obj);
    } catch (err) {
      // A bad object must not stop the watch; report it and go on.
      this.#log.error({ err, name: obj.metadata?.name, namespace: obj.metadata?.namespace }, `${this.resource}: cannot apply ${kind}`);
    }
  }

  /** Lists every page; a continue token that expired mid-way (410) restarts the list. */
  async #list(): Promise<KubernetesListObject<T>> {
    this.#setState('listing');
    const limit = this.#opts.pageSize ?? 500;
    for (let attempt = 0; ; attempt++) {
      const items: T[] = [];
      let cont: string | undefined;
      let rv = '';
      try {
        do {
          const page = await this.#opts.listPage({ limit, ...(cont ? { continue: cont } : {}) });
          const t = this.#opts.transform;
          items.push(...(t ? page.items.map(t) : page.items));
          if (!cont) rv = page.metadata?.resourceVersion ?? '';
          cont = page.metadata?._continue || page.metadata?.continue || undefined;
        } while (cont);
      } catch (err) {
        if (cont && httpStatusOf(err) === 410 && attempt < 3) continue;
        throw err;
      }
      this.#lists++;
      if (this.#lists > 1) this.#opts.onEvent?.('relist', this);
      this.#opts.onEvent?.('list', this);
      this.#listing = true;
      this.#opts.onListStart?.();
      return { items, metadata: { resourceVersion: rv } } as KubernetesListObject<T>;
    }
  }

  /** Called by InformerWatch for every watch request of the informer. */
  async openWatch(
    open: (
      params: Record<string, string | number | boolean | undefined>,
      cb: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
      done: (err: unknown) => void,
    ) => Promise<AbortController>,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    // The informer calls watch right after applying a list: the list is complete.
    if (this.#listing) {
      this.#listing = false;
      this.#opts.onListEnd?.();
    }
    if (!this.#synced) {
      this.#synced = true;
      this.#log.info({ objects: this.#informer.list().length }, `${this.resource}: synced`);
      this.#resolveSynced();
    }
    // Watches that end at once without events (a proxy cutting them, say) must not become a busy loop.
    const quick = this.#lastWatchOpened > 0 && Date.now() - this.#lastWatchOpened < 1000 && this.#lastWatchEvents === 0;
    this.#quickEnds = quick ? this.#quickEnds + 1 : 0;
    if (this.#quickEnds > 1) await sleep(this.#backoff.next(), this.#abort.signal);
    if (this.#abort.signal.aborted) {
      const c = new AbortController();
      c.abort();
      return c;
    }
    this.#setState('watching');
    const min = this.#opts.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(min + Math.random() * min);
    const idleMs = this.#opts.idleTimeoutMs ?? (2 * min + 30) * 1000;
    const current: { controller?: AbortController } = {};
    let idleTimer: NodeJS.Timeout | undefined;
    let idleFired = false;
    const arm = () => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        idleFired = true;
        this.#log.warn({ idleMs }, `${this.resource}: watch silent for ${idleMs} ms; reconnecting`);
        current.controller?.abort();
      }, idleMs);
      idleTimer.unref();
    };
    this.#watches++;
    this.#lastWatchOpened = Date.now();
    this.#lastWatchEvents = 0;
    this.#opts.onEvent?.('watch', this);
    arm();
    current.controller = await open(
      { ...queryParams, allowWatchBookmarks: true, timeoutSeconds },
      (phase, rawObj, raw) => {
        arm();
        const t = this.#opts.transform;
        const obj = t && (phase === 'ADDED' || phase === 'MODIFIED' || phase === 'DELETED') ? t(rawObj as T) : rawObj;
        this.#lastWatchEvents++;
        this.#backoff.reset();
        if (phase === 'BOOKMARK') {
          this.#bookmarks++;
          this.#opts.onEvent?.('bookmark', this);
        } else if (phase === 'ERROR') {
          this.#log.info({ status: obj }, `${this.resource}: watch error event (410 Gone lists again)`);
        }
        callback(phase, obj, raw);
      },
      (err) => {
        if (idleTimer) clearTimeout(idleTimer);
        // Our own watchdog abort is a clean end: resume from the last resourceVersion.
        done(idleFired && !this.#abort.signal.aborted ? null : err);
      },
    );
    return current.controller;
  }

  #onError(err: unknown): void {
    if (this.#abort.signal.aborted) return; // aborting the watch on stop reports an error too
    if (this.#listing) {
      this.#listing = false;
      this.#opts.onListEnd?.();
    }
    if (this.#opts.optional && !this.#synced && httpStatusOf(err) === 404) this.#resolveSynced();
    const delay = this.#backoff.next();
    this.#restarts++;
    this.#lastError = describeError(`${this.resource}`, err);
    this.#lastErrorAt = new Date();
    this.#nextRetryAt = new Date(Date.now() + delay);
    this.#log.warn({ retryInMs: delay, attempt: this.#backoff.attempt }, this.#lastError);
    this.#setState('backoff');
    this.#opts.onEvent?.('restart', this);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      if (!this.#abort.signal.aborted) this.#run();
    }, delay);
  }
}
