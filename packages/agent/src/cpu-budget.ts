/**
 * The agent's CPU budget (`cpuBudget`): a controller that measures the process's CPU every 250 ms and sets the
 * kernel sampling rate of every event-producing plugin through the agent's sampling hub.
 */
import { CpuBudgetController, samplingHubOf, type AgentConfig, type Logger, type MetricsModule } from '@retina-ts/core';

/** Starts the controller when the configuration sets a budget; returns the function that stops it. */
export function startCpuBudget(parts: { config: AgentConfig; metrics: MetricsModule; logger: Logger }): (() => void) | undefined {
  const { config, metrics } = parts;
  if (!(config.cpuBudget > 0)) return undefined;
  const logger = parts.logger.child({ component: 'cpu-budget' });
  const hub = samplingHubOf(metrics);
  hub.onError((err, sampler) =>
    logger.error({ plugin: sampler.name, err: (err as Error).message }, 'cannot apply the sampling rate'),
  );
  const controller = new CpuBudgetController({
    budgetCores: config.cpuBudget,
    hub,
    metrics,
    // The rate follows the traffic four times a second: each change is worth a debug line, and info when it is by a
    // factor of 1.5 or more or after losses.
    onChange: (c) => {
      const big = c.lostEvents > 0 || Math.max(c.from, c.to) >= 1.5 * Math.min(c.from, c.to);
      logger[big ? 'info' : 'debug'](
        {
          from: c.from,
          to: c.to,
          usageCores: Number(c.usageCores.toFixed(3)),
          budgetCores: c.budgetCores,
          debtCpuSeconds: Number(c.debtSeconds.toFixed(4)),
          ...(c.arrivalsPerSecond === undefined ? {} : { arrivalsPerSecond: Math.round(c.arrivalsPerSecond) }),
          ...(c.lostEvents > 0 ? { lostEvents: c.lostEvents } : {}),
          fixedCores: Number(c.fixedCores.toFixed(3)),
          perEventUs: Number((c.perEventSeconds * 1e6).toFixed(3)),
        },
        'sampling rate changed to keep the CPU budget',
      );
    },
  });
  controller.start();
  logger.info({ budgetCores: config.cpuBudget }, 'CPU budget on: kernel events are sampled when the agent is over it');
  return () => controller.stop();
}
