import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  CpuBudgetController,
  MAX_SAMPLING_RATE,
  SamplingHub,
  createMetricsModule,
  parseConfig,
  samplingHubOf,
  type Sampler,
} from '../src/index.js';

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

/** Times the rate went up after going down or down after going up. */
function reversals(rates: number[]): number {
  let last = 0;
  let count = 0;
  for (let i = 1; i < rates.length; i++) {
    const d = Math.sign((rates[i] ?? 0) - (rates[i - 1] ?? 0));
    if (d === 0) continue;
    if (last !== 0 && d !== last) count++;
    last = d;
  }
  return count;
}

describe('CpuBudgetController', () => {
  it('meets a flood within a few seconds and then keeps every 5 s average within ±10% of the budget', () => {
    // 2 µs per event at 1.5 M events/s: 3 cores unsampled against a budget of 0.5.
    const agent = fakeAgent({ fixed: 0.05, perEvent: 2e-6, eventsPerSecond: 1_500_000, jitter: 0.03 });
    const c = new CpuBudgetController({ budgetCores: 0.5, hub: agent.hub, cpuSeconds: agent.cpuSeconds, now: agent.now });
    const seconds = run(agent, c, 60);
    expect(seconds[0]?.usage).toBeGreaterThan(2.9);
    const settled = seconds.slice(10);
    for (let w = 0; w + 5 <= settled.length; w += 5) {
      const avg = mean(settled.slice(w, w + 5).map((s) => s.usage));
      expect(avg).toBeGreaterThanOrEqual(0.45);
      expect(avg).toBeLessThanOrEqual(0.55);
    }
    // No hunting: once there, the rate does not swing back and forth.
    expect(reversals(settled.map((s) => s.rate))).toBeLessThanOrEqual(1);
    expect(agent.applied.at(-1)).toBe(c.rate);
  });

  it('holds the rate while usage is inside the band', () => {
    const agent = fakeAgent({ fixed: 0.05, perEvent: 1e-6, eventsPerSecond: 430_000 });
    const c = new CpuBudgetController({ budgetCores: 0.5, hub: agent.hub, cpuSeconds: agent.cpuSeconds, now: agent.now });
    const seconds = run(agent, c, 20);
    expect(seconds.every((s) => s.rate === 1)).toBe(true);
    expect(agent.applied).toEqual([1]);
  });

  it('lowers the rate step by step back to 1 when the traffic goes away', () => {
    const agent = fakeAgent({ fixed: 0.02, perEvent: 2e-6, eventsPerSecond: 1_000_000 });
    const c = new CpuBudgetController({ budgetCores: 0.25, hub: agent.hub, cpuSeconds: agent.cpuSeconds, now: agent.now });
    run(agent, c, 20);
    const high = c.rate;
    expect(high).toBeGreaterThan(4);
    agent.state.eventsPerSecond = 1000;
    const after = run(agent, c, 60).map((s) => s.rate);
    expect(after.at(-1)).toBe(1);
    // Never more than halved in one step, never raised on the way down.
    for (let i = 1; i < after.length; i++) {
      const prev = after[i - 1] ?? 1;
      const cur = after[i] ?? 1;
      expect(cur).toBeLessThanOrEqual(prev);
      expect(cur).toBeGreaterThanOrEqual(Math.ceil(prev / 2));
    }
  });

  it('waits for usage to stay low before lowering the rate (a single quiet second does not)', () => {
    const agent = fakeAgent({ fixed: 0.02, perEvent: 2e-6, eventsPerSecond: 1_000_000 });
    const c = new CpuBudgetController({ budgetCores: 0.25, hub: agent.hub, cpuSeconds: agent.cpuSeconds, now: agent.now });
    run(agent, c, 20);
    const before = c.rate;
    agent.state.eventsPerSecond = 0;
    run(agent, c, 1);
    agent.state.eventsPerSecond = 1_000_000;
    run(agent, c, 1);
    expect(c.rate).toBeGreaterThanOrEqual(before);
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
    // Quiet and far under budget, but within the hold: the rate that lost nothing stays.
    for (let i = 0; i < 8; i++) expect(second(0)).toBe(4);
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
  const error = (fn: () => unknown): string => {
    try {
      fn();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

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
