/**
 * Kernel event sampling under a CPU budget: the one rate (report one event in N) the agent's budget controller sets
 * and every event-producing plugin applies in its BPF programs. With no budget nothing registers and N stays 1.
 */
import type { MetricsModule } from '../metrics/module.js';

/** Largest sampling rate: one event in 2^20 still reports a few per second from a 10 Mpps flood. */
export const MAX_SAMPLING_RATE = 1 << 20;

/** A plugin's kernel side that can report one event in N. */
export interface Sampler {
  /** The plugin's name (the `plugin` label of the sampling metrics). */
  readonly name: string;
  /** Applies the rate to the kernel (a map update); called on registration and on every change. */
  setRate(rate: number): void;
  /**
   * Events lost so far (ring buffer full, reader behind), cumulative. Losses tell the budget controller the agent
   * is not keeping up even within its budget (e.g. when other processes take the CPU it was promised).
   */
  lost?(): number;
  /**
   * Events counted so far, cumulative: `arrived` reached the kernel hook (reported, sampled away or lost alike),
   * `reported` were handed to user space. They let the budget controller see the traffic itself, not only its cost.
   */
  counts?(): SamplerCounts;
}

/** Cumulative event counts of a sampler (see `Sampler.counts`). */
export interface SamplerCounts {
  arrived: number;
  reported: number;
}

/** Receives an error a sampler threw while applying a rate. */
export type SamplerErrorHandler = (err: unknown, sampler: Sampler) => void;

/** The samplers of one agent and the rate they all apply. */
export class SamplingHub {
  #rate = 1;
  readonly #samplers = new Set<Sampler>();
  #onError: SamplerErrorHandler = () => {};

  constructor(private readonly metrics?: MetricsModule) {}

  /** The current rate: one event in `rate` is reported. */
  get rate(): number {
    return this.#rate;
  }

  /** Names of the registered samplers. */
  get samplers(): string[] {
    return [...this.#samplers].map((s) => s.name);
  }

  /** Where errors from `Sampler.setRate` go (they never reach the caller of `setRate`). */
  onError(handler: SamplerErrorHandler): void {
    this.#onError = handler;
  }

  /** Events the samplers have lost so far (the sum of their `lost()`; a sampler that throws counts 0). */
  lost(): number {
    let total = 0;
    for (const s of this.#samplers) {
      try {
        total += s.lost?.() ?? 0;
      } catch (err) {
        this.#onError(err, s);
      }
    }
    return total;
  }

  /**
   * The samplers' counts summed (a sampler that throws counts nothing), or undefined when none of them counts: the
   * controller then knows only the CPU.
   */
  counts(): SamplerCounts | undefined {
    let total: SamplerCounts | undefined;
    for (const s of this.#samplers) {
      if (!s.counts) continue;
      total ??= { arrived: 0, reported: 0 };
      try {
        const c = s.counts();
        total.arrived += c.arrived;
        total.reported += c.reported;
      } catch (err) {
        this.#onError(err, s);
      }
    }
    return total;
  }

  /** Adds a sampler and applies the current rate to it; returns the function that removes it. */
  register(sampler: Sampler): () => void {
    this.#samplers.add(sampler);
    this.#apply(sampler);
    return () => {
      if (this.#samplers.delete(sampler)) this.metrics?.self.samplingRate.remove({ plugin: sampler.name });
    };
  }

  /** Sets the rate (an integer from 1 to MAX_SAMPLING_RATE) on every sampler. */
  setRate(rate: number): void {
    if (!Number.isInteger(rate) || rate < 1 || rate > MAX_SAMPLING_RATE) {
      throw new RangeError(`sampling rate ${rate} is not an integer from 1 to ${MAX_SAMPLING_RATE}`);
    }
    if (rate === this.#rate) return;
    this.#rate = rate;
    for (const s of this.#samplers) this.#apply(s);
  }

  #apply(sampler: Sampler): void {
    try {
      sampler.setRate(this.#rate);
      this.metrics?.self.samplingRate.set({ plugin: sampler.name }, this.#rate);
    } catch (err) {
      this.#onError(err, sampler);
    }
  }
}

// One hub per agent, found through the metrics module that the agent and every plugin context already share, so
// the plugin contract needs no field for a feature most plugins never use.
const hubs = new WeakMap<MetricsModule, SamplingHub>();

/** The sampling hub of the agent that owns `metrics`. */
export function samplingHubOf(metrics: MetricsModule): SamplingHub {
  let hub = hubs.get(metrics);
  if (!hub) {
    hub = new SamplingHub(metrics);
    hubs.set(metrics, hub);
  }
  return hub;
}
