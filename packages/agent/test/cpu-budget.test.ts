/**
 * The agent's CPU budget wiring: with `cpuBudget` the controller runs, exposes the budget and the measured usage,
 * and drives the sampling rate of plugins registered with the agent's sampling hub; without it nothing runs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { definePlugin, PluginBase, samplingHubOf, type PluginContext } from '@retina-ts/core';
import { waitFor } from '@retina-ts/testkit';
import { createAgent, type Agent } from '../src/index.js';

/** A plugin that burns CPU in short slices (far above a budget of 0.01 cores) and records the rates it is given. */
function busyPlugin(rates: number[]) {
  class Busy extends PluginBase {
    protected override onInit(ctx: PluginContext): void {
      this.defer(samplingHubOf(ctx.metrics).register({ name: 'busy', setRate: (n) => rates.push(n) }));
    }
    protected override onStart(): void {
      this.every(20, () => {
        const until = performance.now() + 10;
        while (performance.now() < until) {
          // Burning CPU is the point: the budget must see the process over it.
        }
      });
    }
  }
  return definePlugin({ name: 'busy', version: '0.0.0', platforms: ['linux'], create: () => new Busy() });
}

let agent: Agent | undefined;
afterEach(async () => {
  await agent?.stop();
  agent = undefined;
});

async function start(cpuBudget: number | undefined, rates: number[]): Promise<string> {
  agent = await createAgent({
    config: {
      apiServer: { host: '127.0.0.1', port: 0 },
      logLevel: 'error',
      ...(cpuBudget === undefined ? {} : { cpuBudget }),
    },
    plugins: [busyPlugin(rates)],
    env: {},
  });
  await agent.start();
  return `http://127.0.0.1:${agent.address()!.port}/metrics`;
}

const scrape = async (url: string) => (await fetch(url)).text();

describe('cpuBudget', () => {
  it('raises the sampling rate of registered plugins when the agent is over its budget, and exposes budget, usage and rate', async () => {
    const rates: number[] = [];
    const url = await start(0.01, rates);
    await waitFor(() => rates.some((r) => r > 1), { description: 'the busy plugin to be given a rate above 1', timeoutMs: 20_000 });
    const text = await scrape(url);
    expect(text).toMatch(/^controlplane_networkobservability_cpu_budget_cores\{[^}]*\} 0\.01$/m);
    expect(text).toMatch(/^controlplane_networkobservability_cpu_usage_cores\{[^}]*\} [0-9.e-]+$/m);
    const rate = /^controlplane_networkobservability_sampling_rate\{plugin="busy"[^}]*\} (\d+)$/m.exec(text);
    expect(Number(rate?.[1])).toBeGreaterThan(1);
    // Stopping the agent gives every plugin its full reporting back.
    await agent?.stop();
    expect(rates.at(-1)).toBe(1);
  });

  it('without a budget runs no controller: no budget metrics and the rate never changes', async () => {
    const rates: number[] = [];
    const url = await start(undefined, rates);
    // Long enough for a controller to have ticked twice, were one running.
    await new Promise((r) => setTimeout(r, 2500));
    const text = await scrape(url);
    expect(text).not.toMatch(/^controlplane_networkobservability_cpu_(budget|usage)_cores[{ ]/m);
    expect(rates).toEqual([1]);
  });
});
