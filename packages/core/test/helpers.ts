import { Writable } from 'node:stream';
import {
  createLogger,
  createMetricsModule,
  FlowBus,
  FlowType,
  InMemoryIpCache,
  IpVersion,
  parseConfig,
  PluginManager,
  TrafficDirection,
  Verdict,
  type Flow,
  type Logger,
  type PluginContext,
  type PluginManagerOptions,
} from '../src/index.js';

/** A flow between two IPv4 addresses. */
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

/** A logger whose JSON lines are collected in `lines`. */
export function captureLogger(level: 'debug' | 'info' = 'debug'): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: createLogger({ level, destination: stream }), lines };
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
