/**
 * Test support for plugin packages (`@retina-ts/core/testing`): a PluginContext built from the real core parts,
 * with logs and flows captured so tests can assert on them, and a minimal flow between two addresses.
 */
import { Writable } from 'node:stream';
import { parseConfig, type ParseConfigOptions } from './config/load.js';
import { FlowType, IpVersion, TrafficDirection, Verdict, type Flow } from './flow/flow.js';
import { InMemoryIpCache } from './ipcache/ipcache.js';
import { createLogger, type LogLevel } from './log/logger.js';
import { createMetricsModule, type MetricsModule } from './metrics/module.js';
import type { Plugin, PluginContext } from './plugin/contract.js';

/** One captured JSON log line. */
export type LogLine = Record<string, unknown> & { level: string; msg: string };

/** What createTestContext builds the context from; everything but `name` has a default. */
export interface TestContextInit<T> {
  /** The plugin's name: `ctx.name` and the `plugin` field of every log line. */
  name: string;
  /** The plugin's own options (`plugins.<name>`), passed as given (default `{}`). */
  options?: T;
  /** The agent configuration as written; parseConfig fills its defaults (default `{}`). */
  config?: Record<string, unknown>;
  /** How parseConfig reads `config`, e.g. `{ platform: 'win32' }` (default: no environment, this OS). */
  configOptions?: ParseConfigOptions;
  /** Lowest level of the captured log lines (default debug). */
  logLevel?: LogLevel;
  /** `ctx.nodeName` (default `test-node`). */
  nodeName?: string;
  /** The metrics module, e.g. one shared by two plugin instances (default: a new one). */
  metrics?: MetricsModule;
}

/** A context plus handles on what the plugin records through it. */
export interface TestContext<T> {
  ctx: PluginContext<T>;
  metrics: MetricsModule;
  ipCache: InMemoryIpCache;
  /** Log lines, parsed, in the order written. */
  logs: LogLine[];
  /** Flows the plugin emitted, in order; `ctx.emit` accepts every one. */
  flows: Flow[];
}

/** Builds a PluginContext from real core parts (config, metrics, IP cache, logger) with logs and flows captured. */
export function createTestContext<T = Record<string, unknown>>(init: TestContextInit<T>): TestContext<T> {
  const logs: LogLine[] = [];
  const flows: Flow[] = [];
  const metrics = init.metrics ?? createMetricsModule();
  const ipCache = new InMemoryIpCache();
  const ctx: PluginContext<T> = {
    name: init.name,
    config: parseConfig(init.config ?? {}, init.configOptions).config,
    options: init.options ?? ({} as T),
    logger: createLogger({ level: init.logLevel ?? 'debug', destination: logSink(logs) }).child({
      plugin: init.name,
    }),
    metrics,
    emit: (flow) => {
      flows.push(flow);
      return true;
    },
    ipCache,
    nodeName: init.nodeName ?? 'test-node',
  };
  return { ctx, metrics, ipCache, logs, flows };
}

/** A logger destination that parses each JSON line into `logs`. */
export function logSink(logs: LogLine[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) logs.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
}

/** A forwarded egress L3/L4 flow from `source` to `destination` seen on `node-a`, with `extra` on top. */
export function flowBetween(source: string, destination: string, extra: Partial<Flow> = {}): Flow {
  return {
    timeNs: 1n,
    verdict: Verdict.FORWARDED,
    type: FlowType.L3_L4,
    nodeName: 'node-a',
    trafficDirection: TrafficDirection.EGRESS,
    ip: { source, destination, ipVersion: source.includes(':') ? IpVersion.IPv6 : IpVersion.IPv4 },
    ...extra,
  };
}

/** A plugin started by startTestPlugin. */
export interface StartedPlugin {
  /** What `start()` returned: settles once the plugin stops producing. */
  running: Promise<void>;
  /** Aborts start, waits for it to settle, then stops the plugin (even if start failed); idempotent. */
  stop(): Promise<void>;
}

/** Inits and starts `plugin` with `ctx`, as the plugin manager would; a failed init still releases what it took. */
export async function startTestPlugin<T>(plugin: Plugin<T>, ctx: PluginContext<T>): Promise<StartedPlugin> {
  try {
    await plugin.init(ctx);
  } catch (err) {
    await plugin.stop();
    throw err;
  }
  const ac = new AbortController();
  const running = plugin.start(ac.signal);
  let stopped: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    ac.abort();
    try {
      await running;
    } finally {
      await plugin.stop();
    }
  };
  return { running, stop: () => (stopped ??= stop()) };
}
