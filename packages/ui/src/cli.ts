#!/usr/bin/env node
/** `retina-ui`: the web UI beside an agent or in front of Hubble Relay. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger } from '@retina-ts/core';
import { startUiServer } from './server.js';

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError(`${JSON.stringify(value)} is not a port (0-65535)`);
  return n;
}

const program = new Command('retina-ui')
  .description('Web UI for retina-ts: live flows, service map, node figures and packet captures')
  .requiredOption('--hubble <address>', 'Hubble-compatible endpoint: host:port or unix:///path (agent or Hubble Relay)')
  .option('--metrics <url>', "the agent's HTTP listener for /metrics and /plugins, e.g. http://127.0.0.1:10093")
  .option('--port <port>', 'port to serve the UI on', port, 10094)
  .option('--host <address>', 'address to serve the UI on', '127.0.0.1')
  .addOption(new Option('--capture <mode>', 'packet captures').choices(['standalone', 'cluster', 'off']).default('standalone'))
  .option('--capture-namespace <namespace>', 'namespace of Capture resources (cluster mode)', 'default')
  .option('--kubeconfig <path>', 'kubeconfig for cluster captures (default: KUBECONFIG or in-cluster)')
  .option('--log-level <level>', 'debug, info, warn or error', 'info');

program.parse();
const opts = program.opts<{
  hubble: string;
  metrics?: string;
  port: number;
  host: string;
  capture: 'standalone' | 'cluster' | 'off';
  captureNamespace: string;
  kubeconfig?: string;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}>();
const logger = createLogger({ name: 'retina-ui', level: opts.logLevel });

try {
  const ui = await startUiServer({
    hubble: opts.hubble,
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    port: opts.port,
    host: opts.host,
    capture: opts.capture,
    captureNamespace: opts.captureNamespace,
    ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
    logger,
  });
  let stopping = false;
  const stop = (): void => {
    if (stopping) process.exit(1);
    stopping = true;
    void ui.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
} catch (err) {
  logger.error({ err: (err as Error).message }, 'retina-ui failed to start');
  process.exit(1);
}
