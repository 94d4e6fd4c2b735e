/**
 * hnsstats under core's PluginManager on this Linux machine: the plugin cannot run, says it requires Windows, and
 * the rest of the agent (another plugin, the metrics) keeps running.
 */
import {
  FlowBus,
  InMemoryIpCache,
  PluginBase,
  PluginManager,
  createLogger,
  createMetricsModule,
  definePlugin,
  parseConfig,
  selectPlugins,
  type PluginStatus,
} from '@retina-ts/core';
import { afterEach, describe, expect, it } from 'vitest';
import hnsStatsPlugin from '../src/index.js';
import { logSink, type LogLine } from '@retina-ts/core/testing';

/** A stand-in for the agent's other plugins: sets one gauge once started. */
class CounterPlugin extends PluginBase {
  protected override onInit(): void {}
  protected override onStart(): void {
    this.ctx.metrics.basic.tcpState.set({ state: 'ESTABLISHED' }, 3);
  }
}
const companion = definePlugin({
  name: 'companion',
  version: '1.0.0',
  platforms: ['linux', 'windows'],
  create: () => new CounterPlugin(),
});
const DEFINITIONS = new Map([
  [hnsStatsPlugin.name, hnsStatsPlugin],
  [companion.name, companion],
]);

let cleanup: (() => Promise<unknown>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

function startAgent(config: Record<string, unknown>, platform?: 'windows') {
  const logs: LogLine[] = [];
  const metrics = createMetricsModule();
  const flowBus = new FlowBus({ metrics });
  const { config: agentConfig } = parseConfig(config);
  const manager = new PluginManager({
    config: agentConfig,
    metrics,
    logger: createLogger({ level: 'debug', destination: logSink(logs) }),
    flowBus,
    ipCache: new InMemoryIpCache(),
    nodeName: 'test-node',
    // No restart while the test looks at the first failure.
    backoff: { initialMs: 600_000, maxMs: 600_000, jitter: 0 },
    ...(platform ? { platform } : {}),
  });
  // What the agent does: the names enabled for this OS, each resolved to its definition.
  for (const name of selectPlugins(agentConfig, platform ?? process.platform).names)
    manager.add(DEFINITIONS.get(name)!);
  cleanup = async () => {
    await manager.stop();
    flowBus.close();
  };
  return { manager, metrics, logs };
}

const byName = (statuses: PluginStatus[]) => Object.fromEntries(statuses.map((s) => [s.name, s]));

describe('hnsstats on a Linux node', () => {
  it('is reported unsupported ("requires windows") while the other plugins run', async () => {
    const { manager, metrics } = startAgent({ enabledPlugin: ['hnsstats', 'companion'] });
    await manager.start();
    const status = byName(manager.status());
    expect(status.hnsstats).toMatchObject({
      state: 'unsupported',
      lastError: 'requires windows (this node runs linux)',
      restarts: 0,
    });
    expect(status.companion).toMatchObject({ state: 'running' });
    const { body } = await metrics.expose('text/plain');
    expect(body).toContain('networkobservability_tcp_state{state="ESTABLISHED"} 3');
    expect(body).toContain(
      'controlplane_networkobservability_plugin_status{plugin="hnsstats",state="unsupported"} 1',
    );
    expect(body).toContain(
      'controlplane_networkobservability_plugin_manager_failed_to_reconcile{reason="hnsstats"} 1',
    );
    expect(body).not.toMatch(/^networkobservability_forward_count/m);
  });

  it('fails init with "requires Windows" when the manager is told it runs on Windows, and the rest keeps running', async () => {
    const { manager, metrics, logs } = startAgent({ enabledPlugin: ['hnsstats', 'companion'] }, 'windows');
    const backoff = new Promise<void>((resolve) =>
      manager.onTransition((s) => s.name === 'hnsstats' && s.state === 'backoff' && resolve()),
    );
    await manager.start();
    await backoff;
    const status = byName(manager.status());
    expect(status.hnsstats!.state).toBe('backoff');
    expect(status.hnsstats!.lastError).toMatch(
      /^init: hnsstats requires Windows \(Windows Server 2019 or later .*\); this node runs linux\./,
    );
    expect(status.companion).toMatchObject({ state: 'running' });
    expect(
      logs.some((l) => l.level === 'error' && l.plugin === 'hnsstats' && /requires Windows/.test(l.msg)),
    ).toBe(true);
    const { body } = await metrics.expose('text/plain');
    expect(body).toContain('networkobservability_tcp_state{state="ESTABLISHED"} 3');
    expect(body).toContain(
      'controlplane_networkobservability_plugin_status{plugin="hnsstats",state="backoff"} 1',
    );
  });

  it('is what enabledPlugin_win selects on Windows, and not selected on Linux', () => {
    const { config } = parseConfig({ enabledPlugin_linux: ['companion'], enabledPlugin_win: ['hnsstats'] });
    expect(selectPlugins(config, 'win32')).toMatchObject({
      names: ['hnsstats'],
      source: 'enabledPlugin_win',
    });
    expect(selectPlugins(config, 'linux').names).toEqual(['companion']);
    expect(selectPlugins(parseConfig({}).config, 'win32')).toMatchObject({
      names: ['hnsstats'],
      fromDefaults: true,
    });
  });
});
