/**
 * The real plugin against the real kernel: /proc/net counters and sockets of this host, and ethtool statistics of a
 * veth pair this test creates (one end in the host namespace without an address, the other in a test namespace).
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { commandExists, describeKernel, run } from '@retina-ts/testkit';
import { TCP_STATE_LABELS, UNKNOWN_TCP_STATE } from '../src/connections.js';
import { openEthtoolStatsReader } from '../src/ethtool/ioctl.js';
import type { EthtoolStatsReader } from '../src/ethtool/reader.js';
import { LinuxUtilPlugin } from '../src/plugin.js';
import { series, testContext, type TestContext } from './context.js';

/** Section → counter → value, read straight from a /proc counter file. */
function readCounters(file: string): Map<string, Map<string, number>> {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const out = new Map<string, Map<string, number>>();
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [section, ...names] = lines[i]!.split(/\s+/);
    const values = lines[i + 1]!.split(/\s+/).slice(1);
    out.set(section!.replace(/:$/, ''), new Map(names.map((n, k) => [n, Number(values[k])])));
  }
  return out;
}

/** The `st` column of each socket line of /proc/net/<name>. */
function socketStates(name: string): number[] {
  try {
    return readFileSync(`/proc/net/${name}`, 'utf8')
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => parseInt(l.trim().split(/\s+/)[3]!, 16));
  } catch {
    return []; // tcp6/udp6 are absent when IPv6 is disabled
  }
}

/** `ethtool -S` of an interface as name → value. */
function ethtoolS(ifname: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of run('ethtool', ['-S', ifname]).stdout.split('\n').slice(1)) {
    const m = /^\s+(.+): (\d+)$/.exec(line);
    if (m) out.set(m[1]!, Number(m[2]));
  }
  return out;
}

const inRange = (v: number | undefined, a: number | undefined, b: number | undefined) =>
  v !== undefined && a !== undefined && b !== undefined && v >= Math.min(a, b) && v <= Math.max(a, b);

describeKernel(
  'linuxutil on the real kernel',
  () => {
    // Part of the interface names: parallel runs must not collide, in at most 15 characters.
    const suffix = randomBytes(3).toString('hex');
    const ns = `rlu-${suffix}`;
    // 15 characters, the longest name an interface can have.
    const hostEnd = `rluktest${suffix}h`;
    const nsEnd = `rluktest${suffix}n`;
    let t: TestContext;
    let plugin: LinuxUtilPlugin;
    let server: net.Server;
    let client: net.Socket;
    let port: number;

    beforeAll(async () => {
      run('ip', ['netns', 'add', ns]);
      run('ip', [
        'link',
        'add',
        hostEnd,
        'numtxqueues',
        '2',
        'numrxqueues',
        '2',
        'type',
        'veth',
        'peer',
        'name',
        nsEnd,
        'netns',
        ns,
      ]);
      run('ip', ['link', 'set', hostEnd, 'up']);
      run('ip', ['-n', ns, 'link', 'set', nsEnd, 'up']);
      run('ip', ['-n', ns, 'addr', 'add', '10.231.77.1/24', 'dev', nsEnd]);

      // One loopback connection with a known remote address.
      server = net.createServer((s) => s.on('error', () => {}));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as net.AddressInfo).port;
      client = await new Promise<net.Socket>((resolve) => {
        const c = net.connect(port, '127.0.0.1', () => resolve(c));
      });

      // No top-N folding: other tests running at the same time may hold more loopback peers than the default cap.
      t = testContext({ maxRemoteAddresses: 100_000 });
      plugin = new LinuxUtilPlugin();
      await plugin.init(t.ctx);
    });

    afterAll(async () => {
      await plugin?.stop();
      client?.destroy();
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      try {
        run('ip', ['netns', 'del', ns]);
      } catch {
        // nothing to remove
      }
      try {
        run('ip', ['link', 'del', hostEnd]);
      } catch {
        // deleting the namespace already removed the pair
      }
    });

    it('exports /proc/net/snmp and /proc/net/netstat counters with the values the kernel reports', async () => {
      // Counters move while we read; a counter is right when it lies between the readings taken just before and
      // just after the poll. Retry a few times in case a non-monotonic one (CurrEstab) moves both ways in between.
      let failures: string[] = [];
      for (let attempt = 0; attempt < 5; attempt++) {
        const snmp0 = readCounters('/proc/net/snmp');
        const netstat0 = readCounters('/proc/net/netstat');
        await plugin.poll();
        const snmp1 = readCounters('/proc/net/snmp');
        const netstat1 = readCounters('/proc/net/netstat');
        const families: Array<
          [string, Array<[Map<string, Map<string, number>>, Map<string, Map<string, number>>, string]>]
        > = [
          [
            'networkobservability_tcp_connection_stats',
            [
              [snmp0, snmp1, 'Tcp'],
              [netstat0, netstat1, 'TcpExt'],
              [netstat0, netstat1, 'MPTcpExt'],
            ],
          ],
          [
            'networkobservability_ip_connection_stats',
            [
              [snmp0, snmp1, 'Ip'],
              [netstat0, netstat1, 'IpExt'],
            ],
          ],
          ['networkobservability_udp_connection_stats', [[snmp0, snmp1, 'Udp']]],
        ];
        failures = [];
        for (const [family, sources] of families) {
          const exported = await series(t.metrics, family);
          const expectedNames = new Set<string>();
          for (const [before, after, section] of sources) {
            for (const [name, v0] of before.get(section) ?? []) {
              expectedNames.add(name);
              const v = exported.get(`statistic_name=${name}`);
              if (!inRange(v, v0, after.get(section)?.get(name)))
                failures.push(`${family}{${name}}=${v}, kernel ${v0}..${after.get(section)?.get(name)}`);
            }
          }
          if (family.startsWith('networkobservability_udp')) expectedNames.add('ACTIVE');
          expect(new Set([...exported.keys()].map((k) => k.replace('statistic_name=', '')))).toEqual(
            expectedNames,
          );
        }
        if (failures.length === 0) break;
      }
      expect(failures).toEqual([]);
      // Spot checks that the family split follows the reference.
      const tcp = await series(t.metrics, 'networkobservability_tcp_connection_stats');
      expect(tcp.has('statistic_name=TCPTimeouts')).toBe(true);
      expect(tcp.has('statistic_name=RetransSegs')).toBe(true);
      const ip = await series(t.metrics, 'networkobservability_ip_connection_stats');
      expect(ip.has('statistic_name=InNoECTPkts')).toBe(true);
      expect(ip.has('statistic_name=InReceives')).toBe(true);
    });

    it('counts TCP states, remote addresses and UDP sockets as /proc/net shows them', async () => {
      // State names are pinned by the fixture tests (expected/*.prom); this test checks the counts against the kernel.
      const labels = TCP_STATE_LABELS;
      let mismatch = '';
      for (let attempt = 0; attempt < 5; attempt++) {
        const before = [...socketStates('tcp'), ...socketStates('tcp6')].join(',');
        const udpBefore = socketStates('udp').length + socketStates('udp6').length;
        await plugin.poll();
        const states = [...socketStates('tcp'), ...socketStates('tcp6')];
        const udpAfter = socketStates('udp').length + socketStates('udp6').length;
        // Compare only when no socket changed state while the plugin read.
        if (states.join(',') !== before || udpBefore !== udpAfter) {
          mismatch = 'sockets changed during every attempt';
          continue;
        }
        const expected = new Map<string, number>(
          [...labels.values(), UNKNOWN_TCP_STATE].map((l) => [`state=${l}`, 0]),
        );
        for (const s of states) {
          const k = `state=${labels.get(s) ?? UNKNOWN_TCP_STATE}`;
          expected.set(k, expected.get(k)! + 1);
        }
        expect(await series(t.metrics, 'networkobservability_tcp_state')).toEqual(expected);
        expect(
          (await series(t.metrics, 'networkobservability_udp_connection_stats')).get('statistic_name=ACTIVE'),
        ).toBe(udpAfter);
        mismatch = '';
        break;
      }
      expect(mismatch).toBe('');
      const remote = await series(t.metrics, 'networkobservability_tcp_connection_remote');
      // Our client's connection to the server, and the server's accepted socket pointing back at the client.
      expect(remote.get(`address=127.0.0.1:${port}`)).toBe(1);
      expect(remote.get(`address=127.0.0.1:${client.localPort}`)).toBe(1);
    });

    it('exports the ethtool statistics of a veth exactly as `ethtool -S` shows them', async () => {
      // Traffic from the namespace: ARP for an absent neighbour reaches the host end.
      try {
        run('ip', ['netns', 'exec', ns, 'ping', '-c', '2', '-i', '0.2', '-W', '1', '10.231.77.2']);
      } catch {
        // no answer is expected
      }
      const report = await plugin.poll();
      expect(report.interfaces).toContain(hostEnd);
      expect(report.interfaces).not.toContain('lo');
      const cli = ethtoolS(hostEnd);
      expect([...cli.keys()]).toEqual(
        expect.arrayContaining(['peer_ifindex', 'rx_queue_0_xdp_packets', 'rx_queue_1_xdp_packets']),
      );
      const exported = new Map<string, number>();
      for (const [k, v] of await series(t.metrics, 'networkobservability_interface_stats')) {
        const m = /^interface_name=([^,]+),statistic_name=(.+)$/.exec(k)!;
        if (m[1] === hostEnd) exported.set(m[2]!, v);
      }
      expect(exported).toEqual(cli);
      expect(exported.get('peer_ifindex')).toBeGreaterThan(0);
    });

    it('reads driver statistics directly: unsupported for lo, gone for a missing interface', async () => {
      const reader: EthtoolStatsReader = await openEthtoolStatsReader();
      try {
        expect(reader.read('lo')).toEqual({ kind: 'unsupported' });
        expect(reader.read(`rlu${suffix}x`)).toEqual({ kind: 'gone' });
        const r = reader.read(hostEnd);
        expect(r.kind).toBe('statistics');
        if (r.kind === 'statistics') expect(new Map(r.statistics)).toEqual(ethtoolS(hostEnd));
        expect(() => reader.read('a-name-longer-than-15')).toThrow(/interface names have 1 to 15 bytes/);
      } finally {
        reader.close();
        reader.close();
      }
    });
  },
  {
    bpf: false,
    requires: () => (commandExists('ethtool') ? undefined : 'ethtool not found (apt-get install -y ethtool)'),
  },
);
