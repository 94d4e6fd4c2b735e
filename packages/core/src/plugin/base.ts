/**
 * PluginBase: the lifecycle written once. A plugin extends it, implements `onInit` (and usually `onStart`), and
 * registers every resource it opens with `defer`, so `stop()` releases all of them, in reverse order, exactly once,
 * even if some release functions throw.
 */
import type { Logger } from '../log/logger.js';
import { LostEventType } from '../metrics/names.js';
import type { Plugin, PluginContext } from './contract.js';
import { FatalPluginError } from './errors.js';
import {
  CounterDelta,
  epochOffsetNs,
  processClock,
  type EventBatchHandler,
  type EventLossTotals,
  type EventReader,
  type EventSource,
  type EventStream,
  type ReadEventsOptions,
} from './events.js';

/** Where a PluginBase instance is in its life. */
export type PluginBaseState = 'created' | 'initializing' | 'ready' | 'running' | 'failed' | 'stopping' | 'stopped';

type Settle = { resolve: () => void; reject: (err: Error) => void };

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Base class implementing Plugin: state machine, disposal stack, poll loops and crash reporting. */
export abstract class PluginBase<TOptions = Record<string, unknown>> implements Plugin<TOptions> {
  #state: PluginBaseState = 'created';
  #ctx: PluginContext<TOptions> | undefined;
  readonly #disposers: Array<() => unknown> = [];
  #settle: Settle | undefined;
  #failure: Error | undefined;
  #stopping: Promise<void> | undefined;
  #errorCount = 0;

  /** Load and verify resources. Throw with a clear reason; anything registered with `defer` is still released. */
  protected abstract onInit(ctx: PluginContext<TOptions>): Promise<void> | void;

  /** Begin producing (default: nothing; timers from `every` already run). Rejecting fails the plugin. */
  protected onStart(_signal: AbortSignal): Promise<void> | void {}

  /** The lifecycle state. */
  get state(): PluginBaseState {
    return this.#state;
  }

  /** Errors survived so far (failed polls). */
  get errorCount(): number {
    return this.#errorCount;
  }

  /** The context given to init; throws before init. */
  protected get ctx(): PluginContext<TOptions> {
    if (!this.#ctx) throw new Error(`${this.constructor.name}: ctx is available once init() has been called`);
    return this.#ctx;
  }

  /** The plugin's logger (carries `plugin: <name>`). */
  protected get logger(): Logger {
    return this.ctx.logger;
  }

  /** True once stop() has begun: long loops should check it and return. */
  protected get stopped(): boolean {
    return this.#state === 'stopping' || this.#state === 'stopped';
  }

  /** Runs onInit once; a second call is an error (the manager creates a new instance for each restart). */
  async init(ctx: PluginContext<TOptions>): Promise<void> {
    if (this.#state !== 'created') {
      throw new Error(`${ctx.name}: init() called in state "${this.#state}"; create a new instance for each run`);
    }
    this.#ctx = ctx;
    this.#state = 'initializing';
    try {
      await this.onInit(ctx);
    } catch (err) {
      if (this.#state === 'initializing') this.#state = 'failed';
      throw err;
    }
    // stop() may have been called while onInit was running; then the plugin stays stopped.
    if (this.#state === 'initializing') this.#state = 'ready';
  }

  /** Runs onStart; the promise resolves when `signal` aborts or stop() is called, and rejects on `fail`. */
  start(signal: AbortSignal): Promise<void> {
    if (this.#state !== 'ready') {
      return Promise.reject(
        new Error(`${this.#ctx?.name ?? this.constructor.name}: start() needs a successful init() first (state "${this.#state}")`),
      );
    }
    this.#state = 'running';
    return new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject };
      if (this.#failure) {
        this.#rejectStart(this.#failure);
        return;
      }
      if (signal.aborted) {
        this.#resolveStart();
        return;
      }
      const onAbort = () => this.#resolveStart();
      signal.addEventListener('abort', onAbort, { once: true });
      this.defer(() => signal.removeEventListener('abort', onAbort));
      Promise.resolve()
        .then(() => this.onStart(signal))
        .catch((err: unknown) => this.fail(err));
    });
  }

  /** Releases everything registered with `defer`, newest first. Idempotent; safe before init. */
  stop(): Promise<void> {
    this.#stopping ??= this.#runStop();
    return this.#stopping;
  }

  /**
   * Registers a release function run at stop (reverse registration order). Registered after stop finished, it
   * runs at once, so a resource opened late is not leaked.
   */
  protected defer(fn: () => unknown): void {
    if (this.#state === 'stopped') {
      void this.#dispose(fn);
      return;
    }
    this.#disposers.push(fn);
  }

  /**
   * Calls `fn` now and then every `ms` after each call completes, until stop. A thrown error is logged with the
   * plugin name and counted, and the loop goes on; a FatalPluginError ends the loop and fails the plugin.
   * Returns a function that cancels this loop early.
   */
  protected every(ms: number, fn: () => unknown): () => void {
    if (!Number.isFinite(ms) || ms <= 0) {
      throw new RangeError(`${this.ctx.name}: every(ms) needs a positive interval, got ${String(ms)}`);
    }
    let active = true;
    let timer: NodeJS.Timeout | undefined;
    const cancel = () => {
      active = false;
      if (timer) clearTimeout(timer);
    };
    const tick = async () => {
      if (!active || this.stopped) return;
      try {
        await fn();
      } catch (err) {
        if (err instanceof FatalPluginError) {
          cancel();
          this.fail(err);
          return;
        }
        this.reportError(err, `periodic task failed; retrying in ${ms} ms`);
      }
      if (active && !this.stopped) timer = setTimeout(() => void tick(), ms);
    };
    this.defer(cancel);
    void tick();
    return cancel;
  }

  /**
   * Reads kernel events: creates the reader from `source` and starts it, hands each batch to `onBatch` with the
   * current clock offset, and until stop, every `intervalMs` (default `metricsIntervalMs`) adds the growth of the
   * kernel's loss counter and of the reader's dropped records to `lost_events_counter` and measures the clock offset
   * again (so flow times follow a wall-clock step). A reader failure fails the plugin, so the manager restarts it.
   * At stop the reader is stopped (records still queued are dropped and counted) and losses are accounted a last
   * time. Labels: `type` is `kernel`, `buffered_channel` or `parser`, `reason` the plugin's name.
   * Without a source (e.g. flows turned off) only the kernel loss counter is followed. Call it from onStart.
   */
  protected readEvents<B, R extends EventReader = EventReader>(
    source: EventSource<NoInfer<B>, R> | undefined,
    onBatch: EventBatchHandler<B>,
    options: ReadEventsOptions = {},
  ): EventStream<R> {
    const ctx = this.ctx;
    const lostCounter = ctx.metrics.self.lostEventsCounter;
    const labels = (type: string) => ({ type, reason: ctx.name });
    const clockSource = options.clock ?? processClock;
    const lost: EventLossTotals = { kernel: 0, reader: 0, malformed: 0 };
    const kernelDelta = new CounterDelta();
    const readerDelta = new CounterDelta();
    let offset = epochOffsetNs(clockSource);
    let reader: R | undefined;
    let done = false;

    const malformed = (n: number): void => {
      if (!(n > 0)) return;
      lost.malformed += n;
      lostCounter.inc(labels(LostEventType.PARSER), n);
    };
    const account = (): void => {
      offset = epochOffsetNs(clockSource);
      if (options.kernelLost) {
        const d = kernelDelta.next(options.kernelLost());
        if (d > 0) {
          lost.kernel += d;
          lostCounter.inc(labels(LostEventType.KERNEL), d);
        }
      }
      if (reader) {
        const d = readerDelta.next(reader.stats().dropped);
        if (d > 0) {
          lost.reader += d;
          lostCounter.inc(labels(LostEventType.BUFFERED_CHANNEL), d);
        }
      }
    };
    const stream: EventStream<R> = {
      get epochOffsetNs() {
        return offset;
      },
      get reader() {
        return reader;
      },
      get lost() {
        return lost;
      },
      account,
    };

    if (source) {
      const created = source({
        // Batches are decoded before onBatch returns (EventBatchHandler), so a ring buffer can be read in place.
        mode: 'inline',
        onBatch: (batch: B) => {
          // Batches still arrive while other resources are released at stop (e.g. a socket closed first).
          if (done) return;
          try {
            malformed(onBatch(batch, stream) ?? 0);
          } catch (err) {
            const count = (batch as { count?: unknown }).count;
            malformed(typeof count === 'number' ? count : 1);
            this.reportError(err, 'decoding a batch of kernel events failed; its records are counted as lost');
          }
        },
        onError: (err: Error) => this.fail(err),
      });
      reader = created;
      // Losses are read after the reader stopped, so what it dropped while stopping is counted too.
      this.defer(() => {
        created.stop();
        done = true;
        account();
      });
      created.start();
    }
    this.every(options.intervalMs ?? ctx.config.metricsIntervalMs, account);
    return stream;
  }

  /** Logs a survivable error with the plugin name and counts it (plugin_errors_total). */
  protected reportError(err: unknown, message: string): void {
    this.#errorCount++;
    const ctx = this.#ctx;
    if (!ctx) return;
    ctx.logger.error({ err: asError(err), plugin: ctx.name }, message);
    ctx.metrics.self.pluginErrors.inc({ plugin: ctx.name });
  }

  /**
   * Crashes the plugin from a callback: the pending start() rejects with `err` (before start, the next start()
   * rejects at once), and the manager restarts the plugin. Ignored once stopping.
   */
  protected fail(err: unknown): void {
    if (this.stopped) {
      this.#ctx?.logger.debug({ err: asError(err) }, 'failure after stop ignored');
      return;
    }
    const error = asError(err);
    if (this.#settle) this.#rejectStart(error);
    else this.#failure ??= error;
  }

  #resolveStart(): void {
    const s = this.#settle;
    this.#settle = undefined;
    s?.resolve();
  }

  #rejectStart(err: Error): void {
    const s = this.#settle;
    this.#settle = undefined;
    this.#state = 'failed';
    s?.reject(err);
  }

  async #runStop(): Promise<void> {
    this.#state = 'stopping';
    this.#resolveStart();
    // Disposers registered while stopping are popped by the same loop.
    for (let fn = this.#disposers.pop(); fn; fn = this.#disposers.pop()) await this.#dispose(fn);
    this.#state = 'stopped';
  }

  async #dispose(fn: () => unknown): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.#errorCount++;
      this.#ctx?.logger.error({ err: asError(err), plugin: this.#ctx.name }, 'releasing a resource failed; continuing');
    }
  }
}
