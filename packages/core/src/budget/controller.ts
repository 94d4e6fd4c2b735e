/**
 * CpuBudgetController: keeps the agent's CPU at `cpuBudget`, averaged over a few seconds, by changing how many kernel
 * events are reported (one in N, see SamplingHub).
 *
 * The agent's CPU is close to `fixed + perEvent × reported`, and `reported ≈ arrived / N`. Every interval (250 ms) the
 * controller measures its CPU and the samplers' counts (events arrived, events reported), and:
 *
 * - keeps an account of the CPU spent over the budget (the debt: CPU-seconds, forgotten slowly over `memoryMs`), so an
 *   overshoot is paid back by running under the budget for a while and an undershoot is used up; the usage it aims
 *   the next interval at is `budget − debt / repay`. This is what holds a several-second average on the budget while
 *   single intervals swing with the traffic;
 * - sets N from the model (feed-forward): the rate that puts `fixed + perEvent × arrivals / N` on that aim for the
 *   arrivals of the last interval, so a traffic change is followed within one interval. The model learns `fixed` from
 *   (nearly) idle intervals, or before any, from a least-squares fit of CPU against reported events with forgetting,
 *   and `perEvent` as the ratio of CPU above `fixed` to events reported over the last half second or so (`learnMs`).
 *
 * Between intervals (`fastMs`) only the arrivals and the CPU are read: a flood starting (arrivals twice those the last
 * decision was made for, predicted well over the budget while the CPU since the last decision is over the aim too)
 * raises N at once; a flood after a quiet spell is met assuming `coldFactor` times the known cost per event, since
 * its first events cost more (code paths not yet optimised), until the next decision measures what they really cost.
 *
 * N falls by at most `maxDown` per second, so that a short lull in a flood costs at most that factor when it resumes.
 * Rates are integers: the one in effect stays while its modelled CPU is within `hold` of the aim; the account turns
 * the rounding into alternation between the two neighbours where they are far apart (small rates).
 *
 * Without counts (no sampler counts) the arrivals are taken as steady and the same step works on the measured CPU
 * alone. Events lost (the samplers' `lost()`: ring buffer full, reader behind) mean the agent is not keeping up even
 * within its budget: N at least doubles then, and for `lossHoldMs` does not come back to the lowest rate of the
 * interval that lost them.
 */
import type { MetricsModule } from '../metrics/module.js';
import { MAX_SAMPLING_RATE, type SamplerCounts, type SamplingHub } from './sampling.js';

/** Tuning of the controller. */
export interface CpuBudgetTuning {
  /** Measurement and decision interval in ms (default 250). */
  intervalMs?: number;
  /** How often the timer looks at the arrivals between decisions, in ms (default 50; ≥ intervalMs: never). */
  fastMs?: number;
  /** Usage the controller steers to, as a fraction of the budget (default 1). */
  target?: number;
  /** An account of CPU over (under) the budget is paid back (used up) over about this long, in ms (default 1000). */
  repayMs?: number;
  /** The account forgets with this time constant, in ms (default 10000). */
  memoryMs?: number;
  /** The cost per event is measured over about this long, in ms (default 500). */
  learnMs?: number;
  /** The rate in effect stays while its modelled CPU is within this fraction of the target from the aim (default 0.03). */
  hold?: number;
  /** A flood that starts while nothing is sampled is assumed to cost this many times the known cost (default 3). */
  coldFactor?: number;
  /** Largest factor N rises by in one interval (default 1024). */
  maxStep?: number;
  /** Largest factor N falls by in one second (default 64). */
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
  /** CPU-seconds spent over the budget not yet paid back (negative: unused budget) when it was decided. */
  debtSeconds: number;
  /** Events lost in the interval that led to it (0 when usage alone decided). */
  lostEvents: number;
  /** Events arriving per second as last measured (undefined without counts). */
  arrivalsPerSecond?: number;
  /** The model the rate came from: fixed cost (cores) and CPU seconds per reported event. */
  fixedCores: number;
  perEventSeconds: number;
}

/** A flood after this long without one (ms) is met as a cold one (see `coldFactor`). */
const QUIET_MS = 2000;
/** Between decisions a warm flood is met only when it is predicted above this many times the budget. */
const PEEK_ABOVE = 1.5;
/** Largest fixed part assumed, as a fraction of the target. */
const FIXED_CAP = 0.5;
/**
 * The aim never goes below the fixed part plus this fraction of the rest of the target: paying a debt back faster
 * drives N to where the few events left cost many times more each (every one wakes the reader alone), and the CPU
 * falls far less than the model expects.
 */
const AIM_FLOOR = 0.5;
/**
 * Unused budget carried forward, in repay periods of the target: while the traffic needs sampling, what it left
 * unused (a sender slowing down faster than the rate follows, integer rates, a cold start met too cautiously) is used
 * up later; what the traffic leaves unused while it fits the budget unsampled adds only a little, so a flood does not
 * start with an overshoot.
 */
const CREDIT_CAP = 1;
const IDLE_CREDIT_CAP = 0.2;
/** Time constant (s) with which credit fades while the traffic fits the budget unsampled. */
const FITS_MEMORY_S = 3;
/** Debt carried, in repay periods of the target: beyond it the aim is at its floor anyway. */
const DEBT_CAP = 2;

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

  add(x: number, y: number, keep: number): void {
    this.#s0 = this.#s0 * keep + 1;
    this.#sx = this.#sx * keep + x;
    this.#sxx = this.#sxx * keep + x * x;
    this.#sy = this.#sy * keep + y;
    this.#sxy = this.#sxy * keep + x * y;
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
  readonly #repay: number;
  readonly #memory: number;
  readonly #learnS: number;
  readonly #hold: number;
  readonly #coldFactor: number;
  readonly #maxStep: number;
  readonly #maxDown: number;
  readonly #maxRate: number;
  readonly #lostEvents: () => number;
  readonly #counts: () => SamplerCounts | undefined;
  readonly #lossHoldMs: number;
  readonly #fit = new FixedCostFit();
  #fixed = 0;
  /** False until the first decision after start. */
  #warm = false;
  /** The fixed part as measured while (nearly) idle, once it was. */
  #idleFixed: number | undefined;
  #perEvent: number;
  #perEventMeasured = false;
  /** CPU-seconds above `fixed` and events reported, both with forgetting: their ratio is the cost per event. */
  #costSum = 0;
  #eventSum = 0;
  /** A cold flood was met between decisions and no decision has measured it yet. */
  #coldFlood = false;
  /** When an interval last had events that explained a tenth of its CPU or more. */
  #busyAt = -Infinity;
  /** CPU-seconds spent over the target not yet paid back (negative: unused). */
  #debt = 0;
  #lossFloor = 1;
  #lossFloorUntil = 0;
  // At the last decision.
  #lastCpu = 0;
  #lastNow = 0;
  #lastLost = 0;
  #lastReported = 0;
  #lastArrived = 0;
  #arrivals: number | undefined;
  /** Arrivals per second the last decision was made for. */
  #arrivalsAtDecision = 0;
  #usage = 0;
  /** The last decision found the traffic within the budget unsampled (its wanted rate was at most 1). */
  #unbound = true;
  /** The lowest and highest rates in effect since the last decision. */
  #lowestRate = 1;
  #highestRate = 1;
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
    this.#intervalMs = options.intervalMs ?? 250;
    this.#fastMs = Math.min(options.fastMs ?? 50, this.#intervalMs);
    this.#goal = options.budgetCores * (options.target ?? 1);
    this.#repay = (options.repayMs ?? 1000) / 1000;
    this.#memory = (options.memoryMs ?? 10_000) / 1000;
    this.#learnS = (options.learnMs ?? 500) / 1000;
    this.#hold = options.hold ?? 0.03;
    this.#coldFactor = options.coldFactor ?? 3;
    this.#maxStep = options.maxStep ?? 1024;
    this.#maxDown = options.maxDown ?? 64;
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

  /** CPU-seconds spent over the budget and not yet paid back (negative: unused budget carried forward). */
  get debtSeconds(): number {
    return this.#debt;
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
    this.#lowestRate = this.#hub.rate;
    this.#highestRate = this.#hub.rate;
  }

  /** The usage the next interval aims at: the target less the debt paid back over `repay`, never below the floor. */
  #aim(): number {
    const floor = this.#fixed + AIM_FLOOR * (this.#goal - this.#fixed);
    return Math.max(floor, this.#goal - this.#debt / this.#repay);
  }

  /** Between decisions: a flood (or a surge of one) is met now, on the arrivals since the last decision. */
  #peek(now: number): void {
    const c = this.#counts();
    if (!c) return;
    const dt = (now - this.#lastNow) / 1000;
    if (!(dt > 0)) return;
    const arrivals = Math.max(0, c.arrived - this.#lastArrived) / dt;
    // Only a jump: arrivals that merely wander around what the rate was set for wait for the next decision, which
    // measures the CPU too.
    if (!(arrivals >= 2 * this.#arrivalsAtDecision)) return;
    const n = this.#hub.rate;
    // A flood starting after a quiet spell: its first events cost more than the model knows, until a decision has
    // measured them.
    const cold = this.#coldFlood || (n === 1 && now - this.#busyAt > QUIET_MS);
    const perEvent = this.#perEvent * (cold ? this.#coldFactor : 1);
    // Well over the budget only: a quarter second of arrivals is noisy, and the next decision measures the CPU too.
    // A cold flood is met sooner, since its first events cost the most.
    if (this.#fixed + (perEvent * arrivals) / n <= this.budgetCores * (cold ? 1.1 : PEEK_ABOVE)) return;
    // And only while the CPU since the last decision is over the aim too: arrivals are counted as user space reads
    // them, so a reader that could not run for a while (a busy machine) shows a burst of arrivals that came earlier.
    if (!cold && (this.#cpuSeconds() - this.#lastCpu) / dt <= this.#aim()) return;
    const wanted = Math.ceil(this.#rateFor(arrivals, this.#aim(), perEvent));
    this.#coldFlood = cold;
    if (wanted > n) this.#apply(Math.min(wanted, n * this.#maxStep), { usage: this.#usage, lost: 0, arrivals });
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
    const firstInterval = !this.#warm;
    this.#warm = true;
    this.#coldFlood = false;
    this.#learn(reportedRate, usage, elapsed, firstInterval, counts !== undefined);
    // Only intervals with events reported count: CPU spent without any (start-up, loading programs, a scrape while
    // idle) is nothing sampling could have changed, and a flood must not start by paying for it.
    if (!firstInterval && reportedRate > 0) {
      // While the traffic fits the budget unsampled, its own undershoot is not ours to make up (beyond a little);
      // credit left from sampling too hard stays a while (fading faster: the seconds it would make up for recede),
      // to be used when the traffic binds again.
      const fits = this.#unbound && this.#highestRate === 1;
      const kept = this.#debt * Math.exp(-elapsed / (fits && this.#debt < 0 ? FITS_MEMORY_S : this.#memory));
      const debt = kept + (usage - this.#goal) * elapsed;
      const credit = fits ? Math.max(IDLE_CREDIT_CAP * this.#goal * this.#repay, -kept) : CREDIT_CAP * this.#goal * this.#repay;
      this.#debt = Math.min(DEBT_CAP * this.#goal * this.#repay, Math.max(-credit, debt));
    }

    let next: number;
    if (lost > 0) {
      // N at least doubles; the model may ask for more. The lowest rate of the interval lost events: for a while N
      // stays above it (not above the raised rate, which a transient such as a flood's first second may overshoot).
      next = Math.min(this.#maxRate, Math.max(n * 2, Math.ceil(this.#rateFor(arrivals, this.#aim(), this.#perEvent))));
      this.#unbound = false;
      this.#lossFloor = Math.min(next, this.#lowestRate + 1);
      this.#lossFloorUntil = now + this.#lossHoldMs;
    } else if (firstInterval && reportedRate === 0) {
      // Start-up CPU with no event seen: nothing the rate could change.
      next = n;
    } else {
      next = this.#step(n, usage, arrivals, elapsed);
    }
    this.#apply(next, { usage, lost, arrivals: this.#arrivals });
    this.#lowestRate = this.#hub.rate;
    this.#highestRate = this.#hub.rate;
    return this.#hub.rate;
  }

  /** Updates the fixed and per-event cost estimates from one interval's usage and reported events per second. */
  #learn(reportedRate: number, usage: number, elapsed: number, firstInterval: boolean, counted: boolean): void {
    // Before any measurement the prior cost per event decides (with counts: the prior is per real event): a trickle
    // of events is not a flood to learn from.
    const known = this.#perEventMeasured || counted;
    const idle = reportedRate === 0 || (known && this.#perEvent * reportedRate < 0.1 * usage);
    if (!firstInterval) this.#learnFixed(reportedRate, usage, elapsed, idle);
    // Old intervals fade, idle ones included: the first interval of a flood after a quiet spell weighs as much as
    // it costs, so its (higher) cost is known after one interval.
    const keep = Math.exp(-elapsed / this.#learnS);
    this.#costSum *= keep;
    this.#eventSum *= keep;
    if (idle) return;
    this.#busyAt = this.#lastNow;
    this.#costSum += (usage - this.#fixed) * elapsed;
    this.#eventSum += reportedRate * elapsed;
    const perEvent = this.#costSum / this.#eventSum;
    if (perEvent > 0) {
      this.#perEvent = perEvent;
      this.#perEventMeasured = true;
    }
  }

  #learnFixed(reportedRate: number, usage: number, elapsed: number, idle: boolean): void {
    this.#fit.add(reportedRate, usage, Math.exp(-elapsed / 4));
    if (idle) {
      // Nearly idle (events explain under a tenth of the CPU): this interval's usage is the fixed part itself, a
      // better estimate than the fit, whose points a flood's first, costlier second can tip.
      // Down fast, up slowly: an idle interval's CPU is the fixed part plus whatever else ran (a scrape, garbage
      // collection, the start-up), and a fixed part taken too low only costs a little convergence.
      const w = 1 - Math.exp(-elapsed / (this.#idleFixed !== undefined && usage < this.#idleFixed ? 0.25 : 3));
      this.#idleFixed = this.#idleFixed === undefined ? usage : this.#idleFixed + w * (usage - this.#idleFixed);
      this.#fixed = Math.min(this.#idleFixed, FIXED_CAP * this.#goal);
      return;
    }
    if (this.#idleFixed !== undefined) return;
    const fixed = this.#fit.intercept();
    // Bounded: an estimate above the real fixed part leaves a small `usage − fixed` that one noisy interval swings
    // widely; one below it only slows convergence a little (monotonically).
    if (fixed !== undefined) this.#fixed += 0.25 * (Math.min(Math.max(0, fixed), FIXED_CAP * this.#goal) - this.#fixed);
  }

  /** The (real) rate that puts the modelled usage on `aim` for `arrivals` events per second. */
  #rateFor(arrivals: number, aim: number, perEvent: number): number {
    if (!(arrivals > 0)) return 1;
    const variable = aim - this.#fixed;
    if (!(variable > 0)) return this.#maxRate;
    return Math.max(1, (perEvent * arrivals) / variable);
  }

  #predicted(rate: number, arrivals: number): number {
    return this.#fixed + (this.#perEvent * arrivals) / rate;
  }

  #step(n: number, usage: number, arrivals: number, elapsed: number): number {
    const aim = this.#aim();
    // Before any event was measured (CPU-only start), the measured CPU above the fixed part against the aim decides.
    const wanted = this.#perEventMeasured
      ? this.#rateFor(arrivals, aim, this.#perEvent)
      : (n * Math.max(0, usage - this.#fixed)) / Math.max(aim - this.#fixed, 1e-9);
    this.#unbound = wanted <= 1;
    const down = this.#maxDown ** Math.min(1, elapsed);
    const x = Math.max(1, n / down, Math.min(wanted, n * this.#maxStep));
    const lo = Math.max(1, Math.floor(x));
    const hi = Math.ceil(x);
    if (lo >= hi) return lo;
    const predicted = this.#predicted(x, arrivals);
    // The rate in effect stays while close enough: the account makes up the difference later.
    if ((n === lo || n === hi) && Math.abs(this.#predicted(n, arrivals) - predicted) <= this.#hold * this.#goal) return n;
    return Math.abs(this.#predicted(lo, arrivals) - predicted) <= Math.abs(this.#predicted(hi, arrivals) - predicted) ? lo : hi;
  }

  #apply(rate: number, why: { usage: number; lost: number; arrivals: number | undefined }): void {
    const now = this.#now();
    const floor = now < this.#lossFloorUntil ? this.#lossFloor : 1;
    const next = Math.min(this.#maxRate, Math.max(floor, 1, Math.round(rate)));
    const from = this.#hub.rate;
    if (next === from) return;
    this.#hub.setRate(next);
    this.#lowestRate = Math.min(this.#lowestRate, next);
    this.#highestRate = Math.max(this.#highestRate, next);
    this.#onChange?.({
      from,
      to: next,
      usageCores: why.usage,
      budgetCores: this.budgetCores,
      debtSeconds: this.#debt,
      lostEvents: why.lost,
      fixedCores: this.#fixed,
      perEventSeconds: this.#perEvent,
      ...(why.arrivals === undefined ? {} : { arrivalsPerSecond: why.arrivals }),
    });
  }
}
