import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  createMetricsModule,
  definePlugin,
  FlowBus,
  InMemoryIpCache,
  parseConfig,
  PluginBase,
  PluginManager,
  type PluginContext,
} from '../src/index.js';
import { captureLogger } from './helpers.js';

// The README's plugin, end to end through the manager with typed options.
interface Options {
  value?: number;
}

const closed: string[] = [];

class SnmpPlugin extends PluginBase<Options> {
  protected override async onInit(ctx: PluginContext<Options>) {
    const reader = { close: () => closed.push(`reader of ${ctx.name}`) };
    this.defer(() => reader.close());
  }
  protected override onStart() {
    this.every(this.ctx.config.metricsIntervalMs, async () => {
      this.ctx.metrics.basic.tcpConnectionStats.set({ statistic_name: 'TCPTimeouts' }, this.ctx.options.value ?? 0);
    });
  }
}

const definition = definePlugin<Options>({
  name: 'snmp',
  version: '1.0.0',
  platforms: ['linux'],
  create: () => new SnmpPlugin(),
});

describe('a PluginBase plugin under the manager', () => {
  const metrics = createMetricsModule();
  const manager = new PluginManager({
    config: parseConfig({ metricsIntervalDuration: '1s', plugins: { snmp: { value: 42 } } }).config,
    metrics,
    logger: captureLogger().logger,
    flowBus: new FlowBus({ metrics }),
    ipCache: new InMemoryIpCache(),
    nodeName: 'node-a',
    platform: 'linux',
  });
  afterAll(() => manager.stop());

  it('runs, sets its metric from its options, and releases on stop', async () => {
    manager.add(definition);
    await manager.start();
    await vi.waitFor(async () =>
      expect((await metrics.expose()).body).toContain('networkobservability_tcp_connection_stats{statistic_name="TCPTimeouts"} 42\n'),
    );
    expect(await manager.stop()).toEqual([{ name: 'snmp', ok: true }]);
    expect(closed).toEqual(['reader of snmp']);
  });
});
