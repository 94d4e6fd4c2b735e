import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isPluginDefinition } from '@retina-ts/core';
import { expectPluginDefinition } from '@retina-ts/testkit';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import linuxUtilPlugin, { LinuxUtilOptionsError, LinuxUtilPlugin } from '../src/index.js';
import { FakeEthtool, copyProcRoot, exposedText, series, testContext, type TestContext } from './context.js';
import { FIXTURES, malformed } from './fixtures.js';

const TCP_STATE = 'networkobservability_tcp_state';
const TCP_REMOTE = 'networkobservability_tcp_connection_remote';
const TCP_STATS = 'networkobservability_tcp_connection_stats';
const IP_STATS = 'networkobservability_ip_connection_stats';
const UDP_STATS = 'networkobservability_udp_connection_stats';
const IFACE_STATS = 'networkobservability_interface_stats';

// Driver statistics the fake reader serves for the fixture's two veth interfaces (lo has none).
const VETH_STATS = {
  rluv1: { peer_ifindex: 3, rx_queue_0_xdp_packets: 0, rx_queue_0_drops: 7 },
  rluv0: { peer_ifindex: 4, rx_queue_0_xdp_packets: 12, rx_queue_0_drops: 0 },
};

let proc: { root: string; remove: () => Promise<void> };
let plugin: LinuxUtilPlugin | undefined;

beforeEach(async () => {
  proc = await copyProcRoot();
});

afterEach(async () => {
  await plugin?.stop();
  plugin = undefined;
  await proc.remove();
});

async function initPlugin(
  options: Record<string, unknown> = {},
  ethtool: FakeEthtool | Error = new FakeEthtool(VETH_STATS),
) {
  const t: TestContext = testContext({ procRoot: proc.root, ...options });
  plugin = new LinuxUtilPlugin({
    openEthtool: () => (ethtool instanceof Error ? Promise.reject(ethtool) : Promise.resolve(ethtool)),
  });
  await plugin.init(t.ctx);
  return { ...t, plugin, ethtool };
}

const put = (rel: string, text: string) => writeFile(path.join(proc.root, rel), text);
const read = (rel: string) => readFile(path.join(proc.root, rel), 'utf8');
/** Rewrites file `rel` of the proc copy as `change` makes its text. */
const edit = async (rel: string, change: (text: string) => string) => put(rel, change(await read(rel)));
/** A change that keeps the lines `keep` accepts (given each line and its index). */
const keepLines = (keep: (line: string, index: number) => boolean) => (text: string) =>
  text.split('\n').filter(keep).join('\n');
const warnings = (t: TestContext) => t.logs.filter((l) => l.level === 'warn');

describe('definition', () => {
  it('is a linux plugin named as package.json declares it', async () => {
    const pkg = JSON.parse(await readFile(path.join(FIXTURES, '..', '..', 'package.json'), 'utf8')) as {
      version: string;
      retina: { plugin: string };
    };
    expect(isPluginDefinition(linuxUtilPlugin)).toBe(true);
    expectPluginDefinition(linuxUtilPlugin, {
      name: 'linuxutil',
      platforms: ['linux'],
      packageJson: pkg,
      instanceOf: LinuxUtilPlugin,
    });
  });
});

describe('linuxutil over a fake proc root', () => {
  it('exposes exactly the expected metrics for the captured proc files', async () => {
    const t = await initPlugin({ maxRemoteAddresses: 3 });
    const report = await t.plugin.poll();
    expect(report).toEqual({ failedFiles: [], interfaces: ['rluv1', 'rluv0'] });
    const expected = await readFile(path.join(FIXTURES, 'expected', 'normal-top3.prom'), 'utf8');
    expect(await exposedText(t.metrics)).toBe(expected);
    expect(warnings(t)).toEqual([]);
  });

  it('lists every remote address when under the cap, with no "other" series', async () => {
    const t = await initPlugin();
    await t.plugin.poll();
    const remote = await series(t.metrics, TCP_REMOTE);
    expect(remote.size).toBe(15);
    expect(remote.get('address=127.0.0.1:8080')).toBe(5);
    expect(remote.get('address=[fd00:77::2]:80')).toBe(1);
    expect(remote.has('address=other')).toBe(false);
  });

  it('removes remote addresses whose connections closed and recounts states', async () => {
    const t = await initPlugin();
    await t.plugin.poll();
    const keepListeners = keepLines((l, i) => i === 0 || / 0A /.test(l));
    await edit('net/tcp', keepListeners);
    await edit('net/tcp6', keepListeners);
    await t.plugin.poll();
    expect((await series(t.metrics, TCP_REMOTE)).size).toBe(0);
    const states = await series(t.metrics, TCP_STATE);
    expect(states.get('state=LISTEN')).toBe(2);
    expect(states.get('state=ESTABLISHED')).toBe(0);
    expect(states.get('state=TIME_WAIT')).toBe(0);
    expect(states.size).toBe(12);
  });

  it('treats missing tcp6/udp6 (IPv6 disabled) as no IPv6 sockets, without warnings', async () => {
    await rm(path.join(proc.root, 'net/tcp6'));
    await rm(path.join(proc.root, 'net/udp6'));
    const t = await initPlugin();
    expect((await t.plugin.poll()).failedFiles).toEqual([]);
    const states = await series(t.metrics, TCP_STATE);
    expect(states.get('state=ESTABLISHED')).toBe(4);
    expect(states.get('state=LISTEN')).toBe(1);
    expect((await series(t.metrics, UDP_STATS)).get('statistic_name=ACTIVE')).toBe(2);
    expect(warnings(t)).toEqual([]);
  });

  it('skips only the metrics fed by a malformed file, warns once, and reports recovery', async () => {
    const t = await initPlugin();
    await t.plugin.poll();
    const before = await exposedText(t.metrics);

    const snmp = await read('net/snmp');
    const tcp = await read('net/tcp');
    await put('net/snmp', malformed('snmp-truncated'));
    await put('net/tcp', malformed('tcp-truncated'));
    // netstat still parses, with a changed TcpExt counter; one UDP socket closed.
    await edit('net/netstat', (netstat) => netstat.replace(/^(TcpExt:(?: \d+){10}) 3 /m, '$1 99 '));
    await edit('net/udp', keepLines((_, i) => i < 2));

    const report = await t.plugin.poll();
    expect(report.failedFiles.sort()).toEqual(['net/snmp', 'net/tcp']);
    const stats = await series(t.metrics, TCP_STATS);
    expect(stats.get('statistic_name=TW')).toBe(99);
    // Tcp counters come from snmp, which did not parse: previous values stay.
    expect(stats.get('statistic_name=ActiveOpens')).toBe(14);
    expect((await series(t.metrics, UDP_STATS)).get('statistic_name=ACTIVE')).toBe(2);
    // tcp_state and tcp_connection_remote need tcp and tcp6 together: unchanged.
    const stateLines = (text: string) =>
      text.split('\n').filter((l) => l.startsWith(TCP_STATE) || l.startsWith(TCP_REMOTE));
    expect(stateLines(await exposedText(t.metrics))).toEqual(stateLines(before));

    const warned = warnings(t).map((l) => l.msg);
    expect(warned).toHaveLength(2);
    expect(warned).toContain(
      'net/snmp line 8: section Udp has 9 counter names but 3 values (truncated line?); the metrics from net/snmp keep their previous values',
    );
    expect(warned).toContain(
      'net/tcp line 8: socket line has 3 fields, expected at least 10 (truncated?); the metrics from net/tcp keep their previous values',
    );

    // The same problem again is not logged again.
    await t.plugin.poll();
    expect(warnings(t)).toHaveLength(2);

    await put('net/snmp', snmp);
    await put('net/tcp', tcp);
    expect((await t.plugin.poll()).failedFiles).toEqual([]);
    const infos = t.logs.filter((l) => l.level === 'info').map((l) => l.msg);
    expect(infos).toEqual(
      expect.arrayContaining(['net/snmp reads correctly again', 'net/tcp reads correctly again']),
    );
    expect((await series(t.metrics, TCP_STATE)).get('state=ESTABLISHED')).toBe(16);
  });

  it('never throws on garbage, empty or unreadable files', async () => {
    for (const rel of ['net/snmp', 'net/netstat', 'net/tcp', 'net/tcp6', 'net/udp'])
      await put(rel, malformed('garbage'));
    await put('net/udp6', malformed('empty'));
    await put('net/dev', malformed('dev-truncated'));
    const t = await initPlugin();
    const report = await t.plugin.poll();
    expect(report.failedFiles.sort()).toEqual(
      ['net/dev', 'net/netstat', 'net/snmp', 'net/tcp', 'net/tcp6', 'net/udp', 'net/udp6'].sort(),
    );
    expect(await exposedText(t.metrics)).toBe(
      [TCP_STATE, TCP_REMOTE, TCP_STATS, IP_STATS, UDP_STATS, IFACE_STATS]
        .map((n) => `# TYPE ${n} gauge`)
        .join('\n') + '\n',
    );
    expect(warnings(t)).toHaveLength(7);

    await rm(path.join(proc.root, 'net/snmp'));
    await expect(t.plugin.poll()).resolves.toMatchObject({
      failedFiles: expect.arrayContaining(['net/snmp']),
    });
    expect(warnings(t).at(-1)!.msg).toMatch(/^cannot read .*net\/snmp: ENOENT/);
  });

  it('warns when a counter file lacks a section every kernel writes', async () => {
    await edit('net/snmp', keepLines((l) => !l.startsWith('Udp:')));
    const t = await initPlugin();
    await t.plugin.poll();
    expect(warnings(t).map((l) => l.msg)).toEqual([
      'net/snmp has no Udp section; those statistics are not exported',
    ]);
    expect((await series(t.metrics, UDP_STATS)).get('statistic_name=ACTIVE')).toBe(3);
    expect((await series(t.metrics, UDP_STATS)).has('statistic_name=InDatagrams')).toBe(false);
  });
});

describe('interface_stats', () => {
  it('skips lo and excluded interfaces, and logs a driver without statistics once', async () => {
    await edit(
      'net/dev',
      (dev) => `${dev} br0:0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n lxc12ab:0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n`,
    );
    const t = await initPlugin({ excludeInterfaces: ['^lxc'] });
    await t.plugin.poll();
    await t.plugin.poll();
    const fake = t.ethtool as FakeEthtool;
    expect(fake.calls).toEqual(['rluv1', 'rluv0', 'br0', 'rluv1', 'rluv0', 'br0']);
    const debug = t.logs.filter((l) => l.level === 'debug' && l.interface === 'br0');
    expect(debug).toHaveLength(1);
    expect(debug[0]!.msg).toBe('interface has no driver statistics; leaving it out of interface_stats');
    expect((await series(t.metrics, IFACE_STATS)).size).toBe(6);
  });

  it('removes the series of an interface that went away', async () => {
    const t = await initPlugin();
    await t.plugin.poll();
    await edit('net/dev', keepLines((l) => !l.includes('rluv1:')));
    await t.plugin.poll();
    const ifaces = await series(t.metrics, IFACE_STATS);
    expect([...ifaces.keys()]).toEqual([
      'interface_name=rluv0,statistic_name=peer_ifindex',
      'interface_name=rluv0,statistic_name=rx_queue_0_xdp_packets',
      'interface_name=rluv0,statistic_name=rx_queue_0_drops',
    ]);
  });

  it('keeps going when one interface fails or vanishes mid-poll', async () => {
    const fake = new FakeEthtool({
      ...VETH_STATS,
      rluv1: new Error('ethtool GSTATS on rluv1: EIO (errno 5)'),
    });
    const t = await initPlugin({}, fake);
    await t.plugin.poll();
    expect(
      [...(await series(t.metrics, IFACE_STATS)).keys()].every((k) => k.startsWith('interface_name=rluv0')),
    ).toBe(true);
    expect(warnings(t).map((l) => l.msg)).toEqual([
      'ethtool GSTATS on rluv1: EIO (errno 5); leaving rluv1 out of interface_stats',
    ]);
    fake.table.rluv1 = 'gone';
    await t.plugin.poll();
    expect(t.logs.some((l) => l.msg === 'ethtool:rluv1 reads correctly again')).toBe(true);
    expect(warnings(t)).toHaveLength(1);
  });

  it('is not collected when disabled, and the rest works when the reader cannot open', async () => {
    const opened = vi.fn();
    const a = testContext({ procRoot: proc.root, interfaceStats: false });
    plugin = new LinuxUtilPlugin({ openEthtool: opened });
    await plugin.init(a.ctx);
    await plugin.poll();
    expect(opened).not.toHaveBeenCalled();
    expect((await series(a.metrics, IFACE_STATS)).size).toBe(0);
    await plugin.stop();

    const t = await initPlugin({}, new Error('cannot load the C library for ethtool ioctls'));
    await t.plugin.poll();
    expect(warnings(t)[0]!.msg).toMatch(
      /^interface_stats is not collected: the ethtool statistics reader could not be opened/,
    );
    expect((await series(t.metrics, TCP_STATE)).get('state=ESTABLISHED')).toBe(16);
  });
});

describe('lifecycle and options', () => {
  it('polls at start, resolves on abort, and on stop closes the reader and withdraws its series', async () => {
    const fake = new FakeEthtool(VETH_STATS);
    const t = await initPlugin({}, fake);
    const polled = vi.spyOn(t.plugin, 'poll');
    const abort = new AbortController();
    const running = t.plugin.start(abort.signal);
    await vi.waitFor(() => expect(polled).toHaveBeenCalledTimes(1));
    await polled.mock.results[0]!.value;
    expect((await series(t.metrics, TCP_STATE)).get('state=LISTEN')).toBe(2);
    abort.abort();
    await running;
    await t.plugin.stop();
    await t.plugin.stop();
    expect(fake.closed).toBe(1);
    for (const name of [TCP_STATE, TCP_REMOTE, TCP_STATS, IP_STATS, UDP_STATS, IFACE_STATS]) {
      expect((await series(t.metrics, name)).size).toBe(0);
    }
  });

  it('fails init with a clear reason when procfs is not at procRoot', async () => {
    const t = testContext({ procRoot: path.join(proc.root, 'missing') });
    plugin = new LinuxUtilPlugin({ openEthtool: () => Promise.resolve(new FakeEthtool({})) });
    await expect(plugin.init(t.ctx)).rejects.toThrow(
      /^linuxutil cannot read .*missing\/net\/snmp \(ENOENT.*\); mount procfs there or set plugins\.linuxutil\.procRoot$/,
    );
  });

  it('rejects invalid options and warns about unknown ones', async () => {
    const bad = testContext({ procRoot: proc.root, maxRemoteAddresses: -1 });
    plugin = new LinuxUtilPlugin();
    await expect(plugin.init(bad.ctx)).rejects.toThrow(LinuxUtilOptionsError);
    await plugin.stop();

    const t = await initPlugin({ maxRemoteAdresses: 5 });
    expect(warnings(t).map((l) => l.msg)).toEqual([
      'plugins.linuxutil: ignoring unknown option(s) maxRemoteAdresses (known: procRoot, maxRemoteAddresses, interfaceStats, excludeInterfaces)',
    ]);
  });
});
