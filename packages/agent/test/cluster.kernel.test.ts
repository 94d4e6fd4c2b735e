/**
 * The `retina-agent` binary on a small cluster made of network namespaces: each "pod" is a namespace whose veth's
 * host end sits in the root namespace on a bridge without addresses, and is registered in the API server double
 * (owned by a Deployment through a ReplicaSet). The pod interface watcher reports the veths, packetparser attaches
 * to them, and real TCP and UDP traffic between the pods shows up in the advanced metrics with pod context. A pod
 * deleted mid-test is detached and its series expire after the MetricsConfiguration's ttl.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import {
  describeKernel,
  listBpfLinks,
  parseSeries,
  podSeriesCount,
  run,
  select,
  sendUdp,
  startTcpServer,
  tcpConnections,
} from '@retina-ts/testkit';
import { eventually, stopChild } from './helpers.js';
import { PodCluster, podLevelConfig, podPairContext, threePods } from './pod-cluster.js';
import { tcxLinksOf } from './series.js';

const TTL = '2s';
const TCP_PORT = 8080;
const TCP_CONNECTIONS = 3;
const UDP_DATAGRAMS = 5;

const PODS = threePods('10.238.7', { namespace: 'data', deployment: 'db' });

describeKernel('retina-agent on pods in network namespaces', () => {
  let cluster: PodCluster;
  let server: ChildProcess | undefined;

  const pod = (key: 'a' | 'b' | 'c') => cluster.pod(key);
  const scrape = () => cluster.scrape();

  beforeAll(async () => {
    cluster = await PodCluster.start({
      name: 'cluster',
      metricsConfiguration: {
        metrics: ['forward_count', 'forward_bytes', 'tcp_flag_gauges'],
        include: ['shop', 'data'],
        ttl: TTL,
      },
    });
    await cluster.startAgent(podLevelConfig(['packetparser']));
    // Pods appear while the agent runs, so the watcher's netlink path attaches them.
    cluster.addPods(PODS, 'rtp');
    // Attached: the agent holds an ingress and an egress tcx link on every pod veth.
    await cluster.untilAttached();
    server = await startTcpServer(pod('b').netns, { address: pod('b').ip, port: TCP_PORT });
  }, 60_000);

  afterAll(async () => {
    await stopChild(server);
    await cluster?.close();
  });

  it('keeps the bridge and the root namespace free of addresses', () => {
    const [br] = JSON.parse(run('ip', ['-j', 'addr', 'show', 'dev', cluster.bridge.name]).stdout) as Array<{ addr_info: unknown[] }>;
    expect(br!.addr_info).toEqual([]);
    // The host end of each pod's veth, in the root namespace on the bridge.
    for (const p of cluster.pods.values()) {
      const [l] = JSON.parse(run('ip', ['-j', 'addr', 'show', 'dev', p.veth.name]).stdout) as Array<{ addr_info: unknown[] }>;
      expect(l!.addr_info).toEqual([]);
    }
  });

  it('counts UDP packets between pods with both pods\' context', async () => {
    const a = pod('a');
    const c = pod('c');
    // Readiness: the pods' IPs of interest reach the kernel shortly after the pod events; probe the other way
    // round (a series of its own) until the agent reports it.
    await eventually(async () => {
      sendUdp(c.netns, { address: a.ip, port: 7777 });
      const back = podPairContext(c, a);
      return select(await scrape(), 'networkobservability_adv_forward_count', back).count > 0;
    });
    sendUdp(a.netns, { address: c.ip, port: 9999, count: UDP_DATAGRAMS });
    // Each datagram is seen twice: leaving pod a (its veth's ingress) and entering pod c (its veth's egress).
    const labels = { direction: 'EGRESS', ...podPairContext(a, c) };
    await eventually(async () => {
      const s = select(await scrape(), 'networkobservability_adv_forward_count', labels);
      return s.count === 1 && s.sum >= 2 * UDP_DATAGRAMS;
    });
    expect(select(parseSeries(cluster.metricsText), 'networkobservability_adv_forward_count', labels)).toEqual({
      sum: 2 * UDP_DATAGRAMS,
      count: 1,
    });
    // Bytes as the TC hooks see each frame: Ethernet, IPv4 and UDP headers plus sendUdp's default payload.
    expect(select(parseSeries(cluster.metricsText), 'networkobservability_adv_forward_bytes', labels)).toEqual({
      sum: 2 * UDP_DATAGRAMS * (14 + 20 + 8 + 'retina-test'.length),
      count: 1,
    });
  });

  it('counts TCP connections as SYN flags and their packets both ways', async () => {
    const a = pod('a');
    const b = pod('b');
    tcpConnections(a.netns, { address: b.ip, port: TCP_PORT, count: TCP_CONNECTIONS });
    const syn = { flag: 'SYN', ...podPairContext(a, b) };
    const synAck = { flag: 'SYNACK', ...podPairContext(b, a) };
    await eventually(async () => {
      const all = await scrape();
      return (
        select(all, 'networkobservability_adv_tcpflags_count', syn).sum >= 2 * TCP_CONNECTIONS &&
        select(all, 'networkobservability_adv_tcpflags_count', synAck).sum >= 2 * TCP_CONNECTIONS
      );
    });
    const all = parseSeries(cluster.metricsText);
    // One SYN per connection, seen at both veths.
    expect(select(all, 'networkobservability_adv_tcpflags_count', syn)).toEqual({ sum: 2 * TCP_CONNECTIONS, count: 1 });
    expect(select(all, 'networkobservability_adv_tcpflags_count', synAck)).toEqual({
      sum: 2 * TCP_CONNECTIONS,
      count: 1,
    });
    // The answers travel b → a in the connection's direction (opened by a: EGRESS).
    expect(
      select(all, 'networkobservability_adv_forward_count', { direction: 'EGRESS', ...podPairContext(b, a) }).sum,
    ).toBeGreaterThanOrEqual(2 * TCP_CONNECTIONS);
  });

  it('detaches a deleted pod and expires its series after the ttl', async () => {
    const c = pod('c');
    const a = pod('a');
    const b = pod('b');
    const ifindex = c.veth.ifindex();
    const links = tcxLinksOf(cluster.agent.child.pid!, ifindex);
    expect(links).toHaveLength(2);
    expect(listBpfLinks().map((l) => l.id)).toEqual(expect.arrayContaining(links));
    expect(select(await scrape(), 'networkobservability_adv_forward_count', { destination_podname: c.name }).count).toBe(1);

    c.netns.destroy(); // takes the veth pair with it
    cluster.api.delete('pods', c.namespace, c.name);

    // The agent closes its links of the vanished interface: gone from the process and from the kernel.
    await eventually(async () => tcxLinksOf(cluster.agent.child.pid!, ifindex).length === 0);
    await eventually(async () => !listBpfLinks().some((l) => links.includes(l.id)));

    // Traffic between the remaining pods keeps their series fresh while pod c's age out.
    await eventually(
      async () => {
        sendUdp(a.netns, { address: b.ip, port: 9999, count: 1 });
        return podSeriesCount(await scrape(), 'networkobservability_adv_forward_count', c.name) === 0;
      },
      60,
      250,
    );
    const all = parseSeries(cluster.metricsText);
    expect(
      select(all, 'networkobservability_adv_forward_count', podPairContext(a, b)).count,
    ).toBeGreaterThan(0);
    expect(
      select(all, 'controlplane_networkobservability_expired_metrics_counter', { metric: 'forward_count' }).sum,
    ).toBeGreaterThan(0);
  });
});
