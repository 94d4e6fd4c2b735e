/**
 * CpuBudgetController: keeps the agent's CPU near `cpuBudget` by changing how many kernel events are reported
 * (one in N, see SamplingHub). Every interval it measures the process's CPU (all threads) and:
 *
 * - over the budget (more than `overBand` above it): raises N in proportion to the excess, so a flood is met in a
 *   step or two (at most ×`maxStep` per step);
 * - well under it (below `underBand` for `underTicks` intervals in a row): lowers N in proportion, at most halving
 *   it per step, so reporting comes back gently;
 * - in between: holds N.
 *
 * Events lost (the samplers' `lost()`: ring buffer full, reader behind) mean the agent is not keeping up even within
 * its budget (other processes may take the CPU it was promised): N at least doubles then, and does not come back
 * below that rate for `lossHoldMs`, so a rate that lost events is not tried again at once.
 *
 * CPU is roughly a fixed part plus a part proportional to the events reported (rate/N): scaling N by usage/target
 * undershoots the change a fixed part needs, so the controller approaches the target from one side instead of
 * jumping across it. The interval after a change is not judged, since its CPU mixes the old rate and the new one.
 */
import type { MetricsModule } from '../metrics/module.js';
import { MAX_SAMPLING_RATE, type SamplingHub } from './sampling.js';

/** Tuning of the controller; the defaults suit a 1 s interval. */
export interface CpuBudgetTuning {
  /** Measurement and decision interval in ms (default 1000). */
  intervalMs?: number;
  /** Usage the controller steers to, as a fraction of the budget (default 0.92). */
  target?: number;
  /** Above `budget × overBand` N rises (default 1.02). */
  overBand?: number;
  /** Below `budget × underBand` for `underTicks` intervals N falls (defaults 0.8 and 2). */
  underBand?: number;
  underTicks?: number;
  /** Largest factor N rises by in one step (default 16). */
  maxStep?: number;
  /** Largest N (default MAX_SAMPLING_RATE). */
  maxRate?: number;
  /** After events were lost at rate N, N stays above it this long (default 30 s). */
  lossHoldMs?: number;
}

export interface CpuBudgetOptions extends CpuBudgetTuning {
  /** CPU the agent may use, in cores (> 0). */
  budgetCores: number;
  /** Where the rate goes. */
  hub: SamplingHub;
  /** CPU seconds the process has used so far, all threads (default: process.cpuUsage()). */
  cpuSeconds?: () => number;
  /** Monotonic time in ms (default: performance.now()). */
  now?: () => number;
  /** Events lost so far, cumulative (default: the hub's `lost()`). */
  lostEvents?: () => number;
  /** Receives the current rate and usage as metrics. */
  metrics?: MetricsModule;
  /** Told of every rate change (e.g. to log it). */
  onChange?: (change: RateChange) => void;
}

/** One decision that changed N. */
export interface RateChange {
  from: number;
  to: number;
  /** The usage (cores) that led to it. */
  usageCores: number;
  budgetCores: number;
  /** Events lost in the interval that led to it (0 when usage alone decided). */
  lostEvents: number;
}

const processCpuSeconds = (): number => {
  // getrusage(RUSAGE_SELF): every thread of the process, the ring-buffer readers' included.
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Keeps the process within a CPU budget by sampling kernel events. */
export class CpuBudgetController {
  readonly budgetCores: number;
  readonly #hub: SamplingHub;
  readonly #cpuSeconds: () => number;
  readonly #now: () => number;
  readonly #metrics: MetricsModule | undefined;
  readonly #onChange: ((change: RateChange) => void) | undefined;
  readonly #intervalMs: number;
  readonly #target: number;
  readonly #over: number;
  readonly #under: number;
  readonly #underTicks: number;
  readonly #maxStep: number;
  readonly #maxRate: number;
  readonly #lostEvents: () => number;
  readonly #lossHoldMs: number;
  #lastLost = 0;
  #lossFloor = 1;
  #lossFloorUntil = 0;
  #lastCpu = 0;
  #lastNow = 0;
  #usage = 0;
  #belowFor = 0;
  #settling = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: CpuBudgetOptions) {
    if (!(options.budgetCores > 0) || !Number.isFinite(options.budgetCores)) {
      throw new RangeError(`cpuBudget ${options.budgetCores} is not a positive number of cores`);
    }
    this.budgetCores = options.budgetCores;
    this.#hub = options.hub;
    this.#cpuSeconds = options.cpuSeconds ?? processCpuSeconds;
    this.#now = options.now ?? (() => performance.now());
    this.#metrics = options.metrics;
    this.#onChange = options.onChange;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#target = options.target ?? 0.92;
    this.#over = options.overBand ?? 1.02;
    this.#under = options.underBand ?? 0.8;
    this.#underTicks = options.underTicks ?? 2;
    this.#maxStep = options.maxStep ?? 16;
    this.#maxRate = Math.min(options.maxRate ?? MAX_SAMPLING_RATE, MAX_SAMPLING_RATE);
    this.#lostEvents = options.lostEvents ?? (() => this.#hub.lost());
    this.#lossHoldMs = options.lossHoldMs ?? 30_000;
    this.#lastCpu = this.#cpuSeconds();
    this.#lastNow = this.#now();
    this.#lastLost = this.#lostEvents();
  }

  /** The CPU (cores) measured over the last interval. */
  get usageCores(): number {
    return this.#usage;
  }

  /** The current sampling rate. */
  get rate(): number {
    return this.#hub.rate;
  }

  /** Measures and decides every interval until `stop()`. */
  start(): void {
    if (this.#timer) return;
    this.#metrics?.self.cpuBudgetCores.set(this.budgetCores);
    this.#lastCpu = this.#cpuSeconds();
    this.#lastNow = this.#now();
    this.#lastLost = this.#lostEvents();
    this.#timer = setInterval(() => this.tick(), this.#intervalMs);
    // The budget must not keep a stopping process alive.
    this.#timer.unref();
  }

  /** Stops deciding and reports every event again (N = 1). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#hub.setRate(1);
  }

  /** One interval: measures the CPU since the previous call and adjusts N. Returns the rate now in effect. */
  tick(): number {
    const cpu = this.#cpuSeconds();
    const now = this.#now();
    const lostTotal = this.#lostEvents();
    const elapsed = (now - this.#lastNow) / 1000;
    const used = cpu - this.#lastCpu;
    // A counter that went back (a plugin restarted) counts from its new value.
    const lost = Math.max(0, lostTotal - this.#lastLost);
    this.#lastCpu = cpu;
    this.#lastNow = now;
    this.#lastLost = lostTotal;
    // A stalled clock or a CPU reading that went backwards says nothing about usage.
    if (!(elapsed > 0) || !(used >= 0)) return this.#hub.rate;
    const usage = used / elapsed;
    this.#usage = usage;
    this.#metrics?.self.cpuUsageCores.set(usage);
    // Losses are acted on even in the settling interval: they only grow while the rate is too low.
    if (this.#settling && lost === 0) {
      this.#settling = false;
      return this.#hub.rate;
    }
    this.#settling = false;
    const next = lost > 0 ? this.#onLoss(usage, now) : this.#decide(usage, now);
    if (next !== this.#hub.rate) {
      const from = this.#hub.rate;
      this.#hub.setRate(next);
      this.#settling = true;
      this.#onChange?.({ from, to: next, usageCores: usage, budgetCores: this.budgetCores, lostEvents: lost });
    }
    return this.#hub.rate;
  }

  #onLoss(usage: number, now: number): number {
    this.#belowFor = 0;
    const n = this.#hub.rate;
    const byUsage = Math.ceil((n * usage) / (this.budgetCores * this.#target));
    const next = Math.min(this.#maxRate, Math.max(n * 2, Math.min(byUsage, n * this.#maxStep)));
    this.#lossFloor = next;
    this.#lossFloorUntil = now + this.#lossHoldMs;
    return next;
  }

  #decide(usage: number, now: number): number {
    const n = this.#hub.rate;
    const budget = this.budgetCores;
    const goal = budget * this.#target;
    if (usage > budget * this.#over) {
      this.#belowFor = 0;
      const wanted = Math.ceil((n * usage) / goal);
      return Math.min(this.#maxRate, Math.max(n + 1, Math.min(wanted, n * this.#maxStep)));
    }
    if (usage < budget * this.#under && n > 1) {
      this.#belowFor++;
      if (this.#belowFor < this.#underTicks) return n;
      this.#belowFor = 0;
      const wanted = Math.floor((n * usage) / goal);
      const floor = now < this.#lossFloorUntil ? this.#lossFloor : 1;
      return Math.max(floor, Math.ceil(n / 2), Math.min(wanted, n - 1));
    }
    this.#belowFor = 0;
    return n;
  }
}
