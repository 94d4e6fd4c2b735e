/**
 * The shipped Grafana dashboards against a real Prometheus scraping a real `retina-agent` with real traffic. The
 * agent runs the Hubble control plane with pod-level metrics in remote context and every Linux plugin (plus
 * hnsstats, which is unsupported here, so a plugin is not running). Pods are network namespaces on a bridge,
 * registered in the API server double; a namespace on the same bridge that is no pod stands for the world.
 * Traffic: TCP between pods and from outside, ICMP, UDP dropped by an iptables rule, DNS (NOERROR and NXDOMAIN)
 * from dnsmasq in a pod, a TCP reset, SYN retransmissions, and loopback attempts to closed ports in the node
 * namespace. Prometheus (1 s scrapes, loopback, temporary storage) also loads the alert rules. Every panel query,
 * variables substituted, must return data above 0, except the panels listed in `NOT_FED` and `MAY_BE_ZERO`.
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ADVANCED_FLOW_FAMILIES } from '@retina-ts/core';
import {
  commandExists,
  describeKernel,
  ping,
  run,
  sendUdp,
  uniqueName,
  type Netns,
  type PodNetwork,
} from '@retina-ts/testkit';
import { eventually } from './helpers.js';
import { NsChild } from './ns-child.js';
import { dig, startDnsmasq } from './dns-server.js';
import { PodCluster, podLevelConfig, threePods } from './pod-cluster.js';
import { deploymentPodName } from './pod-network.js';
import { MAY_BE_ZERO, NOT_FED, panelKey, panelQueries, RULES_FILE, substitute } from './dashboards.js';

const CLUSTER = uniqueName('dash-cluster-', 40);
/** A window covering the whole test, for `$__rate_interval` and `$__range`. */
const WINDOW = '5m';

const TCP_PORT = 8080;
const DROP_PORT = 9921;
const CLOSED_TCP_PORT = 9930;
const RETRANS_PORT = 9931;
const DNS_ANSWER = '10.9.0.7';

const PLUGINS = ['dropreason', 'packetforward', 'linuxutil', 'dns', 'tcpretrans', 'packetparser', 'hnsstats'];
const PODS = threePods('10.229.8', { namespace: 'infra', deployment: 'resolver' });
/** A host on the pods' network that is no pod. */
const OUTSIDE_IP = '10.229.8.50';

function requirements(): string | undefined {
  for (const cmd of ['prometheus', 'dig', 'dnsmasq', 'iptables']) {
    if (!commandExists(cmd)) return `${cmd} not found (tools/system-deps installs it)`;
  }
  return undefined;
}

/** TCP server: accepts connections, reads and closes them. */
const SERVER_JS = `
const [host, port] = process.argv.slice(1);
require('node:net').createServer((c) => { c.on('data', () => {}); c.on('end', () => c.end()); c.on('error', () => {}); })
  .listen(Number(port), host, () => console.log('listening'));`;

/**
 * TCP client: connects, writes `bytes`, closes and exits 0; exits 1 on a reset or error, 2 when the connection is
 * still pending after `giveUpMs`.
 */
const CLIENT_JS = `
const [host, port, bytes, giveUpMs] = process.argv.slice(1);
setTimeout(() => process.exit(2), Number(giveUpMs)).unref();
const s = require('node:net').connect(Number(port), host, () => s.end(Buffer.alloc(Number(bytes), 0x64)));
s.on('close', (hadError) => process.exit(hadError ? 1 : 0));
s.on('error', () => {});`;

/** Runs the TCP client in `ns` (undefined: the node namespace) and returns its exit code. */
function tcpClient(
  ns: Netns | undefined,
  host: string,
  port: number,
  bytes: number,
  giveUpMs = 5000,
): number {
  const r = run(process.execPath, ['-e', CLIENT_JS, host, String(port), String(bytes), String(giveUpMs)], {
    ...(ns ? { netns: ns.name } : {}),
    allowFailure: true,
    timeoutMs: giveUpMs + 5000,
  });
  return r.status;
}

/** A free TCP port on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface QueryResult {
  metric: Record<string, string>;
  value: [number, string];
}

describeKernel(
  'the Grafana dashboards on a real Prometheus scraping a real agent',
  () => {
    let cluster: PodCluster;
    let outside: PodNetwork | undefined;
    let prometheusLog = '';
    let promUrl = '';
    let udpSocket: Socket | undefined;
    const pod = (key: 'a' | 'b' | 'c') => cluster.pod(key);

    const query = async (expr: string): Promise<QueryResult[]> => {
      const res = await fetch(`${promUrl}/api/v1/query?${new URLSearchParams({ query: expr })}`);
      const body = (await res.json()) as { status: string; error?: string; data?: { result: QueryResult[] } };
      if (body.status !== 'success')
        throw new Error(`Prometheus refused ${expr}: ${body.error ?? res.status}`);
      return body.data!.result;
    };

    /** One round of every kind of traffic the dashboards show. */
    const traffic = (): void => {
      const a = pod('a');
      const b = pod('b');
      const c = pod('c');
      expect(tcpClient(a.netns, b.ip, TCP_PORT, 3000)).toBe(0);
      expect(tcpClient(outside!.netns, b.ip, TCP_PORT, 2000)).toBe(0);
      ping(a.netns, b.ip, { count: 2, interval: 0.2 });
      sendUdp(a.netns, { address: b.ip, port: DROP_PORT, count: 3, payload: 'dropped' });
      sendUdp(outside!.netns, { address: a.ip, port: DROP_PORT, count: 2, payload: 'to-a' });
      expect(dig(a.netns, c.ip, 'a.test')).toBe('NOERROR');
      expect(dig(a.netns, c.ip, 'nope.test')).toBe('NXDOMAIN');
      // Refused: b answers the SYN with a RST.
      expect(tcpClient(a.netns, b.ip, CLOSED_TCP_PORT, 10)).toBe(1);
      // b drops the SYNs: a retransmits its SYN after 1 s and gives up a moment later.
      expect(tcpClient(a.netns, b.ip, RETRANS_PORT, 10, 1500)).toBe(2);
      // The node namespace, on loopback: a refused connection (RST, failed attempt) and a datagram to no socket.
      expect(tcpClient(undefined, '127.0.0.1', CLOSED_TCP_PORT, 10)).toBe(1);
      sendUdp(undefined, { address: '127.0.0.1', port: CLOSED_TCP_PORT, count: 1 });
    };

    beforeAll(async () => {
      cluster = await PodCluster.start({
        name: 'dashboards',
        // Every flow-driven advanced family the agent produces.
        metricsConfiguration: { metrics: Object.keys(ADVANCED_FLOW_FAMILIES), include: ['shop', 'infra'] },
      });
      const { cwd } = cluster;

      cluster.addPods(PODS, 'rdb');
      outside = cluster.bridge.addPod('rdbx', `${OUTSIDE_IP}/24`);
      const b = pod('b');
      b.netns.exec('iptables', ['-A', 'INPUT', '-p', 'udp', '--dport', String(DROP_PORT), '-j', 'DROP']);
      b.netns.exec('iptables', ['-A', 'INPUT', '-p', 'tcp', '--dport', String(RETRANS_PORT), '-j', 'DROP']);
      const server = new NsChild(b.netns, process.execPath, ['-e', SERVER_JS, b.ip, String(TCP_PORT)]);
      cluster.stopOnClose(server.child);
      await server.line(/^listening$/, 'the TCP server in pod b to listen');
      const c = pod('c');
      cluster.stopOnClose(await startDnsmasq(c.netns, c.ip, join(cwd, 'dnsmasq.pid'), DNS_ANSWER));

      const socket = join(cwd, 'hubble.sock');
      const ctx = 'sourceEgressContext=pod;destinationIngressContext=pod';
      const agent = await cluster.startAgent(
        podLevelConfig(PLUGINS, {
          settings: [
            `clusterName: ${CLUSTER}`,
            'controlPlane: hubble',
            'metricsIntervalDuration: 1s',
            `hubble-socket-path: ${socket}`,
            'hubble-listen-address: "127.0.0.1:0"',
            'hubble-metrics-server: "127.0.0.1:0"',
            `hubble-metrics: "flow:${ctx} drop:${ctx} tcp:${ctx} dns:query;${ctx} port-distribution icmp"`,
          ],
          pluginOptions: [
            `  packetforward: { interfaces: [${pod('a').veth.name}] }`,
            '  dropreason: { eventIntervalMs: 0 }',
          ],
        }),
      );
      const hubbleMetricsPort = await eventually(async () => {
        const rec = agent.logs.find((l) => l['msg'] === 'serving the Hubble API');
        return rec ? Number(rec['metricsPort']) : undefined;
      });
      await cluster.untilPluginsRunning(['hnsstats']);
      // packetparser holds an ingress and an egress tcx link on every pod veth (packetforward adds its own on a's).
      await cluster.untilAttached({ atLeast: true });

      // An open UDP socket in the node namespace, for linuxutil's ACTIVE count.
      udpSocket = createSocket('udp4');
      await new Promise<void>((resolve) => udpSocket!.bind(0, '127.0.0.1', resolve));
      const port = await freePort();
      promUrl = `http://127.0.0.1:${port}`;
      const config = join(cwd, 'prometheus.yml');
      writeFileSync(
        config,
        JSON.stringify({
          global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
          rule_files: [RULES_FILE],
          scrape_configs: [
            // The agent labels its series with cluster and instance (the node) itself.
            {
              job_name: 'retina-ts',
              honor_labels: true,
              static_configs: [{ targets: [`127.0.0.1:${agent.port}`] }],
            },
            // Hubble's metrics carry no node labels: the scrape adds them, as a PodMonitor's relabelling would.
            {
              job_name: 'hubble',
              static_configs: [
                { targets: [`127.0.0.1:${hubbleMetricsPort}`], labels: { cluster: CLUSTER, instance: cluster.nodeName } },
              ],
            },
          ],
        }),
      );
      const prometheus = cluster.stopOnClose(spawn(
        'prometheus',
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(cwd, 'tsdb')}`,
          `--web.listen-address=127.0.0.1:${port}`,
          '--log.level=warn',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      ));
      prometheus.stderr!.on('data', (d: Buffer) => (prometheusLog += d.toString()));
      await eventually(async () => {
        if (prometheus.exitCode !== null) throw new Error(`prometheus exited: ${prometheusLog}`);
        return (await fetch(`${promUrl}/-/ready`)).ok;
      });

      // Two rounds: Prometheus' rate() sees only increases after a series' first sample, and most series are
      // created by the first round's packets.
      traffic();
      // Wait until Prometheus holds a first sample of the series the slowest paths create (advanced metrics and
      // the Hubble handlers), so the second round shows up as an increase.
      const firstSamples = [
        'count(networkobservability_adv_dns_response_count)',
        'count(hubble_tcp_flags_total{flag="FIN"})',
        'count(hubble_icmp_total)',
      ];
      await eventually(async () => {
        for (const expr of firstSamples) if ((await query(expr)).length === 0) return false;
        return true;
      });
      traffic();
    }, 90_000);

    afterAll(async () => {
      udpSocket?.close();
      await cluster?.close();
      // Prometheus' storage is the bulk of it.
      if (cluster) run('rm', ['-rf', cluster.cwd], { allowFailure: true });
    });

    it('every panel the traffic feeds shows data (above 0 unless listed), and every query is valid', async () => {
      const queries = panelQueries();
      expect(queries.length).toBeGreaterThan(50);
      const vars = { cluster: CLUSTER, instance: cluster.nodeName, namespace: '.*', window: WINDOW };
      // A panel is fed when its queries together return a value (above 0 unless it may be 0).
      const missing = async (): Promise<string[]> => {
        const values = new Map<string, { values: number[]; exprs: string[] }>();
        for (const q of queries) {
          const expr = substitute(q.expr, vars);
          const result = await query(expr); // throws for invalid PromQL
          const p = values.get(panelKey(q)) ?? { values: [], exprs: [] };
          p.values.push(...result.map((r) => Number(r.value[1])).filter((v) => !Number.isNaN(v)));
          p.exprs.push(expr);
          values.set(panelKey(q), p);
        }
        const out: string[] = [];
        for (const [key, p] of values) {
          if (key in NOT_FED) continue;
          if (p.values.length === 0) out.push(`${key} returned nothing: ${p.exprs.join(' ; ')}`);
          else if (!(key in MAY_BE_ZERO) && !p.values.some((v) => v > 0))
            out.push(`${key} returned only 0: ${p.exprs.join(' ; ')}`);
        }
        return out;
      };
      // Samples reach Prometheus a scrape or two after the traffic (bounded wait; the list below must be empty). On a
      // machine short of CPU a round's one ICMP drop or FIN can reach the counters only after Prometheus' last
      // scrape of the wait, or be rate-limited by the kernel; a panel still empty gets up to two more rounds.
      let last: string[] = [];
      for (let round = 0; round < 3; round++) {
        if (round > 0) traffic();
        await eventually(async () => (last = await missing()).length === 0, 20, 500).catch(() => undefined);
        if (last.length === 0) break;
      }
      expect(last).toEqual([]);
    }, 90_000);

    it('shows the pods, reasons and return codes the traffic made, under the variables', async () => {
      const vars = { cluster: CLUSTER, instance: cluster.nodeName, namespace: 'shop', window: WINDOW };
      const of = (uid: string, panel: string) => {
        const q = panelQueries().find((x) => x.uid === uid && x.panel === panel);
        if (!q) throw new Error(`no panel "${panel}" in ${uid}`);
        return query(substitute(q.expr, vars));
      };
      const a = pod('a');
      const b = pod('b');
      const podA = `shop/${deploymentPodName(a)}`;
      const podB = `shop/${deploymentPodName(b)}`;
      const labels = (rs: QueryResult[], key: string) => rs.map((r) => r.metric[key]).sort();
      expect(labels(await of('retina-ts-pods', 'Outgoing packets by pod'), 'pod')).toEqual(
        expect.arrayContaining([podA, podB]),
      );
      expect(
        labels(await of('retina-ts-pods', 'Packets from outside the pods, by source IP'), 'source_ip'),
      ).toContain(OUTSIDE_IP);
      expect(
        labels(await of('retina-ts-pods', 'Dropped packets by destination pod and reason'), 'reason'),
      ).toContain('IPTABLE_RULE_DROP');
      expect(labels(await of('retina-ts-clusters', 'Dropped packets by reason'), 'reason')).toContain(
        'IPTABLE_RULE_DROP',
      );
      expect(labels(await of('retina-ts-dns', 'DNS responses by return code'), 'return_code')).toEqual(
        expect.arrayContaining(['NOERROR', 'NXDOMAIN']),
      );
      expect(labels(await of('retina-ts-hubble', 'DNS responses by return code'), 'rcode')).toEqual(
        expect.arrayContaining(['No Error', 'Non-Existent Domain']),
      );
      const plugins = await of('retina-ts-clusters', 'Plugin status');
      expect(plugins.find((r) => r.metric['plugin'] === 'hnsstats')?.metric['state']).toBe('unsupported');
      expect(plugins.find((r) => r.metric['plugin'] === 'dns')?.metric['state']).toBe('running');
    });

    it('loads the alert rules into Prometheus and evaluates them without errors', async () => {
      const rules = await eventually(async () => {
        const body = (await (await fetch(`${promUrl}/api/v1/rules`)).json()) as {
          data: {
            groups: {
              rules: {
                name: string;
                health: string;
                lastError?: string;
                labels?: Record<string, string>;
                annotations?: Record<string, string>;
              }[];
            }[];
          };
        };
        const all = body.data.groups.flatMap((g) => g.rules);
        return all.length > 0 && all.every((r) => r.health !== 'unknown') ? all : undefined;
      });
      expect(rules.filter((r) => r.health !== 'ok')).toEqual([]);
      for (const r of rules) {
        expect(['critical', 'warning', 'info'], r.name).toContain(r.labels?.['severity']);
        expect(r.annotations?.['summary'], r.name).toBeTruthy();
        expect(r.annotations?.['description'], r.name).toBeTruthy();
      }
      expect(rules.map((r) => r.name)).toEqual(
        expect.arrayContaining([
          'RetinaAgentDown',
          'RetinaPluginFailed',
          'RetinaLostEvents',
          'RetinaDropSpike',
          'RetinaDNSErrors',
        ]),
      );
    });
  },
  { requires: requirements },
);
