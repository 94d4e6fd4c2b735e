import { describe, expect, it } from 'vitest';
import {
  CpuBudgetController,
  MAX_SAMPLING_RATE,
  SamplingHub,
  createMetricsModule,
  parseConfig,
  samplingHubOf,
  type Sampler,
} from '../src/index.js';
import { configError } from './config-fixtures.js';

/**
 * A process whose CPU is a fixed part plus a cost per reported event: `fixed + perEvent × eventsPerSecond / N`,
 * on a fake clock. `jitter` adds a repeating ±pattern so the controller sees noisy readings.
 */
function fakeAgent(opts: { fixed: number; perEvent: number; eventsPerSecond: number; jitter?: number }) {
  let nowMs = 0;
  let cpu = 0;
  let tick = 0;
  const hub = new SamplingHub();
  const applied: number[] = [];
  hub.register({ name: 'fake', setRate: (n) => applied.push(n) });
  const state = { ...opts };
  return {
    hub,
    applied,
    state,
    cpuSeconds: () => cpu,
    now: () => nowMs,
    /** Advances one second at the current rate; returns the usage of that second in cores. */
    advance(): number {
      const pattern = [1, -1, 0.5, -0.5, 0];
      const noise = (state.jitter ?? 0) * (pattern[tick++ % pattern.length] ?? 0);
      const usage = Math.max(0, state.fixed + (state.perEvent * state.eventsPerSecond) / hub.rate + noise);
      cpu += usage;
      nowMs += 1000;
      return usage;
    },
  };
}

/** Runs `seconds` of the fake agent under a controller; returns the usage and rate of every second. */
function run(agent: ReturnType<typeof fakeAgent>, controller: CpuBudgetController, seconds: number) {
  const out: Array<{ usage: number; rate: number }> = [];
  for (let i = 0; i < seconds; i++) {
    const usage = agent.advance();
    controller.tick();
    out.push({ usage, rate: controller.rate });
  }
  return out;
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** A deterministic pseudo-random sequence in [-1, 1) (mulberry32), so noisy runs are the same every time. */
function noiseSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 31 - 1;
  };
}

/**
 * A simulated agent with counting samplers: events arrive at `arrivals` per second, one in N is reported, and the
 * CPU is `fixed + perEvent × reported` plus noise of up to ±`noise` cores. Time moves in steps of `stepMs` (the
 * controller's `fastMs`) and the controller's `tick()` runs after each, as its timer would.
 */
function simulatedAgent(opts: {
  fixed: number;
  perEvent: number;
  arrivals: number;
  noise: number;
  seed?: number;
  /** Arrivals vary by up to ± this fraction every step (a sender sharing its CPU). */
  arrivalNoise?: number;
  /** Until this time (ms) reported events cost `warmupFactor` times more (code not compiled yet). */
  warmupUntilMs?: number;
  warmupFactor?: number;
}) {
  let nowMs = 0;
  let cpu = 0;
  let arrived = 0;
  let reported = 0;
  const random = noiseSource(opts.seed ?? 1);
  const hub = new SamplingHub();
  const state = { ...opts };
  hub.register({ name: 'sim', setRate: () => {}, counts: () => ({ arrived, reported }) });
  return {
    hub,
    state,
    random,
    cpuSeconds: () => cpu,
    now: () => nowMs,
    /** Moves time on by `stepMs` at the current rate, then lets the controller look. */
    step(c: CpuBudgetController, stepMs = 50): void {
      const dt = stepMs / 1000;
      const events = state.arrivals * dt * (1 + (state.arrivalNoise ?? 0) * random());
      const shown = events / hub.rate;
      const warm = nowMs < (state.warmupUntilMs ?? 0) ? (state.warmupFactor ?? 1) : 1;
      arrived += events;
      reported += shown;
      cpu += Math.max(0, (state.fixed + state.noise * random()) * dt + warm * state.perEvent * shown);
      nowMs += stepMs;
      c.tick();
    },
    /**
     * Runs `seconds` under `c` in 50 ms steps, calling `everySecond` before each second; returns the CPU (cores) and
     * the rate at the end of every second.
     */
    run(c: CpuBudgetController, seconds: number, everySecond?: (second: number) => void) {
      const out: Array<{ usage: number; rate: number; maxRate: number }> = [];
      for (let s = 0; s < seconds; s++) {
        everySecond?.(s);
        const cpuAtStart = cpu;
        let maxRate = hub.rate;
        for (let t = 0; t < 20; t++) {
          this.step(c);
          maxRate = Math.max(maxRate, hub.rate);
        }
        out.push({ usage: cpu - cpuAtStart, rate: hub.rate, maxRate });
      }
      return out;
    },
  };
}

/**
 * Arrivals per second of a sender sharing its CPU: each second differs from the one before by a factor of 2 to 5,
 * up or down, staying within [low, high].
 */
function swingingSender(random: () => number, low: number, high: number) {
  let current = low;
  return (): number => {
    const factor = 2 + 1.5 * (random() + 1);
    const up = current * factor <= high && (current / factor < low || random() > 0);
    current = up ? current * factor : current / factor;
    return current;
  };
}

const windows = (seconds: Array<{ usage: number }>) => {
  const out: number[] = [];
  for (let w = 0; w + 5 <= seconds.length; w += 5) out.push(mean(seconds.slice(w, w + 5).map((s) => s.usage)));
  return out;
};

describe('CpuBudgetController', () => {
  const budget = 0.5;
  const make = (agent: ReturnType<typeof simulatedAgent>, tuning: Partial<ConstructorParameters<typeof CpuBudgetController>[0]> = {}) =>
    new CpuBudgetController({ budgetCores: budget, hub: agent.hub, cpuSeconds: agent.cpuSeconds, now: agent.now, ...tuning });

  it('keeps every 5 s average within ±10% from the flood\'s first window, with a sender swinging 2–5× a second', () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      // 1 µs per event, 80,000 to 2 M events/s: 0.11 to 2 cores unsampled against 0.1; the first second of the flood
      // costs 3× per event; every 50 ms the CPU is off by up to ±0.02 cores and the arrivals by up to ±30%.
      const agent = simulatedAgent({ fixed: 0.03, perEvent: 1e-6, arrivals: 500, noise: 0.02, seed, arrivalNoise: 0.3 });
      const c = make(agent, { budgetCores: 0.1 });
      agent.run(c, 5);
      expect(c.rate).toBe(1);
      const sender = swingingSender(agent.random, 80_000, 2_000_000);
      agent.state.warmupFactor = 3;
      agent.state.warmupUntilMs = agent.now() + 1000;
      const flood = agent.run(c, 60, () => (agent.state.arrivals = sender()));
      const avgs = windows(flood);
      for (const avg of avgs) {
        expect(avg).toBeGreaterThanOrEqual(0.1 * 0.9);
        expect(avg).toBeLessThanOrEqual(0.1 * 1.1);
      }
      // No oscillation that grows: the seconds of the last 20 s stray from the budget no more than those of the first.
      const stray = (xs: typeof flood) => mean(xs.map((s) => Math.abs(s.usage - 0.1)));
      expect(stray(flood.slice(40))).toBeLessThanOrEqual(2 * stray(flood.slice(5, 25)));
      // Traffic stops: back to reporting every event within a few seconds.
      agent.state.arrivals = 0;
      const after = agent.run(c, 5);
      expect(after.at(-1)?.rate).toBe(1);
    }
  });

  it('keeps every 5 s average within ±10% when the traffic costs about the budget unsampled', () => {
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      // 0.5 µs per event, 120,000 to 260,000 events/s: 0.075 to 0.145 cores unsampled against 0.1, the sender changing
      // pace every second and the CPU readings off by up to ±0.03 cores every 50 ms.
      const agent = simulatedAgent({ fixed: 0.015, perEvent: 0.5e-6, arrivals: 0, noise: 0.03, seed, arrivalNoise: 0.4 });
      const c = make(agent, { budgetCores: 0.1 });
      agent.run(c, 3);
      agent.state.warmupFactor = 3;
      agent.state.warmupUntilMs = agent.now() + 1000;
      // What each second's traffic would cost unsampled (warm), known here as it cannot be in a real agent.
      const unsampled: number[] = [];
      const flood = agent.run(c, 60, () => {
        agent.state.arrivals = 120_000 + 140_000 * ((agent.random() + 1) / 2);
        unsampled.push(0.015 + 0.5e-6 * agent.state.arrivals);
      });
      for (let w = 0; w + 5 <= flood.length; w += 5) {
        const avg = mean(flood.slice(w, w + 5).map((s) => s.usage));
        // Within 10% of the budget, or of what the traffic cost in the seconds it cost less: sampling took no more
        // than needed.
        expect(avg).toBeGreaterThanOrEqual(0.9 * mean(unsampled.slice(w, w + 5).map((u) => Math.min(0.1, u))));
        expect(avg).toBeLessThanOrEqual(0.1 * 1.1);
      }
    }
  });

  it('meets a steady flood within a second and keeps every 5 s average within ±10% of the budget', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      // 3 µs per event at 2 M events/s: 6 cores unsampled against 0.5; the fixed part is 10% of the budget.
      const agent = simulatedAgent({ fixed: 0.05, perEvent: 3e-6, arrivals: 0, noise: 0.05, seed });
      const c = make(agent);
      expect(agent.run(c, 5).every((s) => s.rate === 1)).toBe(true);
      agent.state.arrivals = 2_000_000;
      const ideal = (3e-6 * 2_000_000) / (budget - 0.05);
      const flood = agent.run(c, 60);
      for (const s of flood.slice(1)) {
        expect(s.rate).toBeGreaterThanOrEqual(ideal * 0.8);
        expect(s.rate).toBeLessThanOrEqual(ideal * 1.25);
      }
      for (const avg of windows(flood)) {
        expect(avg).toBeGreaterThanOrEqual(budget * 0.9);
        expect(avg).toBeLessThanOrEqual(budget * 1.1);
      }
    }
  });

  it('recovers from a first measurement ten times too high, with a sender that wavers', () => {
    // A flood's first second costs 10× per event (compiling), then 0.5 µs; arrivals vary ±40% every 50 ms.
    const agent = simulatedAgent({
      fixed: 0.04,
      perEvent: 0.5e-6,
      arrivals: 0,
      noise: 0.02,
      seed: 21,
      arrivalNoise: 0.4,
      warmupFactor: 10,
    });
    const c = make(agent, { budgetCores: 0.1 });
    agent.run(c, 3);
    agent.state.arrivals = 600_000;
    agent.state.warmupUntilMs = agent.now() + 1000;
    const flood = agent.run(c, 40);
    const ideal = (0.5e-6 * 600_000) / (0.1 - 0.04);
    for (const s of flood.slice(5)) {
      expect(s.rate).toBeGreaterThanOrEqual(Math.floor(ideal * 0.7));
      expect(s.rate).toBeLessThanOrEqual(Math.ceil(ideal * 1.3));
    }
    for (const avg of windows(flood)) {
      expect(avg).toBeGreaterThanOrEqual(0.1 * 0.9);
      expect(avg).toBeLessThanOrEqual(0.1 * 1.1);
    }
  });

  it('stays on the two rates around the ideal one when the readings are steady (no hunting)', () => {
    const agent = simulatedAgent({ fixed: 0.05, perEvent: 3e-6, arrivals: 2_000_000, noise: 0 });
    const c = make(agent);
    const seconds = agent.run(c, 40);
    // 2 M/s × 3 µs / 0.45 cores = 13.3: only the two integers around it, alternating so the average lands on it.
    const rates = seconds.slice(5).map((s) => s.rate);
    expect(rates.every((r) => r === 13 || r === 14)).toBe(true);
    for (const avg of windows(seconds.slice(5))) expect(Math.abs(avg / budget - 1)).toBeLessThan(0.03);
  });

  it('raises the rate within 50 ms of a flood starting, assuming the first events cost more, then measures them', () => {
    const agent = simulatedAgent({ fixed: 0.05, perEvent: 3e-6, arrivals: 0, noise: 0 });
    const c = make(agent);
    agent.run(c, 3);
    expect(c.rate).toBe(1);
    agent.state.arrivals = 2_000_000;
    // The first look after the flood began, 200 ms before the next decision: the prior cost per event (4 µs) three
    // times over decides, so the rate is above what even the prior alone asks.
    agent.step(c);
    expect(c.rate).toBeGreaterThan((4e-6 * 2_000_000) / (budget - 0.05));
    // The next decisions measure the real cost (3 µs) and come down to the rate that meets the budget.
    for (let i = 0; i < 20; i++) agent.step(c);
    const ideal = (3e-6 * 2_000_000) / (budget - 0.05);
    expect(c.rate).toBeGreaterThanOrEqual(Math.floor(ideal * 0.8));
    expect(c.rate).toBeLessThanOrEqual(Math.ceil(ideal * 1.25));
  });

  it('follows a step in the arrivals (×3, then ÷6) back onto the budget within a few seconds', () => {
    const agent = simulatedAgent({ fixed: 0.08, perEvent: 2e-6, arrivals: 1_000_000, noise: 0.04, seed: 11 });
    const c = make(agent);
    agent.run(c, 10);
    for (const arrivals of [3_000_000, 500_000]) {
      agent.state.arrivals = arrivals;
      const after = agent.run(c, 25);
      for (const avg of windows(after.slice(3, 23))) {
        expect(avg).toBeGreaterThanOrEqual(budget * 0.9);
        expect(avg).toBeLessThanOrEqual(budget * 1.1);
      }
      const ideal = (2e-6 * arrivals) / (budget - 0.08);
      // An integer on either side of the ideal rate (at 2.4 the rate alternates between 2 and 3).
      expect(c.rate).toBeGreaterThanOrEqual(Math.floor(ideal * 0.9));
      expect(c.rate).toBeLessThanOrEqual(Math.ceil(ideal * 1.1));
    }
  });

  it('converges when the fixed part is most of the budget, without overshooting below it', () => {
    // 60% of the budget cannot be sampled away: a proportional step alone would crawl and then hunt.
    const agent = simulatedAgent({ fixed: 0.3, perEvent: 2e-6, arrivals: 1_000_000, noise: 0.03, seed: 5 });
    const c = make(agent);
    const seconds = agent.run(c, 40);
    for (const avg of windows(seconds.slice(5))) {
      expect(avg).toBeGreaterThanOrEqual(budget * 0.9);
      expect(avg).toBeLessThanOrEqual(budget * 1.1);
    }
    const ideal = (2e-6 * 1_000_000) / (budget - 0.3);
    for (const s of seconds.slice(5)) expect(Math.abs(s.rate / ideal - 1)).toBeLessThan(0.15);
  });

  it('comes back to 1 within a few seconds when the traffic stops, never raising on the way down', () => {
    const agent = simulatedAgent({ fixed: 0.02, perEvent: 2e-6, arrivals: 1_000_000, noise: 0.01, seed: 3 });
    const c = make(agent, { budgetCores: 0.25 });
    agent.run(c, 20);
    expect(c.rate).toBeGreaterThan(4);
    agent.state.arrivals = 1000;
    const after = agent.run(c, 10).map((s) => s.rate);
    expect(after.slice(4).every((r) => r === 1)).toBe(true);
    for (let i = 1; i < after.length; i++) expect(after[i]).toBeLessThanOrEqual(after[i - 1] ?? 1);
  });

  it('meets a flood again within 50 ms when it resumes after a one-second lull', () => {
    const agent = simulatedAgent({ fixed: 0.02, perEvent: 2e-6, arrivals: 2_000_000, noise: 0, seed: 9 });
    const c = make(agent);
    agent.run(c, 15);
    const before = c.rate;
    agent.state.arrivals = 0;
    agent.run(c, 1);
    expect(c.rate).toBeLessThan(before);
    agent.state.arrivals = 2_000_000;
    agent.step(c);
    expect(c.rate).toBeGreaterThanOrEqual(before * 0.85);
    agent.run(c, 1);
    expect(c.rate).toBeGreaterThanOrEqual(before * 0.85);
  });

  it('works on the CPU alone when no sampler counts events', () => {
    // 2 µs per event at 1.5 M events/s: 3 cores unsampled against a budget of 0.5.
    const agent = fakeAgent({ fixed: 0.05, perEvent: 2e-6, eventsPerSecond: 1_500_000, jitter: 0.03 });
    const c = new CpuBudgetController({ budgetCores: 0.5, hub: agent.hub, cpuSeconds: agent.cpuSeconds, now: agent.now });
    const seconds = run(agent, c, 60);
    expect(seconds[0]?.usage).toBeGreaterThan(2.9);
    const settled = seconds.slice(5);
    for (const avg of windows(settled)) {
      expect(avg).toBeGreaterThanOrEqual(0.45);
      expect(avg).toBeLessThanOrEqual(0.55);
    }
    // 3 cores / 0.45 = 6.7: the rate stays next to it (the account answers the jitter a rate step either way).
    expect(settled.every((s) => s.rate >= 6 && s.rate <= 8)).toBe(true);
    expect(agent.applied.at(-1)).toBe(c.rate);
  });

  it('does not act on the start-up interval when no event was seen in it', () => {
    const agent = simulatedAgent({ fixed: 0.6, perEvent: 1e-6, arrivals: 0, noise: 0 });
    const c = make(agent);
    // Loading programs: 0.6 cores for a second, no event yet.
    agent.run(c, 1);
    expect(c.rate).toBe(1);
    agent.state.fixed = 0.01;
    agent.run(c, 5);
    expect(c.rate).toBe(1);
    expect(c.model.fixedCores).toBeLessThan(0.02);
  });

  it('holds the rate while usage is under the budget at N = 1', () => {
    const agent = fakeAgent({ fixed: 0.05, perEvent: 1e-6, eventsPerSecond: 430_000 });
    const c = new CpuBudgetController({ budgetCores: 0.5, hub: agent.hub, cpuSeconds: agent.cpuSeconds, now: agent.now });
    const seconds = run(agent, c, 20);
    expect(seconds.every((s) => s.rate === 1)).toBe(true);
    expect(agent.applied).toEqual([1]);
  });

  it('raises the rate when events are lost even under the budget, and keeps it for lossHoldMs', () => {
    // The agent is starved: it uses little CPU yet its samplers lose events.
    let nowMs = 0;
    let cpu = 0;
    let lost = 0;
    const hub = new SamplingHub();
    const c = new CpuBudgetController({
      budgetCores: 1,
      hub,
      cpuSeconds: () => cpu,
      now: () => nowMs,
      lostEvents: () => lost,
      lossHoldMs: 10_000,
    });
    const second = (lostNow: number) => {
      cpu += 0.2;
      nowMs += 1000;
      lost += lostNow;
      return c.tick();
    };
    expect(second(0)).toBe(1);
    expect(second(5000)).toBe(2);
    // Losses go on right after the change: acted on at once, not skipped as settling.
    expect(second(100)).toBe(4);
    // Quiet and far under budget, but within the hold: the rates that lost events (1 and 2) are not tried again.
    for (let i = 0; i < 8; i++) expect(second(0)).toBe(3);
    // After the hold it comes down step by step.
    const after: number[] = [];
    for (let i = 0; i < 12; i++) after.push(second(0));
    expect(after.at(-1)).toBe(1);
    expect(after.every((r) => r <= 4)).toBe(true);
  });

  it('takes the losses from the samplers by default, and a counter going back is not a loss', () => {
    let lost = 0;
    let nowMs = 0;
    let cpu = 0;
    const hub = new SamplingHub();
    hub.register({ name: 'a', setRate: () => {}, lost: () => lost });
    const c = new CpuBudgetController({ budgetCores: 1, hub, cpuSeconds: () => cpu, now: () => nowMs });
    const second = () => {
      cpu += 0.5;
      nowMs += 1000;
      return c.tick();
    };
    lost = 10;
    expect(second()).toBe(2);
    lost = 0; // the plugin restarted
    expect(second()).toBe(2);
    expect(hub.lost()).toBe(0);
  });

  it('never goes past maxRate and returns to 1 on stop', () => {
    const agent = fakeAgent({ fixed: 0.5, perEvent: 1e-6, eventsPerSecond: 1_000_000 });
    const c = new CpuBudgetController({
      budgetCores: 0.1,
      hub: agent.hub,
      cpuSeconds: agent.cpuSeconds,
      now: agent.now,
      maxRate: 64,
    });
    // The fixed part alone is over budget: sampling cannot fix it, and the rate stops at the cap.
    run(agent, c, 30);
    expect(c.rate).toBe(64);
    c.stop();
    expect(agent.hub.rate).toBe(1);
    expect(agent.applied.at(-1)).toBe(1);
  });

  it('ignores an interval with no elapsed time or a CPU reading that went backwards', () => {
    let cpu = 10;
    const hub = new SamplingHub();
    const c = new CpuBudgetController({ budgetCores: 1, hub, cpuSeconds: () => cpu, now: () => 0 });
    cpu = 50;
    expect(c.tick()).toBe(1);
    expect(c.usageCores).toBe(0);
  });

  it('refuses a budget that is not a positive number', () => {
    expect(() => new CpuBudgetController({ budgetCores: 0, hub: new SamplingHub() })).toThrow(/cpuBudget 0/);
    expect(() => new CpuBudgetController({ budgetCores: Number.NaN, hub: new SamplingHub() })).toThrow(RangeError);
  });

  it('reports the budget, the usage and the rate as metrics', async () => {
    const metrics = createMetricsModule();
    const hub = samplingHubOf(metrics);
    expect(samplingHubOf(metrics)).toBe(hub);
    hub.register({ name: 'packetparser', setRate: () => {} });
    let cpu = 0;
    let now = 0;
    const c = new CpuBudgetController({ budgetCores: 0.5, hub, metrics, cpuSeconds: () => cpu, now: () => now });
    c.start();
    cpu += 2;
    now += 1000;
    c.tick();
    c.stop();
    const text = (await metrics.expose()).body;
    expect(text).toMatch(/^controlplane_networkobservability_cpu_budget_cores 0\.5$/m);
    expect(text).toMatch(/^controlplane_networkobservability_cpu_usage_cores 2$/m);
    // Raised for the flood, then back to 1 on stop.
    expect(text).toMatch(/^controlplane_networkobservability_sampling_rate\{plugin="packetparser"\} 1$/m);
  });
});

describe('SamplingHub', () => {
  it('applies the current rate to a sampler that registers late and stops applying after it leaves', () => {
    const hub = new SamplingHub();
    hub.setRate(8);
    const seen: number[] = [];
    const leave = hub.register({ name: 'a', setRate: (n) => seen.push(n) });
    hub.setRate(16);
    leave();
    hub.setRate(2);
    expect(seen).toEqual([8, 16]);
    expect(hub.samplers).toEqual([]);
  });

  it('keeps going when one sampler throws, and tells the error handler', () => {
    const hub = new SamplingHub();
    const errors: string[] = [];
    hub.onError((err, s) => errors.push(`${s.name}: ${(err as Error).message}`));
    const good: number[] = [];
    const bad: Sampler = {
      name: 'bad',
      setRate: () => {
        throw new Error('map gone');
      },
    };
    hub.register(bad);
    hub.register({ name: 'good', setRate: (n) => good.push(n) });
    hub.setRate(4);
    expect(good).toEqual([1, 4]);
    expect(errors).toEqual(['bad: map gone', 'bad: map gone']);
  });

  it('refuses a rate that is not an integer from 1 to the maximum', () => {
    const hub = new SamplingHub();
    expect(() => hub.setRate(0)).toThrow(/sampling rate 0/);
    expect(() => hub.setRate(2.5)).toThrow(RangeError);
    expect(() => hub.setRate(MAX_SAMPLING_RATE + 1)).toThrow(RangeError);
  });
});

describe('cpuBudget config key', () => {
  const parse = (v: unknown) => parseConfig({ cpuBudget: v }, { env: {}, platform: 'linux' }).config.cpuBudget;
  const error = configError;

  it('is off by default and reads cores or millicores', () => {
    expect(parseConfig({}, { env: {}, platform: 'linux' }).config.cpuBudget).toBe(0);
    expect(parse(0.5)).toBe(0.5);
    expect(parse('0.25')).toBe(0.25);
    expect(parse('500m')).toBe(0.5);
    expect(parse(0)).toBe(0);
    expect(parseConfig({}, { env: { RETINA_CPU_BUDGET: '750m' }, platform: 'linux' }).config.cpuBudget).toBe(0.75);
  });

  it('refuses values out of range or not a number, naming the key', () => {
    expect(error(() => parse(0.001))).toBe('config: cpuBudget: 0.001 is out of range (allowed: 0.01 to 1024 cores, or 0 for off)');
    expect(error(() => parse(2000))).toMatch(/^config: cpuBudget: 2000 is out of range/);
    expect(error(() => parse('-1'))).toBe('config: cpuBudget: "-1" is not a number of CPU cores (examples: 0.5, 500m)');
    expect(error(() => parse('half'))).toMatch(/^config: cpuBudget: "half" is not a number of CPU cores/);
    expect(error(() => parse(true))).toMatch(/^config: cpuBudget: true is not a number/);
  });
});
