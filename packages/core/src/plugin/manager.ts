/**
 * PluginManager: runs every enabled plugin independently. A plugin that fails to initialise, crashes, or stops on
 * its own is reported (log, status, metrics), released, and restarted after an exponential backoff, while the others
 * keep running. Stop is ordered (reverse start order) and bounded per plugin.
 */
import { isDeepStrictEqual } from 'node:util';
import type { AgentConfig } from '../config/schema.js';
import { effectivePlugins, toPluginPlatform } from '../config/load.js';
import type { FlowBus } from '../flow/bus.js';
import type { IpCacheReader } from '../ipcache/ipcache.js';
import type { Logger } from '../log/logger.js';
import type { MetricsModule } from '../metrics/module.js';
import type { Platform, Plugin, PluginContext, PluginDefinition, PluginRequirements } from './contract.js';
import { PluginTimeoutError } from './errors.js';
import { NodeEventHub, type NodeEvents } from './node-events.js';

/** Where a managed plugin is. */
export type PluginState = 'pending' | 'initializing' | 'running' | 'failed' | 'backoff' | 'stopped' | 'unsupported';

/** Every state, in the order plugin_status lists them. */
export const PLUGIN_STATES: readonly PluginState[] = [
  'pending',
  'initializing',
  'running',
  'failed',
  'backoff',
  'stopped',
  'unsupported',
];

/** One plugin's status as /healthz and logs show it. */
export interface PluginStatus {
  name: string;
  package?: string;
  version: string;
  state: PluginState;
  lastError?: string;
  /** Restarts after failures. */
  restarts: number;
  /** When the plugin entered its state (ISO 8601). */
  since: string;
  /** The definition's one-line description. */
  description?: string;
  /** When the next attempt is due (ISO 8601), in `backoff`. */
  nextRetryAt?: string;
}

/** Exponential backoff between restarts. */
export interface BackoffOptions {
  /** First delay (default 1000 ms). */
  initialMs?: number;
  /** Cap (default 60000 ms). */
  maxMs?: number;
  /** Growth per consecutive failure (default 2). */
  factor?: number;
  /** Fraction of the delay removed at random, 0..1 (default 0.2), so restarts of many nodes spread out. */
  jitter?: number;
}

/** Options of `new PluginManager`. */
export interface PluginManagerOptions {
  config: AgentConfig;
  metrics: MetricsModule;
  logger: Logger;
  flowBus: FlowBus;
  ipCache: IpCacheReader;
  nodeName: string;
  /** Node events handed to plugins as `ctx.node` (default: an empty hub). */
  nodeEvents?: NodeEvents;
  backoff?: BackoffOptions;
  /** Bound on each init() (default 30000 ms). */
  initTimeoutMs?: number;
  /** OS to check `platforms` against (default process.platform). */
  platform?: NodeJS.Platform | Platform;
  /** Bound on the stop() that releases a failed plugin before its restart (default 10000 ms). */
  releaseTimeoutMs?: number;
  /** A plugin that ran this long before failing starts its backoff from the beginning again (default backoff.maxMs). */
  stableAfterMs?: number;
  /** Random source for jitter (default Math.random). */
  random?: () => number;
  /**
   * Checks a definition's `requires` against this host before its first init; returns why each unmet requirement
   * is unmet (empty: all met). A plugin with unmet requirements is `unsupported` and not retried. Default: none
   * checked (core knows no kernel; the agent passes one built from bpf-runtime's probes).
   */
  checkRequirements?: RequirementChecker;
}

/** Says which of `requires` this host does not meet, one reason each (see PluginManagerOptions.checkRequirements). */
export type RequirementChecker = (
  requires: PluginRequirements,
  plugin: string,
) => readonly string[] | Promise<readonly string[]>;

/** Options of `add`. */
export interface AddPluginOptions {
  /** npm package the definition came from (shown in status). */
  packageName?: string;
  /** Options for this plugin; default: `config.plugins[name]`. When given, reconcile does not compare them. */
  options?: Record<string, unknown>;
}

/** A definition as discovery returns it, or a bare definition. */
export type PluginEntry = PluginDefinition<never> | { definition: PluginDefinition<never>; packageName?: string };

/** Result of one plugin's stop. */
export interface PluginStopReport {
  name: string;
  ok: boolean;
  /** Why it did not stop cleanly (thrown error or deadline). */
  error?: string;
}

/** What reconcile changed. */
export interface ReconcileResult {
  started: string[];
  restarted: string[];
  stopped: string[];
  /** Names enabled in config that had no definition. */
  missing: string[];
}

/** Listener for state transitions. */
export type PluginTransitionListener = (status: PluginStatus) => void;

type AnyDefinition = PluginDefinition<never>;

interface Managed {
  readonly name: string;
  definition: AnyDefinition | undefined;
  packageName: string | undefined;
  state: PluginState;
  since: number;
  lastError: string | undefined;
  restarts: number;
  nextRetryAt: number | undefined;
  explicitOptions: Record<string, unknown> | undefined;
  appliedOptions: Record<string, unknown> | undefined;
  /** Failed for a reason a restart cannot fix (not found, unsupported OS). */
  final: boolean;
  /** Bumped whenever the current attempt is superseded; callbacks of older attempts check it and do nothing. */
  generation: number;
  instance: Plugin<never> | undefined;
  abort: AbortController | undefined;
  running: Promise<void> | undefined;
  releasing: Promise<unknown> | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  failures: number;
  runningSince: number | undefined;
  firstAttempt: { promise: Promise<void>; resolve: () => void };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Settles with `{ ok }` when `work` settles, or `{ ok: false }` after `ms`; the timer never outlives the race. */
async function bounded(work: Promise<unknown>, ms: number, what: string): Promise<{ ok: boolean; error?: string }> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<{ ok: boolean; error: string }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, error: `${what} did not finish within ${ms} ms; abandoned` }), ms);
  });
  try {
    return await Promise.race([
      work.then(
        () => ({ ok: true }),
        (err: unknown) => ({ ok: false, error: `${what} threw: ${errorText(err)}` }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Starts, supervises, restarts and stops plugins. */
export class PluginManager {
  #config: AgentConfig;
  readonly #metrics: MetricsModule;
  readonly #logger: Logger;
  readonly #flowBus: FlowBus;
  readonly #ipCache: IpCacheReader;
  readonly #nodeName: string;
  readonly #nodeEvents: NodeEvents;
  readonly #backoff: Required<BackoffOptions>;
  readonly #initTimeoutMs: number;
  readonly #releaseTimeoutMs: number;
  readonly #stableAfterMs: number;
  readonly #platformName: string;
  readonly #platform: Platform | undefined;
  readonly #random: () => number;
  readonly #checkRequirements: RequirementChecker | undefined;
  readonly #records = new Map<string, Managed>();
  readonly #startOrder: Managed[] = [];
  readonly #listeners = new Set<PluginTransitionListener>();
  #started = false;
  #stopping = false;

  constructor(options: PluginManagerOptions) {
    this.#config = options.config;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#flowBus = options.flowBus;
    this.#ipCache = options.ipCache;
    this.#nodeName = options.nodeName;
    this.#nodeEvents = options.nodeEvents ?? new NodeEventHub();
    this.#backoff = {
      initialMs: options.backoff?.initialMs ?? 1000,
      maxMs: options.backoff?.maxMs ?? 60_000,
      factor: options.backoff?.factor ?? 2,
      jitter: options.backoff?.jitter ?? 0.2,
    };
    if (this.#backoff.initialMs <= 0 || this.#backoff.maxMs < this.#backoff.initialMs || this.#backoff.factor < 1) {
      throw new RangeError(
        `PluginManager: backoff ${JSON.stringify(this.#backoff)} is invalid (need initialMs > 0, maxMs >= initialMs, factor >= 1)`,
      );
    }
    if (this.#backoff.jitter < 0 || this.#backoff.jitter > 1) {
      throw new RangeError(`PluginManager: backoff.jitter ${this.#backoff.jitter} must be between 0 and 1`);
    }
    this.#initTimeoutMs = options.initTimeoutMs ?? 30_000;
    this.#releaseTimeoutMs = options.releaseTimeoutMs ?? 10_000;
    this.#stableAfterMs = options.stableAfterMs ?? this.#backoff.maxMs;
    const platform = options.platform ?? process.platform;
    this.#platformName = platform === 'win32' ? 'windows' : platform;
    this.#platform = toPluginPlatform(platform);
    this.#random = options.random ?? Math.random;
    this.#checkRequirements = options.checkRequirements;
  }

  /** The configuration plugins currently receive. */
  get config(): AgentConfig {
    return this.#config;
  }

  /** Adds a plugin (started at once if the manager is running). Throws if the name is already managed. */
  add(definition: AnyDefinition, options: AddPluginOptions = {}): void {
    const existing = this.#records.get(definition.name);
    if (existing && !existing.final) {
      throw new Error(`PluginManager: plugin "${definition.name}" is already added`);
    }
    if (existing) this.#forget(existing);
    const rec = this.#newRecord(definition.name, definition, options.packageName);
    rec.explicitOptions = options.options;
    this.#records.set(rec.name, rec);
    this.#setState(rec, 'pending');
    if (this.#started && !this.#stopping) void this.#launch(rec);
  }

  /** Records a plugin that could not be resolved: shown as failed with `error`, never retried. */
  addFailed(name: string, error: unknown): void {
    const existing = this.#records.get(name);
    if (existing && !existing.final) {
      throw new Error(`PluginManager: plugin "${name}" is already added`);
    }
    if (existing) this.#forget(existing);
    const rec = this.#newRecord(name, undefined, undefined);
    rec.final = true;
    rec.lastError = errorText(error);
    this.#records.set(name, rec);
    rec.firstAttempt.resolve();
    this.#metrics.self.pluginManagerFailedToReconcile.inc({ reason: name });
    this.#logger.error({ plugin: name, err: error }, `plugin ${name} cannot be loaded: ${rec.lastError}`);
    this.#setState(rec, 'failed');
  }

  /** Starts every plugin independently; resolves once each has either reached running or failed its first attempt. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    this.#stopping = false;
    await Promise.all([...this.#records.values()].map((rec) => this.#launch(rec)));
  }

  /**
   * Stops every plugin in reverse start order within `deadlineMs` overall: a plugin whose stop hangs is abandoned
   * and reported, and the rest still stop (each is given at least a short grace period even when the budget is
   * spent, so its stop() is always called).
   */
  async stop(options: { deadlineMs?: number } = {}): Promise<PluginStopReport[]> {
    const deadlineMs = options.deadlineMs ?? 10_000;
    this.#stopping = true;
    for (const rec of this.#records.values()) this.#cancelRetry(rec);
    const launched = [...this.#startOrder].reverse();
    const rest = [...this.#records.values()].filter((r) => !launched.includes(r));
    const reports: PluginStopReport[] = [];
    const end = Date.now() + deadlineMs;
    const grace = Math.min(deadlineMs, 500);
    for (const rec of [...launched, ...rest]) {
      if (rec.final) continue;
      reports.push(await this.#stopOne(rec, Math.max(grace, end - Date.now())));
    }
    this.#started = false;
    return reports;
  }

  /** Status of every plugin, in the order they were added. */
  status(): PluginStatus[] {
    return [...this.#records.values()].map((rec) => this.#statusOf(rec));
  }

  /** Calls `listener` on every state transition; returns the unsubscribe function. */
  onTransition(listener: PluginTransitionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Applies a new configuration: stops plugins no longer enabled, restarts those whose `plugins.<name>` options
   * changed (or whose definition was replaced), and starts newly enabled ones from `definitions` (names enabled
   * without a definition are recorded as failed). Other keys reach plugins when they next start.
   */
  async reconcile(
    newConfig: AgentConfig,
    definitions: Iterable<PluginEntry> = [],
    options: { deadlineMs?: number } = {},
  ): Promise<ReconcileResult> {
    const deadlineMs = options.deadlineMs ?? 10_000;
    const entries = new Map<string, { definition: AnyDefinition; packageName?: string }>();
    for (const e of definitions) {
      const entry = 'definition' in e ? e : { definition: e };
      entries.set(entry.definition.name, entry);
    }
    this.#config = newConfig;
    const desired = effectivePlugins(newConfig, this.#platform ?? (this.#platformName as NodeJS.Platform));
    const result: ReconcileResult = { started: [], restarted: [], stopped: [], missing: [] };

    for (const rec of [...this.#records.values()]) {
      if (desired.includes(rec.name)) continue;
      if (!rec.final) await this.#stopOne(rec, deadlineMs);
      this.#forget(rec);
      result.stopped.push(rec.name);
    }

    for (const name of desired) {
      const rec = this.#records.get(name);
      const entry = entries.get(name);
      if (!rec || (rec.final && rec.state === 'failed' && entry)) {
        if (entry) {
          this.add(entry.definition, entry.packageName ? { packageName: entry.packageName } : {});
          result.started.push(name);
        } else if (!rec) {
          this.addFailed(name, new Error(`plugin "${name}" is enabled but no definition was found for it`));
          result.missing.push(name);
        }
        continue;
      }
      if (rec.final) continue;
      const definitionChanged = entry !== undefined && entry.definition !== rec.definition;
      const optionsChanged =
        rec.explicitOptions === undefined &&
        rec.appliedOptions !== undefined &&
        !isDeepStrictEqual(rec.appliedOptions, newConfig.plugins[name] ?? {});
      if (!definitionChanged && !optionsChanged) continue;
      if (definitionChanged && entry) {
        rec.definition = entry.definition;
        if (entry.packageName) rec.packageName = entry.packageName;
      }
      this.#logger.info(
        { plugin: name },
        `restarting plugin ${name}: ${definitionChanged ? 'definition replaced' : 'options changed'}`,
      );
      await this.#stopOne(rec, deadlineMs);
      rec.failures = 0;
      this.#setState(rec, 'pending');
      if (this.#started && !this.#stopping) void this.#launch(rec);
      result.restarted.push(name);
    }
    return result;
  }

  #newRecord(name: string, definition: AnyDefinition | undefined, packageName: string | undefined): Managed {
    return {
      name,
      definition,
      packageName,
      state: 'pending',
      since: Date.now(),
      lastError: undefined,
      restarts: 0,
      nextRetryAt: undefined,
      explicitOptions: undefined,
      appliedOptions: undefined,
      final: false,
      generation: 0,
      instance: undefined,
      abort: undefined,
      running: undefined,
      releasing: undefined,
      retryTimer: undefined,
      failures: 0,
      runningSince: undefined,
      firstAttempt: deferred(),
    };
  }

  #forget(rec: Managed): void {
    this.#cancelRetry(rec);
    rec.generation++;
    this.#records.delete(rec.name);
    const i = this.#startOrder.indexOf(rec);
    if (i >= 0) this.#startOrder.splice(i, 1);
    for (const state of PLUGIN_STATES) this.#metrics.self.pluginStatus.remove({ plugin: rec.name, state });
  }

  #statusOf(rec: Managed): PluginStatus {
    return {
      name: rec.name,
      ...(rec.packageName ? { package: rec.packageName } : {}),
      version: rec.definition?.version ?? 'unknown',
      state: rec.state,
      ...(rec.lastError !== undefined ? { lastError: rec.lastError } : {}),
      restarts: rec.restarts,
      since: new Date(rec.since).toISOString(),
      ...(rec.definition?.description ? { description: rec.definition.description } : {}),
      ...(rec.state === 'backoff' && rec.nextRetryAt !== undefined
        ? { nextRetryAt: new Date(rec.nextRetryAt).toISOString() }
        : {}),
    };
  }

  #setState(rec: Managed, state: PluginState): void {
    rec.state = state;
    rec.since = Date.now();
    if (state !== 'backoff') rec.nextRetryAt = undefined;
    for (const s of PLUGIN_STATES) this.#metrics.self.pluginStatus.set({ plugin: rec.name, state: s }, s === state ? 1 : 0);
    const status = this.#statusOf(rec);
    this.#logger.info({ plugin: rec.name, state, ...(status.nextRetryAt ? { nextRetryAt: status.nextRetryAt } : {}) }, `plugin ${rec.name} ${state}`);
    for (const listener of this.#listeners) {
      try {
        listener(status);
      } catch (err) {
        this.#logger.error({ err }, 'plugin transition listener threw');
      }
    }
  }

  #launch(rec: Managed): Promise<void> {
    if (rec.final) return rec.firstAttempt.promise;
    if (!this.#startOrder.includes(rec)) this.#startOrder.push(rec);
    const def = rec.definition as AnyDefinition;
    if (!this.#platform || !def.platforms.includes(this.#platform)) {
      this.#unsupported(rec, `requires ${def.platforms.join(' or ')} (this node runs ${this.#platformName})`);
      return rec.firstAttempt.promise;
    }
    const check = this.#checkRequirements;
    if (def.requires && check && rec.generation === 0) {
      // Checked once per record: the kernel and the process's capabilities do not change between restarts. The
      // generation bump makes a relaunch while checking supersede this check.
      const gen = ++rec.generation;
      void Promise.resolve()
        .then(() => check(def.requires as PluginRequirements, rec.name))
        .then(
          (unmet) => unmet,
          (err: unknown) => [`its requirements could not be checked: ${errorText(err)}`],
        )
        .then((unmet) => {
          if (rec.generation !== gen || this.#records.get(rec.name) !== rec || this.#stopping) {
            rec.firstAttempt.resolve();
            return;
          }
          if (unmet.length > 0) this.#unsupported(rec, unmet.join('; '));
          else void this.#attempt(rec);
        });
      return rec.firstAttempt.promise;
    }
    void this.#attempt(rec);
    return rec.firstAttempt.promise;
  }

  /** Marks `rec` unsupported on this node for `reason`; it is not retried. */
  #unsupported(rec: Managed, reason: string): void {
    rec.final = true;
    rec.lastError = reason;
    this.#metrics.self.pluginManagerFailedToReconcile.inc({ reason: rec.name });
    this.#logger.warn({ plugin: rec.name }, `plugin ${rec.name} ${reason}; it will not be started`);
    this.#setState(rec, 'unsupported');
    rec.firstAttempt.resolve();
  }

  #contextFor(rec: Managed, options: Record<string, unknown>): PluginContext<Record<string, unknown>> {
    const flowBus = this.#flowBus;
    return {
      name: rec.name,
      config: this.#config,
      options,
      logger: this.#logger.child({ plugin: rec.name }),
      metrics: this.#metrics,
      emit: (flow) => flowBus.publish(flow),
      ipCache: this.#ipCache,
      nodeName: this.#nodeName,
      node: this.#nodeEvents,
    };
  }

  async #attempt(rec: Managed): Promise<void> {
    const gen = ++rec.generation;
    const def = rec.definition as AnyDefinition;
    this.#setState(rec, 'initializing');
    const options = rec.explicitOptions ?? this.#config.plugins[rec.name] ?? {};
    rec.appliedOptions = options;

    let instance: Plugin<never>;
    try {
      instance = def.create();
    } catch (err) {
      await this.#onFailure(rec, gen, err, 'create');
      return;
    }
    const abort = new AbortController();
    rec.instance = instance;
    rec.abort = abort;
    // Plugins are typed by their own options; the manager hands each the slice of config that belongs to it.
    const ctx = this.#contextFor(rec, options) as unknown as PluginContext<never>;

    let initTimer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(() => instance.init(ctx)),
        new Promise<never>((_, reject) => {
          initTimer = setTimeout(
            () => reject(new PluginTimeoutError(`init() did not finish within ${this.#initTimeoutMs} ms`)),
            this.#initTimeoutMs,
          );
        }),
      ]);
    } catch (err) {
      await this.#onFailure(rec, gen, err, 'init');
      return;
    } finally {
      clearTimeout(initTimer);
    }
    if (gen !== rec.generation) return;

    this.#setState(rec, 'running');
    rec.runningSince = Date.now();
    rec.firstAttempt.resolve();
    let started: Promise<void>;
    try {
      started = Promise.resolve(instance.start(abort.signal));
    } catch (err) {
      started = Promise.reject(err);
    }
    rec.running = started.then(
      () => {
        if (gen === rec.generation && !abort.signal.aborted) {
          void this.#onFailure(
            rec,
            gen,
            new Error('start() returned although the plugin was not stopped; start must run until its signal aborts'),
            'start',
          );
        }
      },
      (err: unknown) => {
        if (gen === rec.generation && !abort.signal.aborted) void this.#onFailure(rec, gen, err, 'start');
        else this.#logger.debug({ plugin: rec.name, err }, 'start() rejected after stop');
      },
    );
  }

  async #onFailure(rec: Managed, gen: number, err: unknown, phase: 'create' | 'init' | 'start'): Promise<void> {
    if (gen !== rec.generation) return;
    rec.lastError = `${phase}: ${errorText(err)}`;
    this.#metrics.self.pluginManagerFailedToReconcile.inc({ reason: rec.name });
    this.#logger.error({ plugin: rec.name, phase, err }, `plugin ${rec.name} failed in ${phase}: ${errorText(err)}`);
    this.#setState(rec, 'failed');
    rec.firstAttempt.resolve();

    const instance = rec.instance;
    rec.instance = undefined;
    rec.abort?.abort();
    rec.abort = undefined;
    if (instance) {
      const release = bounded(Promise.resolve().then(() => instance.stop()), this.#releaseTimeoutMs, 'stop()');
      rec.releasing = release;
      const r = await release;
      if (rec.releasing === release) rec.releasing = undefined;
      if (!r.ok) this.#logger.error({ plugin: rec.name }, `releasing failed plugin ${rec.name}: ${r.error}`);
    }
    if (gen !== rec.generation || this.#stopping) return;

    if (rec.runningSince !== undefined && Date.now() - rec.runningSince >= this.#stableAfterMs) rec.failures = 0;
    rec.runningSince = undefined;
    const delay = this.#backoffDelay(rec.failures++);
    rec.nextRetryAt = Date.now() + delay;
    this.#setState(rec, 'backoff');
    rec.retryTimer = setTimeout(() => {
      rec.retryTimer = undefined;
      if (gen !== rec.generation || this.#stopping) return;
      rec.restarts++;
      this.#metrics.self.pluginRestarts.inc({ plugin: rec.name });
      void this.#attempt(rec);
    }, delay);
  }

  #backoffDelay(failures: number): number {
    const { initialMs, maxMs, factor, jitter } = this.#backoff;
    const raw = Math.min(maxMs, initialMs * Math.pow(factor, failures));
    return Math.max(1, Math.round(raw * (1 - jitter * this.#random())));
  }

  #cancelRetry(rec: Managed): void {
    if (rec.retryTimer) clearTimeout(rec.retryTimer);
    rec.retryTimer = undefined;
  }

  async #stopOne(rec: Managed, deadlineMs: number): Promise<PluginStopReport> {
    this.#cancelRetry(rec);
    rec.generation++;
    const instance = rec.instance;
    const running = rec.running;
    const releasing = rec.releasing;
    rec.instance = undefined;
    rec.running = undefined;
    rec.abort?.abort();
    rec.abort = undefined;
    rec.runningSince = undefined;
    let report: PluginStopReport = { name: rec.name, ok: true };
    if (instance) {
      const work = Promise.all([Promise.resolve().then(() => instance.stop()), running]);
      const r = await bounded(work, deadlineMs, 'stop()');
      if (!r.ok) report = { name: rec.name, ok: false, error: r.error as string };
    } else if (releasing) {
      const r = await bounded(releasing, deadlineMs, 'stop()');
      if (!r.ok) report = { name: rec.name, ok: false, error: r.error as string };
    }
    if (!report.ok) {
      rec.lastError = report.error;
      this.#logger.error({ plugin: rec.name }, `plugin ${rec.name}: ${report.error}`);
    }
    this.#setState(rec, 'stopped');
    return report;
  }
}
