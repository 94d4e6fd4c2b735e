#!/usr/bin/env node
/**
 * retina-capture: the capture workload. In a capture Job it reads Retina's environment variables and mounted
 * secrets; on any Linux host it takes the flags of `kubectl retina capture create` and writes the same tarball.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { createLogger, type Logger } from '@retina-ts/core';
import { addCaptureFlags, captureFlagsFromOptions } from './cli-options.js';
import { Env } from './model/constants.js';
import { workloadConfigFromEnv, type WorkloadConfig } from './workload/config.js';
import { workloadConfigFromFlags } from './workload/flags.js';
import { runCaptureWorkload } from './workload/workload.js';
import { VERSION } from './version.js';

function readSecret(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function run(config: WorkloadConfig, logger: Logger, retries: number): Promise<number> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals) => {
    signals++;
    if (signals > 1) {
      logger.warn({ signal: sig }, 'second signal: exiting without finishing the capture');
      process.exit(130);
    }
    logger.info({ signal: sig }, 'stopping the capture; the tarball is still packed and stored');
    controller.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    const result = await runCaptureWorkload(config, { logger, signal: controller.signal, retry: { retries } });
    logger.info(result, 'capture finished');
    return result.failures.length > 0 ? 1 : 0;
  } catch (err) {
    logger.error({ error: (err as Error).message }, 'capture failed');
    return 1;
  }
}

const program = new Command()
  .name('retina-capture')
  .description(
    'Capture packets with tcpdump, collect node network metadata and store a tarball. In a capture Job the ' +
      `configuration comes from the environment (${Env.CaptureName}, ${Env.Duration}, ...) when no flags are given.`,
  )
  .version(VERSION)
  .option('--node-name <name>', 'node name used in the tarball name (default: the host name)')
  .option('--work-dir <dir>', 'directory for the capture directory and tarball (default: the OS temp dir)')
  .option('--log-level <level>', 'log level: debug, info, warn, error', 'info')
  .option('--upload-retries <n>', 'retries of a failed upload, with exponential backoff from 1 s', '4');
addCaptureFlags(program);

program.action(async (opts: Record<string, unknown>) => {
  const logger = createLogger({ name: 'retina-capture', level: (opts.logLevel as 'info') ?? 'info' });
  let config: WorkloadConfig;
  try {
    const own = new Set(['logLevel', 'workDir', 'nodeName', 'uploadRetries']);
    const flagsGiven = program.options.some(
      (o) => !own.has(o.attributeName()) && program.getOptionValueSource(o.attributeName()) === 'cli',
    );
    const fromEnv = process.env[Env.CaptureName] !== undefined && !flagsGiven;
    config = fromEnv
      ? workloadConfigFromEnv(process.env, readSecret, {
          warn: (msg) => logger.warn(msg),
          ...(opts.workDir ? { workDir: opts.workDir as string } : {}),
        })
      : workloadConfigFromFlags({
          ...captureFlagsFromOptions(opts),
          ...(opts.nodeName ? { nodeName: opts.nodeName as string } : {}),
          ...(opts.workDir ? { workDir: opts.workDir as string } : {}),
        });
  } catch (err) {
    logger.error({ error: (err as Error).message }, 'invalid capture configuration');
    process.exitCode = 2;
    return;
  }
  const retries = Number(opts.uploadRetries);
  if (!Number.isInteger(retries) || retries < 0) {
    logger.error({ error: `--upload-retries: "${String(opts.uploadRetries)}" is not a non-negative integer` }, 'invalid capture configuration');
    process.exitCode = 2;
    return;
  }
  process.exitCode = await run(config, logger, retries);
});

await program.parseAsync();
