/**
 * CpuBudgetController: keeps the agent's CPU at `cpuBudget` by changing how many kernel events are reported (one in
 * N, see SamplingHub).
 *
 * The agent's CPU is close to `fixed + perEvent × reported`, and `reported ≈ arrived / N`. Every interval (1 s) the
 * controller measures its CPU and the samplers' counts (events arrived, events reported). It estimates `fixed` by a
 * least-squares fit of CPU against reported events with exponential forgetting (a few seconds of memory; trusted only
 * when the reported rate varied enough to tell the two parts apart), and `perEvent` as an exponential average of each
 * interval's `(usage − fixed) / reported`. The rate it sets is the one that puts the modelled CPU on the budget for the
 * arrivals of the last interval: traffic changes are followed at once (the counts are exact), the cost per event
 * slowly (one CPU reading is noisy), so noise does not swing the rate and a wrong estimate is corrected over a few
 * intervals without overshoot. Lowering is limited to ÷`maxDown` per interval so that a short lull in a flood costs
 * at most that factor when the flood resumes. Rates are integers: where the two around the modelled rate are far
 * apart in CPU (small rates), the controller alternates between them so that the average lands on the budget.
 *
 * Between intervals (`tick()` may be called more often, see `fastMs`) only the arrivals are read: when they predict
 * a CPU far above the budget (a flood starting) N is raised at once, before a whole second of it reaches user space.
 *
 * Without counts (no sampler counts) the arrivals are taken as steady and the same step works on the measured CPU
 * alone. Events lost (the samplers' `lost()`: ring buffer full, reader behind) mean the agent is not keeping up even
 * within its budget: N at least doubles then, and for `lossHoldMs` does not come back to the lowest rate of the
 * interval that lost them.
 */
import type { MetricsModule } from '../metrics/module.js';
import { MAX_SAMPLING_RATE, type SamplerCounts, type SamplingHub } from './sampling.js';

/** Tuning of the controller; the defaults suit a 1 s interval. */
export interface CpuBudgetTuning {
  /** Measurement and decision interval in ms (default 1000). */
  intervalMs?: number;
  /** How often the timer looks at the arrivals between decisions, in ms (default 250; ≥ intervalMs: never). */
  fastMs?: number;
  /** Usage the controller steers to, as a fraction of the budget (default 1). */
  target?: number;
  /** Weight of the newest interval in the per-event cost average (default 0.5). */
  smoothing?: number;
  /**
   * Neighbouring rates whose modelled CPU differs by less than this fraction of the target are not alternated: the
   * one in effect stays (default 0.1).
   */
  ditherAbove?: number;
  /** Largest factor N rises by in one interval (default 1024). */
  maxStep?: number;
  /** Largest factor N falls by in one interval (default 4). */
  maxDown?: number;
  /** Largest N (default MAX_SAMPLING_RATE). */
  maxRate?: number;
  /** After events were lost at rate N, N stays above it this long (default 30 s). */
  lossHoldMs?: number;
  /** CPU seconds per reported event assumed before any was measured (default 4 µs). */
  perEventPrior?: number;
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
  /** Events arrived and reported so far, cumulative (default: the hub's `counts()`). */
  eventCounts?: () => SamplerCounts | undefined;
  /** Receives the current rate and usage as metrics. */
  metrics?: MetricsModule;
  /** Told of every rate change (e.g. to log it). */
  onChange?: (change: RateChange) => void;
}

/** One decision that changed N. */
export interface RateChange {
  from: number;
  to: number;
  /** The usage (cores) that led to it (the last measured one for a change between intervals). */
  usageCores: number;
  budgetCores: number;
  /** Events lost in the interval that led to it (0 when usage alone decided). */
  lostEvents: number;
  /** Events arriving per second as last measured (undefined without counts). */
  arrivalsPerSecond?: number;
  /** The model the rate came from: fixed cost (cores) and CPU seconds per reported event. */
  fixedCores: number;
  perEventSeconds: number;
}

/** Largest fixed part assumed, as a fraction of the target. */
const FIXED_CAP = 0.5;

const processCpuSeconds = (): number => {
  // getrusage(RUSAGE_SELF): every thread of the process, the ring-buffer readers' included.
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

/** Exponentially weighted least squares of usage against reported events per second. */
class FixedCostFit {
  #s0 = 0;
  #sx = 0;
  #sxx = 0;
  #sy = 0;
  #sxy = 0;
  constructor(private readonly keep: number) {}

  add(x: number, y: number): void {
    const k = this.keep;
    this.#s0 = this.#s0 * k + 1;
    this.#sx = this.#sx * k + x;
    this.#sxx = this.#sxx * k + x * x;
    this.#sy = this.#sy * k + y;
    this.#sxy = this.#sxy * k + x * y;
  }

  /** The intercept (fixed cost), or undefined while x has not varied enough to separate it from the slope. */
  intercept(): number | undefined {
    if (this.#s0 < 2) return undefined;
    const mx = this.#sx / this.#s0;
    const varX = this.#sxx / this.#s0 - mx * mx;
    // A spread under 20% of the mean: the line through the points is mostly noise.
    if (!(varX > 0) || Math.sqrt(varX) < 0.2 * mx) return undefined;
    const my = this.#sy / this.#s0;
    const slope = (this.#sxy / this.#s0 - mx * my) / varX;
    if (!(slope > 0)) return undefined;
    return my - slope * mx;
  }
}

/** Keeps the process within a CPU budget by sampling kernel events. */
export class CpuBudgetController {
  readonly budgetCores: number;
  readonly #hub: SamplingHub;
  readonly #cpuSeconds: () => number;
  readonly #now: () => number;
  readonly #metrics: MetricsModule | undefined;
  readonly #onChange: ((change: RateChange) => void) | undefined;
  readonly #intervalMs: number;
  readonly #fastMs: number;
  readonly #goal: number;
  readonly #smoothing: number;
  readonly #ditherAbove: number;
  readonly #maxStep: number;
  readonly #maxDown: number;
  readonly #maxRate: number;
  readonly #lostEvents: () => number;
  readonly #counts: () => SamplerCounts | undefined;
  readonly #lossHoldMs: number;
  readonly #fit = new FixedCostFit(0.8);
  #fixed = 0;
  /** False until the first decision after start. */
  #warm = false;
  /** The fixed part as measured while (nearly) idle, once it was. */
  #idleFixed: number | undefined;
  #perEvent: number;
  #perEventMeasured = false;
  #lossFloor = 1;
  #lossFloorUntil = 0;
  // At the last decision.
  #lastCpu = 0;
  #lastNow = 0;
  #lastLost = 0;
  #lastReported = 0;
  #lastArrived = 0;
  // At the last look at the arrivals (a decision or a fast check).
  #peekNow = 0;
  #peekArrived = 0;
  #arrivals: number | undefined;
  /** Arrivals per second the last decision was made for. */
  #arrivalsAtDecision = 0;
  #usage = 0;
  /** CPU-seconds the integer rates chosen so far add over the real rates the model asked for (see #step). */
  #roundingDebt = 0;
  /** The lowest rate in effect since the last decision. */
  #lowestRate = 1;
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
    this.#fastMs = Math.min(options.fastMs ?? 250, this.#intervalMs);
    this.#goal = options.budgetCores * (options.target ?? 1);
    this.#smoothing = options.smoothing ?? 0.5;
    this.#ditherAbove = options.ditherAbove ?? 0.1;
    this.#maxStep = options.maxStep ?? 1024;
    this.#maxDown = options.maxDown ?? 4;
    this.#maxRate = Math.min(options.maxRate ?? MAX_SAMPLING_RATE, MAX_SAMPLING_RATE);
    this.#lostEvents = options.lostEvents ?? (() => this.#hub.lost());
    this.#counts = options.eventCounts ?? (() => this.#hub.counts());
    this.#lossHoldMs = options.lossHoldMs ?? 30_000;
    this.#perEvent = options.perEventPrior ?? 4e-6;
    this.#mark();
  }

  /** The CPU (cores) measured over the last interval. */
  get usageCores(): number {
    return this.#usage;
  }

  /** The current sampling rate. */
  get rate(): number {
    return this.#hub.rate;
  }

  /** The current estimates: the fixed cost (cores) and the cost of one reported event (CPU seconds). */
  get model(): { fixedCores: number; perEventSeconds: number } {
    return { fixedCores: this.#fixed, perEventSeconds: this.#perEvent };
  }

  /** Measures and decides until `stop()`: looks at the arrivals every `fastMs`, decides every `intervalMs`. */
  start(): void {
    if (this.#timer) return;
    this.#metrics?.self.cpuBudgetCores.set(this.budgetCores);
    this.#mark();
    this.#warm = false;
    this.#timer = setInterval(() => this.tick(), this.#fastMs);
    // The budget must not keep a stopping process alive.
    this.#timer.unref();
  }

  /** Stops deciding and reports every event again (N = 1). */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#hub.setRate(1);
  }

  /**
   * Called every `fastMs`: once `intervalMs` has passed since the last decision, measures the CPU since then and
   * adjusts N; before that, only raises N when the arrivals predict a flood. Returns the rate now in effect.
   */
  tick(): number {
    const now = this.#now();
    // A timer a little early still makes the decision of its interval.
    if (now - this.#lastNow >= this.#intervalMs * 0.9 || !(now > this.#lastNow)) return this.#decide(now);
    this.#peek(now);
    return this.#hub.rate;
  }

  #mark(): void {
    this.#lastCpu = this.#cpuSeconds();
    this.#lastNow = this.#now();
    this.#lastLost = this.#lostEvents();
    const c = this.#counts();
    this.#lastArrived = c?.arrived ?? 0;
    this.#lastReported = c?.reported ?? 0;
    this.#peekNow = this.#lastNow;
    this.#peekArrived = this.#lastArrived;
    this.#lowestRate = this.#hub.rate;
  }

  /** Between decisions: a flood that would take far more than the budget is met now. */
  #peek(now: number): void {
    const c = this.#counts();
    if (!c) return;
    const dt = (now - this.#peekNow) / 1000;
    const arrived = Math.max(0, c.arrived - this.#peekArrived);
    this.#peekNow = now;
    this.#peekArrived = c.arrived;
    if (!(dt > 0)) return;
    const arrivals = arrived / dt;
    const n = this.#hub.rate;
    // Only a jump: arrivals that merely wander around what the rate was set for wait for the next decision, which
    // measures the CPU too (a quarter second of arrivals is noisy, and the cost estimate may still be high).
    if (arrivals < 2 * this.#arrivalsAtDecision) return;
    const predicted = this.#fixed + (this.#perEvent * arrivals) / n;
    if (predicted <= this.budgetCores * 1.5) return;
    const wanted = Math.ceil(this.#rateFor(arrivals));
    this.#apply(Math.min(wanted, n * this.#maxStep), { usage: this.#usage, lost: 0, arrivals });
  }

  #decide(now: number): number {
    const cpu = this.#cpuSeconds();
    const lostTotal = this.#lostEvents();
    const counts = this.#counts();
    const elapsed = (now - this.#lastNow) / 1000;
    const used = cpu - this.#lastCpu;
    // A counter that went back (a plugin restarted) counts from its new value.
    const lost = Math.max(0, lostTotal - this.#lastLost);
    const reported = counts ? Math.max(0, counts.reported - this.#lastReported) : 0;
    const intervalArrived = counts ? Math.max(0, counts.arrived - this.#lastArrived) : 0;
    this.#lastCpu = cpu;
    this.#lastNow = now;
    this.#lastLost = lostTotal;
    this.#lastArrived = counts?.arrived ?? 0;
    this.#lastReported = counts?.reported ?? 0;
    this.#peekNow = now;
    this.#peekArrived = this.#lastArrived;
    // A stalled clock or a CPU reading that went backwards says nothing about usage.
    if (!(elapsed > 0) || !(used >= 0)) return this.#hub.rate;
    const usage = used / elapsed;
    this.#usage = usage;
    this.#metrics?.self.cpuUsageCores.set(usage);
    const n = this.#hub.rate;

    // Without counts, arrivals are one unit per second, steady, and reported ones 1/N of it.
    const arrivals = counts ? intervalArrived / elapsed : 1;
    this.#arrivalsAtDecision = counts ? arrivals : 0;
    const reportedRate = counts ? reported / elapsed : 1 / n;
    this.#arrivals = counts ? arrivals : undefined;
    this.#learn(reportedRate, usage);
    const firstInterval = !this.#warm;
    this.#warm = true;

    let next: number;
    if (lost > 0) {
      // N at least doubles; the model may ask for more. The lowest rate of the interval lost events: for a while N
      // stays above it (not above the raised rate, which a transient such as a flood's first second may overshoot).
      next = Math.min(this.#maxRate, Math.max(n * 2, Math.ceil(this.#rateFor(arrivals))));
      this.#lossFloor = Math.min(next, this.#lowestRate + 1);
      this.#lossFloorUntil = now + this.#lossHoldMs;
    } else if (firstInterval && reportedRate === 0) {
      // Start-up CPU with no event seen: nothing the rate could change.
      next = n;
    } else {
      next = this.#step(n, usage, arrivals);
    }
    this.#apply(next, { usage, lost, arrivals: this.#arrivals });
    this.#lowestRate = this.#hub.rate;
    return this.#hub.rate;
  }

  /** Updates the fixed and per-event cost estimates from one interval's usage and reported events per second. */
  #learn(reportedRate: number, usage: number): void {
    // The first interval after start carries the start-up's CPU (loading programs): no guide to the fixed part.
    if (this.#warm) this.#learnFixed(reportedRate, usage);
    if (reportedRate > 0) {
      const perEvent = (usage - this.#fixed) / reportedRate;
      if (perEvent > 0) {
        // The first measurement replaces the prior outright: a flood is met by what it really costs. Later ones are
        // averaged in log space, so an estimate off by a factor (the flood's first second pays for compiling the
        // event path) comes back as fast from above as from below; a reading more than twice or under half the
        // estimate is rarely noise (the counts are exact, a second's CPU varies by tens of percent): most of the
        // way is taken at once.
        const off = Math.log(perEvent) - Math.log(this.#perEvent);
        const weight = Math.abs(off) > Math.LN2 ? 0.8 : this.#smoothing;
        this.#perEvent = this.#perEventMeasured ? Math.exp(Math.log(this.#perEvent) + weight * off) : perEvent;
        this.#perEventMeasured = true;
      }
    }
  }

  #learnFixed(reportedRate: number, usage: number): void {
    this.#fit.add(reportedRate, usage);
    if (reportedRate === 0 || (this.#perEventMeasured && this.#perEvent * reportedRate < 0.1 * usage)) {
      // Nearly idle (events explain under a tenth of the CPU): this interval's usage is the fixed part itself, a
      // better estimate than the fit, whose points a flood's first, costlier second can tip.
      this.#idleFixed = this.#idleFixed === undefined ? usage : this.#idleFixed + 0.5 * (usage - this.#idleFixed);
      this.#fixed = Math.min(this.#idleFixed, FIXED_CAP * this.#goal);
      return;
    }
    if (this.#idleFixed !== undefined) return;
    const fixed = this.#fit.intercept();
    // Bounded: an estimate above the real fixed part leaves a small `usage − fixed` that one noisy second swings
    // widely; one below it only slows convergence a little (monotonically).
    if (fixed !== undefined) this.#fixed += this.#smoothing * (Math.min(Math.max(0, fixed), FIXED_CAP * this.#goal) - this.#fixed);
  }

  /** The (real) rate that puts the modelled usage on the target for `arrivals` events per second. */
  #rateFor(arrivals: number): number {
    const variable = this.#goal - this.#fixed;
    if (!(arrivals > 0)) return 1;
    return Math.max(1, (this.#perEvent * arrivals) / variable);
  }

  #predicted(rate: number, arrivals: number): number {
    return this.#fixed + (this.#perEvent * arrivals) / rate;
  }

  #step(n: number, usage: number, arrivals: number): number {
    // Before any event was measured (CPU-only start), the measured ratio to the target decides.
    const wanted = this.#perEventMeasured ? this.#rateFor(arrivals) : n * (usage / this.#goal);
    const x = Math.max(1, n / this.#maxDown, Math.min(wanted, n * this.#maxStep));
    const lo = Math.max(1, Math.floor(x));
    const hi = Math.ceil(x);
    if (lo >= hi) return lo;
    const errLo = this.#predicted(lo, arrivals) - this.#predicted(x, arrivals);
    const errHi = this.#predicted(hi, arrivals) - this.#predicted(x, arrivals);
    if (errLo - errHi <= this.#ditherAbove * this.#goal) {
      // Close neighbours: keep the one in effect, else take the nearer.
      this.#roundingDebt = 0;
      if (n === lo || n === hi) return n;
      return Math.abs(errLo) <= Math.abs(errHi) ? lo : hi;
    }
    // Far apart (small rates, 2 and 3 are 20% apart in CPU): alternating between them so that the modelled CPU they
    // add or save sums to about zero puts the average on x instead of on either side of it.
    const pickLo = Math.abs(this.#roundingDebt + errLo) <= Math.abs(this.#roundingDebt + errHi);
    this.#roundingDebt = Math.max(-this.#goal, Math.min(this.#goal, this.#roundingDebt + (pickLo ? errLo : errHi)));
    return pickLo ? lo : hi;
  }

  #apply(rate: number, why: { usage: number; lost: number; arrivals: number | undefined }): void {
    const now = this.#now();
    const floor = now < this.#lossFloorUntil ? this.#lossFloor : 1;
    const next = Math.min(this.#maxRate, Math.max(floor, 1, Math.round(rate)));
    const from = this.#hub.rate;
    if (next === from) return;
    this.#hub.setRate(next);
    this.#lowestRate = Math.min(this.#lowestRate, next);
    this.#onChange?.({
      from,
      to: next,
      usageCores: why.usage,
      budgetCores: this.budgetCores,
      lostEvents: why.lost,
      fixedCores: this.#fixed,
      perEventSeconds: this.#perEvent,
      ...(why.arrivals === undefined ? {} : { arrivalsPerSecond: why.arrivals }),
    });
  }
}
