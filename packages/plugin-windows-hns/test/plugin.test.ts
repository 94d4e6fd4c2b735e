import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isPluginDefinition } from '@retina-ts/core';
import { expectPluginDefinition } from '@retina-ts/testkit';
import { afterEach, describe, expect, it, vi } from 'vitest';
import hnsStatsPlugin, { HnsStatsOptionsError, HnsStatsPlugin } from '../src/index.js';
import { HnsCallError, VfpError } from '../src/errors.js';
import { canonicalGuid } from '../src/hns/guid.js';
import type { WindowsHostOptions } from '../src/windows-host.js';
import {
  NODE_FAMILIES,
  POD_FAMILIES,
  exposed,
  recordedPods,
  series,
  testContext,
  type TestContext,
} from './context.js';
import { FixtureHost, recordedNode } from './fixture-host.js';
import { EP, FIXTURES, PORT, fixture } from './fixtures.js';

let plugin: HnsStatsPlugin | undefined;

afterEach(async () => {
  await plugin?.stop();
  plugin = undefined;
});

async function initPlugin(
  options: Record<string, unknown> = {},
  config: Record<string, unknown> = {},
  host: FixtureHost = new FixtureHost(),
) {
  const t: TestContext = testContext(options, config);
  recordedPods(t.ipCache);
  const opened: WindowsHostOptions[] = [];
  plugin = new HnsStatsPlugin({
    openHost: (o) => {
      opened.push(o);
      return Promise.resolve(host);
    },
  });
  await plugin.init(t.ctx);
  return { ...t, plugin, host, opened };
}

const warnings = (t: TestContext) => t.logs.filter((l) => l.level === 'warn');

describe('definition', () => {
  it('is a Windows plugin named as package.json declares it', async () => {
    const pkg = JSON.parse(await readFile(path.join(FIXTURES, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
      retina: { plugin: string };
    };
    expect(isPluginDefinition(hnsStatsPlugin)).toBe(true);
    expectPluginDefinition(hnsStatsPlugin, {
      name: 'hnsstats',
      platforms: ['windows'],
      packageJson: pkg,
      instanceOf: HnsStatsPlugin,
    });
  });
});

describe('hnsstats over the recorded node', () => {
  it('exposes exactly the expected node-level metrics and no pod-level ones by default', async () => {
    const t = await initPlugin();
    const report = await t.plugin.poll();
    expect(report).toMatchObject({ listed: 4, sampled: 3, withVfp: 3, problems: [], vfpCounters: true });
    expect(await exposed(t.metrics, NODE_FAMILIES)).toBe(fixture('expected/node.prom'));
    expect(await exposed(t.metrics, POD_FAMILIES)).toBe('');
    expect(warnings(t)).toEqual([]);
  });

  it('adds exactly the expected pod-level metrics when enablePodLevel is on', async () => {
    const t = await initPlugin({}, { enablePodLevel: true });
    await t.plugin.poll();
    expect(await exposed(t.metrics, NODE_FAMILIES)).toBe(fixture('expected/node.prom'));
    expect(await exposed(t.metrics, POD_FAMILIES)).toBe(fixture('expected/pod.prom'));
  });

  it('lets plugins.hnsstats.podLevel override enablePodLevel', async () => {
    const off = await initPlugin({ podLevel: false }, { enablePodLevel: true });
    await off.plugin.poll();
    expect(await exposed(off.metrics, POD_FAMILIES)).toBe('');
    await plugin?.stop();
    const on = await initPlugin({ podLevel: true });
    await on.plugin.poll();
    expect(await exposed(on.metrics, POD_FAMILIES)).toBe(fixture('expected/pod.prom'));
  });

  it('passes vfpctrlPath and commandTimeoutMs to the host', async () => {
    const t = await initPlugin({ vfpctrlPath: 'C:\\tools\\vfpctrl.exe', commandTimeoutMs: 2500 });
    expect(t.opened).toEqual([{ vfpctrlPath: 'C:\\tools\\vfpctrl.exe', commandTimeoutMs: 2500 }]);
  });

  it('follows pods going away and counters disappearing between polls', async () => {
    const host = new FixtureHost();
    const t = await initPlugin({}, { enablePodLevel: true }, host);
    await t.plugin.poll();
    host.script.list = `["${EP.unknown}"]`;
    host.script.vfpctrl.set(
      `/port ${canonicalGuid(PORT.unknown)} /get-port-counter`,
      fixture('vfp/port-counter-partial.txt'),
    );
    await t.plugin.poll();
    expect(await series(t.metrics, 'networkobservability_forward_count')).toEqual(
      new Map([
        ['direction=ingress', 77],
        ['direction=egress', 66],
      ]),
    );
    // The partial report has no TCP connection counters: none are claimed.
    expect(await series(t.metrics, 'networkobservability_tcp_connection_stats')).toEqual(new Map());
    expect(await series(t.metrics, 'networkobservability_tcp_flag_gauges')).toEqual(
      new Map([
        ['direction=ingress,flag=SYN', 0],
        ['direction=ingress,flag=SYNACK', 10],
        ['direction=ingress,flag=FIN', 9],
        ['direction=ingress,flag=RST', 0],
        ['direction=egress,flag=SYN', 10],
        ['direction=egress,flag=SYNACK', 0],
        ['direction=egress,flag=FIN', 9],
        ['direction=egress,flag=RST', 1],
      ]),
    );
    const pods = new Set(
      [...(await series(t.metrics, 'networkobservability_adv_forward_bytes')).keys()].map(
        (k) => /podname=([^,]+)/.exec(k)![1],
      ),
    );
    expect(pods).toEqual(new Set(['unknown']));
  });

  it('reports all-zero HNS series for a node without pods', async () => {
    const t = await initPlugin(
      {},
      {},
      new FixtureHost({ ...recordedNode(), list: fixture('hns/endpoints-empty.json') }),
    );
    await t.plugin.poll();
    expect(await exposed(t.metrics, NODE_FAMILIES)).toBe(
      [
        '# TYPE networkobservability_forward_count gauge',
        'networkobservability_forward_count{direction="egress"} 0',
        'networkobservability_forward_count{direction="ingress"} 0',
        '# TYPE networkobservability_forward_bytes gauge',
        'networkobservability_forward_bytes{direction="egress"} 0',
        'networkobservability_forward_bytes{direction="ingress"} 0',
        '# TYPE networkobservability_drop_count gauge',
        'networkobservability_drop_count{reason="endpoint",direction="egress"} 0',
        'networkobservability_drop_count{reason="endpoint",direction="ingress"} 0',
        '# TYPE networkobservability_windows_hns_stats gauge',
        'networkobservability_windows_hns_stats{direction="win_packets_recv_count"} 0',
        'networkobservability_windows_hns_stats{direction="win_packets_sent_count"} 0',
        '',
      ].join('\n'),
    );
  });

  it('warns once when endpoint problems appear, and says when they clear', async () => {
    const host = new FixtureHost();
    const t = await initPlugin({}, {}, host);
    host.script.vfpctrl.set(
      `/port ${canonicalGuid(PORT.web)} /get-port-counter`,
      fixture('vfp/port-counter-error.txt'),
    );
    await t.plugin.poll();
    await t.plugin.poll();
    const w = warnings(t);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatchObject({
      plugin: 'hnsstats',
      msg: 'hnsstats poll: 1 endpoint problem(s); the rest was recorded',
      problems: [{ stage: 'vfp-counters', endpoint: canonicalGuid(EP.web) }],
    });
    // The other endpoints are still counted.
    expect((await series(t.metrics, 'networkobservability_forward_count')).get('direction=ingress')).toBe(
      19800,
    );
    host.script = recordedNode();
    await t.plugin.poll();
    expect(t.logs.filter((l) => l.msg === 'hnsstats poll: all endpoint problems cleared')).toHaveLength(1);
  });

  it('keeps the last values and rejects the poll when HNS cannot list endpoints', async () => {
    const host = new FixtureHost();
    const t = await initPlugin({}, {}, host);
    await t.plugin.poll();
    host.script.list = new HnsCallError('HcnEnumerateEndpoints', -2147024891, 'the endpoint list', '');
    await expect(t.plugin.poll()).rejects.toThrow(/HcnEnumerateEndpoints failed with HRESULT 0x80070005/);
    expect(await exposed(t.metrics, NODE_FAMILIES)).toBe(fixture('expected/node.prom'));
  });
});

describe('init', () => {
  it('fails with the HCN error when endpoints cannot be listed; stop() then releases the host', async () => {
    const host = new FixtureHost({
      ...recordedNode(),
      list: new HnsCallError('HcnEnumerateEndpoints', -2147024891, 'the endpoint list', ''),
    });
    await expect(initPlugin({}, {}, host)).rejects.toThrow(
      /^HcnEnumerateEndpoints failed with HRESULT 0x80070005 \(access denied/,
    );
    expect(host.closed).toBe(0);
    await plugin!.stop();
    expect(host.closed).toBe(1);
  });

  it('fails with every bad option named', async () => {
    await expect(initPlugin({ concurrency: 0, vfpCounters: 'yes' })).rejects.toThrow(HnsStatsOptionsError);
    await expect(initPlugin({ concurrency: 0, vfpCounters: 'yes' })).rejects.toThrow(
      'invalid hnsstats options: plugins.hnsstats.vfpCounters must be true or false (got "yes"); plugins.hnsstats.concurrency must be at least 1 (got 0)',
    );
    await expect(initPlugin('fast' as unknown as Record<string, unknown>)).rejects.toThrow(
      'plugins.hnsstats must be a mapping of options, got "fast"',
    );
  });

  it('warns about unknown options', async () => {
    const t = await initPlugin({ vfpCountres: false });
    expect(warnings(t).map((l) => l.msg)).toEqual([
      'plugins.hnsstats: ignoring unknown option(s) vfpCountres (known: vfpCounters, vfpctrlPath, commandTimeoutMs, attachedOnly, concurrency, podLevel)',
    ]);
  });

  it('turns VFP counters off with a warning when vfpctrl is missing, and keeps HNS counters', async () => {
    const host = new FixtureHost();
    host.script.vfpctrl.set('/list-vmswitch-port', new VfpError('vfpctrl.exe was not found', 'not-found'));
    const t = await initPlugin({}, {}, host);
    expect(warnings(t).map((l) => l.msg)).toEqual([
      'VFP counters (tcp_flag_gauges, tcp_connection_stats, ACL drops) are not collected: vfpctrl is missing',
    ]);
    const calls = host.calls.length;
    const report = await t.plugin.poll();
    expect(report).toMatchObject({ vfpCounters: false, withVfp: 0, sampled: 3, problems: [] });
    expect(host.calls.slice(calls).filter((c) => c.fn === 'vfpctrl')).toEqual([]);
    expect(await series(t.metrics, 'networkobservability_tcp_flag_gauges')).toEqual(new Map());
    expect((await series(t.metrics, 'networkobservability_forward_count')).get('direction=egress')).toBe(
      16075,
    );
  });

  it('keeps trying VFP when vfpctrl fails at start for another reason', async () => {
    const host = new FixtureHost();
    const listing = host.script.vfpctrl.get('/list-vmswitch-port')!;
    host.script.vfpctrl.set(
      '/list-vmswitch-port',
      new VfpError('vfpctrl /list-vmswitch-port exited with code 1', 'exit'),
    );
    const t = await initPlugin({}, {}, host);
    expect(warnings(t).map((l) => l.msg)).toEqual([
      'vfpctrl failed at start; VFP counters will be tried again at every poll',
    ]);
    host.script.vfpctrl.set('/list-vmswitch-port', listing);
    expect(await t.plugin.poll()).toMatchObject({ vfpCounters: true, withVfp: 3 });
  });

  it('does not touch vfpctrl when vfpCounters is false', async () => {
    const t = await initPlugin({ vfpCounters: false });
    await t.plugin.poll();
    expect(t.host.callsOf('vfpctrl')).toEqual([]);
  });
});

describe('lifecycle', () => {
  it('polls when started and again every metrics interval, and stops cleanly', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const t = await initPlugin({}, { metricsIntervalDuration: '1h' });
      const statsCalls = () => t.host.callsOf('hnsCall').length;
      const turn = () => new Promise((r) => setImmediate(r));
      // A poll is over once the next one is scheduled.
      const pollDone = async () => {
        while (vi.getTimerCount() === 0) await turn();
      };
      const running = t.plugin.start(new AbortController().signal);
      await pollDone();
      expect(statsCalls()).toBe(3);
      await vi.advanceTimersByTimeAsync(60 * 60 * 1000 - 1);
      expect(statsCalls()).toBe(3);
      await vi.advanceTimersByTimeAsync(1);
      await pollDone();
      expect(statsCalls()).toBe(6);
      await t.plugin.stop();
      await running;
      expect(t.plugin.state).toBe('stopped');
    } finally {
      vi.useRealTimers();
    }
  });

  it('removes its series at stop, closes the host, and a poll after stop writes nothing', async () => {
    const t = await initPlugin({}, { enablePodLevel: true });
    await t.plugin.poll();
    await t.plugin.stop();
    expect(t.host.closed).toBe(1);
    expect(await exposed(t.metrics, [...NODE_FAMILIES, ...POD_FAMILIES])).toBe('');
    await t.plugin.poll().catch(() => undefined);
    expect(await exposed(t.metrics, [...NODE_FAMILIES, ...POD_FAMILIES])).toBe('');
    await t.plugin.stop();
    expect(t.host.closed).toBe(1);
  });

  it('refuses to poll before init', async () => {
    await expect(new HnsStatsPlugin().poll()).rejects.toThrow(
      'hnsstats: poll() needs a successful init() first',
    );
  });
});
