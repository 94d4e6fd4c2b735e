/**
 * The `retina-agent` binary with pod-level metrics from the drop, DNS and retransmission plugins, on "pods" made of
 * network namespaces (veth host ends on a bridge without addresses, pods registered in the API server double and
 * owned by Deployments). An accepted MetricsConfiguration selects the drop, DNS and retransmission families with
 * remote context; packetparser runs too, so the forward and flag families it would feed are there to be left out.
 * - pod b drops UDP to one port with an iptables rule: `adv_drop_count` / `adv_drop_bytes` count each datagram
 *   from pod a once, with reason `IPTABLE_RULE_DROP`, direction `INGRESS` and both pods' context;
 * - pod c runs dnsmasq; `dig` from pod a gives exactly one request and one response series per name, with the
 *   query, type, return code, answers and both pods' context;
 * - mid-stream, an iptables rule in b drops a's TCP segments for a moment, so a retransmits (after the loss, in
 *   bursts that reach the agent as one flow for several segments): `adv_tcpretrans_count` equals the increase
 *   of a's own `RetransSegs`;
 * - the families the configuration does not select are absent although packetparser sees the traffic;
 * - on SIGTERM the agent exits 0 and leaves no BPF link or program behind.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  commandExists,
  describeKernel,
  listBpfLinks,
  parseSeries,
  programsStillLoaded,
  select,
  sendUdp,
  waitFor,
  type Netns,
  type Series,
} from '@retina-ts/testkit';
import { eventually } from './helpers.js';
import { NsChild } from './ns-child.js';
import { dig, startDnsmasq } from './dns-server.js';
import { PodCluster, podLevelConfig, podPairContext as between, threePods, type ThreePodSpec } from './pod-cluster.js';
import type { DeploymentPod } from './pod-network.js';
import { bpfHandlesOf } from './series.js';

const DROP_COUNT = 'networkobservability_adv_drop_count';
const DROP_BYTES = 'networkobservability_adv_drop_bytes';
const DNS_REQUESTS = 'networkobservability_adv_dns_request_count';
const DNS_RESPONSES = 'networkobservability_adv_dns_response_count';
const RETRANS = 'networkobservability_adv_tcpretrans_count';

/** UDP port pod b drops with iptables. */
const DROP_PORT = 9921;
/** UDP port nothing listens on in pod b: the kernel drops datagrams to it as NO_SOCKET. */
const CLOSED_PORT = 9920;
const DROPS = 3;
const PAYLOAD = 'dropped-by-b';
/** What `skb->len` is where netfilter drops a datagram: from its IPv4 header (20) on, UDP header (8) included. */
const DROPPED_DATAGRAM_BYTES = 20 + 8 + PAYLOAD.length;
const TCP_PORT = 9922;
/** Data written while a's segments are dropped: several segments, so some are retransmitted in one burst. */
const CHUNK_BYTES = 1000;
const CHUNKS = 6;
const DNS_ANSWER = '10.9.0.7';

const PODS = threePods('10.226.5', { namespace: 'infra', deployment: 'resolver' });

type Pod = DeploymentPod<ThreePodSpec>;

function requirements(): string | undefined {
  for (const cmd of ['dig', 'dnsmasq', 'iptables']) {
    if (!commandExists(cmd)) return `${cmd} not found (apt-get install -y dnsutils dnsmasq iptables)`;
  }
  return undefined;
}

/** TCP server: prints `listening`, then the running byte total it received as `bytes <total>`. */
const SERVER_JS = `
const [host, port] = process.argv.slice(1);
let total = 0;
require('node:net')
  .createServer((c) => { c.on('data', (d) => { total += d.length; console.log('bytes ' + total); }); c.on('error', () => {}); })
  .listen(Number(port), host, () => console.log('listening'));`;

/** TCP client: prints `connected <local port>`; each stdin line `<count> <bytes>` writes count chunks of bytes. */
const CLIENT_JS = `
const [host, port] = process.argv.slice(1);
const s = require('node:net').connect(Number(port), host, () => { s.setNoDelay(true); console.log('connected ' + s.localPort); });
s.on('error', (e) => { console.error(e.message); process.exit(1); });
require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
  const [count, bytes] = l.split(' ').map(Number);
  for (let i = 0; i < count; i++) s.write(Buffer.alloc(bytes, 0x72));
});`;

/** `Tcp: RetransSegs` of a namespace: the segments its sockets retransmitted. */
function retransSegs(ns: Netns): number {
  const rows = ns
    .exec('cat', ['/proc/net/snmp'])
    .stdout.split('\n')
    .filter((l) => l.startsWith('Tcp:'));
  const names = rows[0]?.trim().split(/\s+/) ?? [];
  const value = Number(rows[1]?.trim().split(/\s+/)[names.indexOf('RetransSegs')]);
  if (!Number.isInteger(value)) throw new Error(`no Tcp RetransSegs in /proc/net/snmp of ${ns.name}`);
  return value;
}

/** Bytes sent but not yet acknowledged (tx_queue) of the namespace's IPv4 TCP socket on local `port`. */
function unacked(ns: Netns, port: number): number {
  for (const line of ns.exec('cat', ['/proc/net/tcp']).stdout.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] && Number.parseInt(f[1].split(':')[1] ?? '', 16) === port) {
      return Number.parseInt(f[4]?.split(':')[0] ?? '0', 16);
    }
  }
  throw new Error(`no TCP socket on local port ${port} in ${ns.name}`);
}

describeKernel(
  'retina-agent drop, DNS and retransmission metrics on pods in network namespaces',
  () => {
    let cluster: PodCluster;
    const children: NsChild[] = [];

    const pod = (key: ThreePodSpec['key']): Pod => cluster.pod(key);
    const scrape = () => cluster.scrape();
    /** Labels of a series without the universal ones. */
    const own = (s: Series): Record<string, string> => {
      const { cluster: _c, instance: _i, ...rest } = s.labels;
      return rest;
    };


    /**
     * Sends one datagram from `from` to a closed port of pod b until the agent counts its drop (NO_SOCKET) with
     * both pods' full context: the pods, their owners, the plugins and the flow path are then all in place. The
     * probes have a series of their own, so one still on its way cannot change the counts under test.
     */
    const untilDropCounted = (from: Pod): Promise<boolean> =>
      eventually(async () => {
        sendUdp(from.netns, { address: pod('b').ip, port: CLOSED_PORT });
        return (
          select(await scrape(), DROP_COUNT, { reason: 'NO_SOCKET', ...between(from, pod('b')) }).count > 0
        );
      });

    beforeAll(async () => {
      cluster = await PodCluster.start({
        name: 'pod-metrics',
        metricsConfiguration: {
          metrics: ['drop_count', 'drop_bytes', 'dns_request_count', 'dns_response_count', 'tcp_retransmission_count'],
          include: ['shop', 'infra'],
        },
      });
      await cluster.startAgent(
        podLevelConfig(['dropreason', 'dns', 'tcpretrans', 'packetparser'], {
          // Every drop becomes its own flow (none folded into a later one), so drop counts are exact.
          pluginOptions: ['  dropreason: { eventIntervalMs: 0 }'],
        }),
      );

      cluster.addPods(PODS, 'rtm');
      const b = pod('b');
      b.netns.exec('iptables', ['-A', 'INPUT', '-p', 'udp', '--dport', String(DROP_PORT), '-j', 'DROP']);
      const c = pod('c');
      cluster.stopOnClose(await startDnsmasq(c.netns, c.ip, join(cluster.cwd, 'dnsmasq.pid'), DNS_ANSWER));

      expect(await cluster.untilPluginsRunning()).toEqual(['dns', 'dropreason', 'packetparser', 'tcpretrans']);
      // packetparser holds an ingress and an egress tcx link on every pod veth.
      await cluster.untilAttached();
      await untilDropCounted(c);
      await untilDropCounted(pod('a'));
    }, 60_000);

    afterAll(async () => {
      for (const child of children) await child.close();
      await cluster?.close(); // the namespaces take their iptables rules with them
    });

    it("counts packets dropped by an iptables rule in pod b, with both pods' context and the reason", async () => {
      const a = pod('a');
      const b = pod('b');
      const labels = { reason: 'IPTABLE_RULE_DROP', direction: 'INGRESS', ...between(a, b) };
      expect(select(await scrape(), DROP_COUNT, labels).count).toBe(0);

      sendUdp(a.netns, { address: b.ip, port: DROP_PORT, count: DROPS, payload: PAYLOAD });
      await eventually(async () => select(await scrape(), DROP_COUNT, labels).sum >= DROPS);
      const all = parseSeries(cluster.metricsText);
      expect(select(all, DROP_COUNT, labels)).toEqual({ sum: DROPS, count: 1 });
      expect(select(all, DROP_BYTES, labels)).toEqual({ sum: DROPS * DROPPED_DATAGRAM_BYTES, count: 1 });
      // The readiness probes to a closed port are dropped for another reason, in their own series.
      const probes = { reason: 'NO_SOCKET', direction: 'INGRESS', ...between(a, b) };
      expect(select(all, DROP_COUNT, probes).sum).toBeGreaterThanOrEqual(1);
      expect(select(all, DROP_COUNT, between(a, b)).count).toBe(2);
      const s = all.find((x) => x.name === DROP_COUNT && x.labels['reason'] === 'IPTABLE_RULE_DROP')!;
      expect(Object.keys(own(s))).toEqual(['reason', 'direction', ...Object.keys(between(a, b))]);
    });

    it('counts DNS requests and responses between pods with query, type, return code and answers', async () => {
      const a = pod('a');
      const c = pod('c');
      expect(dig(a.netns, c.ip, 'a.test')).toBe('NOERROR');
      expect(dig(a.netns, c.ip, 'nope.test')).toBe('NXDOMAIN');
      const involving = (all: Series[], p: Pod): Series[] =>
        all.filter(
          (s) =>
            (s.name === DNS_REQUESTS || s.name === DNS_RESPONSES) &&
            (s.labels['source_podname'] === p.name || s.labels['destination_podname'] === p.name),
        );
      await eventually(async () => involving(await scrape(), a).length >= 4);
      const dns = involving(parseSeries(cluster.metricsText), a).map((s) => ({
        name: s.name,
        labels: own(s),
        value: s.value,
      }));
      const request = (query: string) => ({
        name: DNS_REQUESTS,
        labels: { query_type: 'A', query, ...between(a, c) },
        value: 1,
      });
      const response = (query: string, returnCode: string, answers: string[]) => ({
        name: DNS_RESPONSES,
        labels: {
          query_type: 'A',
          query,
          return_code: returnCode,
          response: answers.join(','),
          num_response: String(answers.length),
          ...between(c, a),
        },
        value: 1,
      });
      // Each message once, although it crosses two bridge ports; nothing else involves pod a.
      expect(dns).toEqual(
        expect.arrayContaining([
          request('a.test.'),
          request('nope.test.'),
          response('a.test.', 'NOERROR', [DNS_ANSWER]),
          response('nope.test.', 'NXDOMAIN', []),
        ]),
      );
      expect(dns).toHaveLength(4);
      // Label order as the reference lists it: the fixed labels, then source_*, then destination_*.
      expect(dns.map((s) => Object.keys(s.labels))).toContainEqual([
        'query_type',
        'query',
        'return_code',
        'response',
        'num_response',
        ...Object.keys(between(c, a)),
      ]);
    });

    it('counts the segments pod a retransmits while its segments to pod b are dropped', async () => {
      const a = pod('a');
      const b = pod('b');
      const server = new NsChild(b.netns, process.execPath, ['-e', SERVER_JS, b.ip, String(TCP_PORT)]);
      children.push(server);
      await server.line(/^listening$/, 'the TCP server in pod b to listen');
      const client = new NsChild(a.netns, process.execPath, ['-e', CLIENT_JS, b.ip, String(TCP_PORT)]);
      children.push(client);
      const port = Number(
        (await client.line(/^connected \d+$/, 'the TCP client in pod a to connect')).split(' ')[1],
      );
      // Mid-stream: some data goes through first.
      client.send(`1 ${CHUNK_BYTES}`);
      await server.line(new RegExp(`^bytes ${CHUNK_BYTES}$`), 'the first chunk');

      const before = retransSegs(a.netns);
      const rule = ['INPUT', '-p', 'tcp', '-s', a.ip, '--dport', String(TCP_PORT), '-j', 'DROP'];
      b.netns.exec('iptables', ['-A', ...rule]);
      try {
        client.send(`${CHUNKS} ${CHUNK_BYTES}`);
        await waitFor(() => retransSegs(a.netns) - before >= 2, {
          timeoutMs: 15_000,
          description: '2 retransmissions',
        });
      } finally {
        b.netns.exec('iptables', ['-D', ...rule]);
      }
      const total = (CHUNKS + 1) * CHUNK_BYTES;
      await server.line(new RegExp(`^bytes ${total}$`), `all ${total} bytes at the server`);
      await waitFor(() => unacked(a.netns, port) === 0, {
        timeoutMs: 15_000,
        description: 'every byte acknowledged',
      });
      const retransmitted = retransSegs(a.netns) - before;
      expect(retransmitted).toBeGreaterThanOrEqual(2);

      const labels = between(a, b);
      // Flows reach the agent a moment after the kernel counts (bounded wait; the comparison below is exact).
      await eventually(async () => select(await scrape(), RETRANS, labels).sum >= retransmitted, 50).catch(
        () => undefined,
      );
      const all = parseSeries(cluster.metricsText);
      expect(select(all, RETRANS, labels)).toEqual({ sum: retransmitted, count: 1 });
      // b only acknowledged; it retransmitted nothing.
      expect(select(all, RETRANS, between(b, a)).count).toBe(0);
      const s = all.find((x) => x.name === RETRANS && x.labels['source_podname'] === a.name)!;
      // Retina's label set: the flow's direction (remote context: the enum name), then the context labels.
      expect(Object.keys(own(s))).toEqual(['direction', ...Object.keys(labels)]);
      expect(s.labels['direction']).toBe('EGRESS');
    });

    it('leaves out the families the MetricsConfiguration does not select', async () => {
      const all = await scrape();
      // packetparser saw the pods' packets, but forward and flag counts were not asked for.
      expect(select(all, 'controlplane_networkobservability_parsed_packets_counter', {}).sum).toBeGreaterThan(
        0,
      );
      for (const family of ['adv_forward_count', 'adv_forward_bytes', 'adv_tcpflags_count']) {
        expect(cluster.metricsText).not.toContain(`networkobservability_${family}`);
      }
      for (const family of [DROP_COUNT, DROP_BYTES, DNS_REQUESTS, DNS_RESPONSES, RETRANS]) {
        expect(all.some((s) => s.name === family)).toBe(true);
      }
    });

    it('stops on SIGTERM with exit code 0 and leaves no BPF link or program behind', async () => {
      const { links, programs } = bpfHandlesOf(cluster.agent.child.pid!);
      // tcx links on three veths, the tp_btf links of dropreason and tcpretrans.
      expect(links.length).toBeGreaterThanOrEqual(2 * cluster.pods.size + 2);
      expect(listBpfLinks().map((l) => l.id)).toEqual(expect.arrayContaining(links));
      cluster.agent.child.kill('SIGTERM');
      expect(await cluster.agent.exited).toEqual({ code: 0, signal: null });
      expect(listBpfLinks().filter((l) => links.includes(l.id))).toEqual([]);
      // The kernel frees programs after their last reference goes, a moment after the process.
      await waitFor(() => programsStillLoaded(programs).length === 0, {
        description: "the agent's programs to be unloaded",
      });
    });
  },
  { requires: requirements },
);
