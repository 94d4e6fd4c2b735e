import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPluginDefinition, type MetricsModule } from '@retina-ts/core';
import { createTestContext, startTestPlugin } from '@retina-ts/core/testing';
import { expectPluginDefinition, seriesOf } from '@retina-ts/testkit';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import infinibandPlugin, { INFINIBAND_FAMILIES, InfinibandOptionsError, InfinibandPlugin } from '../src/index.js';
import { buildSysfs, MLX5_PORT_COUNTERS, type SysfsFixture } from './fixture.js';

const COUNTERS = 'networkobservability_infiniband_counter_stats';
const STATUS = 'networkobservability_infiniband_status_params';

let sys: SysfsFixture;
let plugin: InfinibandPlugin | undefined;

beforeEach(async () => {
  sys = await buildSysfs();
});
afterEach(async () => {
  await plugin?.stop();
  plugin = undefined;
  await sys.remove();
});

/** Series of one family as `k=v,k=v → value`. */
const series = (metrics: MetricsModule, name: string) => seriesOf(metrics.registry, name);

async function initPlugin(options: Record<string, unknown> = {}) {
  const t = createTestContext({ name: 'infiniband', options: { sysfsRoot: sys.root, ...options } });
  plugin = new InfinibandPlugin();
  await plugin.init(t.ctx);
  return { ...t, plugin };
}

describe('definition', () => {
  it('is a linux plugin named as package.json declares it', async () => {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const pkg = JSON.parse(await readFile(path.join(here, '..', 'package.json'), 'utf8')) as {
      version: string;
      retina: { plugin: string };
    };
    expect(isPluginDefinition(infinibandPlugin)).toBe(true);
    expectPluginDefinition(infinibandPlugin, {
      name: 'infiniband',
      platforms: ['linux'],
      packageJson: pkg,
      instanceOf: InfinibandPlugin,
    });
  });
});

describe('InfinibandPlugin', () => {
  it('exposes every port counter and IPoIB parameter under Retina names and labels', async () => {
    const { metrics } = await initPlugin();
    await plugin!.poll();
    const text = (await metrics.registry.getSingleMetricAsString(COUNTERS)).split('\n');
    expect(text).toContain('# TYPE networkobservability_infiniband_counter_stats gauge');
    expect(text).toContain(
      'networkobservability_infiniband_counter_stats{statistic_name="port_rcv_data",device="mlx5_0",port="1"} 98765432100',
    );
    expect(text).toContain(
      'networkobservability_infiniband_counter_stats{statistic_name="VL15_dropped",device="mlx5_1",port="1"} 1000',
    );
    const counters = await series(metrics, COUNTERS);
    expect(counters.size).toBe(Object.keys(MLX5_PORT_COUNTERS).length * 2);
    for (const [device, values] of Object.entries(sys.counters)) {
      for (const [name, value] of Object.entries(values)) {
        expect(counters.get(`statistic_name=${name},device=${device},port=1`)).toBe(value);
      }
    }
    expect(await series(metrics, STATUS)).toEqual(
      new Map([
        ['statistic_name=link_down_reason,interface_name=ib0', 0],
        ['statistic_name=lro_timeout,interface_name=ib0', 32],
        ['statistic_name=link_down_reason,interface_name=ib1', 2],
        ['statistic_name=lro_timeout,interface_name=ib1', 16],
      ]),
    );
  });

  it('follows changes: new values are set, series of a removed device disappear', async () => {
    const { metrics } = await initPlugin();
    await plugin!.poll();
    await sys.write('class/infiniband/mlx5_0/ports/1/counters/port_rcv_errors', '17\n');
    await rm(path.join(sys.root, 'class/infiniband/mlx5_1'));
    await plugin!.poll();
    const counters = await series(metrics, COUNTERS);
    expect(counters.get('statistic_name=port_rcv_errors,device=mlx5_0,port=1')).toBe(17);
    expect([...counters.keys()].some((k) => k.includes('mlx5_1'))).toBe(false);
  });

  it('warns once per unreadable file, and keeps the others', async () => {
    const t = await initPlugin();
    await sys.write('class/infiniband/mlx5_0/ports/1/counters/port_xmit_wait', 'N/A\n');
    await plugin!.poll();
    await plugin!.poll();
    const warns = t.logs.filter((l) => l.level === 'warn' && l.msg.includes('could not be read'));
    expect(warns).toHaveLength(1);
    expect(warns[0]!.problems).toEqual(['class/infiniband/mlx5_0/ports/1/counters/port_xmit_wait: "N/A" is not a counter value']);
    expect((await series(t.metrics, COUNTERS)).size).toBe(Object.keys(MLX5_PORT_COUNTERS).length * 2 - 1);
  });

  it('warns when maxSeries leaves statistics out', async () => {
    const t = await initPlugin({ maxSeries: 3 });
    await plugin!.poll();
    expect((await series(t.metrics, COUNTERS)).size).toBe(3);
    expect(t.logs.some((l) => l.level === 'warn' && l.msg.includes('maxSeries'))).toBe(true);
  });

  it('on a node without InfiniBand: starts, warns where it looked, and sets nothing', async () => {
    const bare = await buildSysfs({ infiniband: false });
    try {
      const t = createTestContext({ name: 'infiniband', options: { sysfsRoot: bare.root } });
      plugin = new InfinibandPlugin();
      await plugin.init(t.ctx);
      expect(await plugin.poll()).toEqual({ counters: [], statusParams: [], problems: [], truncated: 0 });
      expect(t.logs.some((l) => l.level === 'warn' && l.msg.includes(path.join(bare.root, 'class', 'infiniband')))).toBe(true);
      for (const f of INFINIBAND_FAMILIES) expect((await series(t.metrics, f)).size).toBe(0);
    } finally {
      await bare.remove();
    }
  });

  it('polls on start every metrics interval, and removes its series at stop', async () => {
    const t = createTestContext({
      name: 'infiniband',
      options: { sysfsRoot: sys.root },
      config: { metricsIntervalDuration: '1h' },
    });
    const p = new InfinibandPlugin();
    const started = await startTestPlugin(p, t.ctx);
    try {
      // The first poll runs at start; nothing here calls poll().
      for (let i = 0; i < 200 && (await series(t.metrics, COUNTERS)).size === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect((await series(t.metrics, COUNTERS)).size).toBe(Object.keys(MLX5_PORT_COUNTERS).length * 2);
    } finally {
      await started.stop();
    }
    for (const f of INFINIBAND_FAMILIES) expect((await series(t.metrics, f)).size).toBe(0);
  });

  it('fails init on invalid options, naming them, and warns about unknown ones', async () => {
    const bad = createTestContext({ name: 'infiniband', options: { maxSeries: -1 } });
    await expect(new InfinibandPlugin().init(bad.ctx)).rejects.toThrow(InfinibandOptionsError);
    const t = await initPlugin({ sysfs: '/x' });
    expect(t.logs.some((l) => l.level === 'warn' && l.msg.includes('ignoring unknown option(s) sysfs'))).toBe(true);
  });

  it('poll() before init is refused', async () => {
    await expect(new InfinibandPlugin().poll()).rejects.toThrow(/needs a successful init/);
  });
});
