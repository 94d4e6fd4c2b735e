import {
  createLogger,
  createMetricsModule,
  FlowBus,
  InMemoryIpCache,
  parseConfig,
  PluginManager,
  type Logger,
  type PluginContext,
  type PluginManagerOptions,
} from '../src/index.js';
import { logSink, type LogLine } from '../src/testing.js';

export { flowBetween } from '../src/testing.js';

/** A logger whose JSON lines are collected in `lines`. */
export function captureLogger(level: 'debug' | 'info' = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: LogLine[] = [];
  return { logger: createLogger({ level, destination: logSink(lines) }), lines };
}

/** A plugin context backed by real core parts, with captured logs. */
export function fakeContext<T = Record<string, unknown>>(name: string, options = {} as T) {
  const { logger, lines } = captureLogger();
  const metrics = createMetricsModule();
  const bus = new FlowBus({ capacity: 16, metrics });
  const ctx: PluginContext<T> = {
    name,
    config: parseConfig({}).config,
    options,
    logger: logger.child({ plugin: name }),
    metrics,
    emit: (flow) => bus.publish(flow),
    ipCache: new InMemoryIpCache(),
    nodeName: 'node-a',
  };
  return { ctx, lines, metrics, bus };
}

/** A PluginManager on real core parts for Linux, with short backoffs and captured logs. */
export function testManager(overrides: Partial<PluginManagerOptions> = {}) {
  const { logger, lines } = captureLogger();
  const metrics = createMetricsModule();
  const manager = new PluginManager({
    config: parseConfig({}).config,
    metrics,
    logger,
    flowBus: new FlowBus({ capacity: 16, metrics }),
    ipCache: new InMemoryIpCache(),
    nodeName: 'node-a',
    backoff: { initialMs: 5, maxMs: 20, factor: 2, jitter: 0 },
    platform: 'linux',
    ...overrides,
  });
  return { manager, metrics, lines };
}
