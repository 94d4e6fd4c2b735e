#!/usr/bin/env node
/**
 * retina-agent: runs the node agent. With no --config it runs standalone with the default plugin set.
 */
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { loadConfig, parseDuration } from '@retina-ts/core';
import { Agent } from './agent.js';
import { preflight } from './preflight.js';

const { version } = createRequire(import.meta.url)('../package.json') as { version: string };

const program = new Command('retina-agent')
  .description('retina-ts node agent: eBPF network observability with Retina-compatible metrics')
  .version(version)
  .option('-c, --config <file>', 'Retina agent config.yaml (the retina-config ConfigMap data)')
  .option('--config-dir <dir>', 'a mounted ConfigMap folder, one file per key (Retina\'s Hubble chart)')
  .option('--stop-timeout <ms>', 'how long plugins get to stop on SIGTERM (milliseconds, or a duration such as 10s)', '10000')
  .showHelpAfterError();

program.parse();
const cli = program.opts<{ config?: string; configDir?: string; stopTimeout: string }>();

/** Exits 2 with each message on stderr: the same contract as a bad config value. */
function usageError(lines: string[]): never {
  for (const line of lines) process.stderr.write(`retina-agent: ${line}\n`);
  process.exit(2);
}

/** Longest --stop-timeout: beyond an hour a stop is not a stop. */
const MAX_STOP_TIMEOUT_MS = 3_600_000;

function parseStopTimeout(text: string): number {
  const ms = /^\s*\d+\s*$/.test(text) ? Number(text) : parseDuration(text);
  if (ms === undefined || !(ms >= 0 && ms <= MAX_STOP_TIMEOUT_MS)) {
    usageError([
      `--stop-timeout: ${JSON.stringify(text)} is not a time from 0 to ${MAX_STOP_TIMEOUT_MS} ms (examples: 10000, 10s)`,
    ]);
  }
  return ms;
}

if (cli.config && cli.configDir) usageError(['give either --config or --config-dir, not both']);
const opts = { ...cli, stopTimeout: parseStopTimeout(cli.stopTimeout) };

async function main(): Promise<void> {
  let agent: Agent;
  try {
    // Validated before the agent is composed, so nothing runs (or logs) when the config cannot be used.
    const { config } = loadConfig({ file: opts.config, dir: opts.configDir, env: process.env });
    // Values the schema accepts but this node cannot use (a name that does not resolve, a port in use): same contract.
    const unusable = await preflight(config);
    if (unusable.length > 0) usageError(unusable.map((i) => `config: ${i.key}: ${i.message}`));
    agent = await Agent.create({ configFile: opts.config, configDir: opts.configDir });
  } catch (err) {
    // Config errors name the key and the value; print them plainly, not as a stack.
    usageError([(err as Error).message]);
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
