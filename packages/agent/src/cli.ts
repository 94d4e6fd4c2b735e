#!/usr/bin/env node
/**
 * retina-agent: runs the node agent. With no --config it runs standalone with the default plugin set.
 */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { Agent } from './agent.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const program = new Command('retina-agent')
  .description('retina-ts node agent: eBPF network observability with Retina-compatible metrics')
  .version(version)
  .option('-c, --config <file>', 'Retina agent config.yaml (the retina-config ConfigMap data)')
  .option('--stop-timeout <ms>', 'how long plugins get to stop on SIGTERM', (v) => Number.parseInt(v, 10), 10_000)
  .showHelpAfterError();

program.parse();
const opts = program.opts<{ config?: string; stopTimeout: number }>();

async function main(): Promise<void> {
  let agent: Agent;
  try {
    agent = await Agent.create({ configFile: opts.config });
  } catch (err) {
    // Config errors name the key and the value; print them plainly, not as a stack.
    process.stderr.write(`retina-agent: ${(err as Error).message}\n`);
    process.exit(2);
  }
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      agent.logger.warn({ signal: sig }, 'second signal: exiting now');
      process.exit(130);
    }
    agent.logger.info({ signal: sig }, 'stopping');
    agent.stop(opts.stopTimeout).then(
      () => process.exit(0),
      (err: unknown) => {
        agent.logger.error({ err: (err as Error).message }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  // A Windows container stop arrives as a console event, which Node surfaces as SIGBREAK or SIGHUP.
  if (process.platform === 'win32') {
    process.on('SIGBREAK', onSignal);
    process.on('SIGHUP', onSignal);
  }
  try {
    await agent.start();
  } catch (err) {
    agent.logger.fatal({ err: (err as Error).message }, 'agent failed to start');
    await agent.stop(opts.stopTimeout).catch(() => undefined);
    process.exit(1);
  }
}

void main();
