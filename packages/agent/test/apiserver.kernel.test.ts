/**
 * The `retina-agent` binary measuring its own API server connection. Two namespaces made here: `node`, where the
 * agent runs and whose default route leaves through a veth, and `apiserver`, at the other end of that veth. The
 * API server double runs in this process on loopback and is reached at `<apiserver ip>:6443` through byte
 * forwarders joined by a unix socket (unix sockets cross network namespaces), so the root namespace gets no
 * address. packetparser attaches to the node's default-route interface and the agent's own list/watch traffic
 * feeds the API server latency, handshake and no-response metrics; forced reconnections and a firewall rule in
 * the apiserver namespace provoke handshakes and unanswered packets.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { request } from 'node:http';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServerDouble, type ApiServerDouble } from '@retina-ts/k8s-apiserver-double';
import {
  createNetns,
  createVethPair,
  describeKernel,
  listBpfLinks,
  parseSeries,
  run,
  select,
  startForwarderIn,
  startLocalForwarder,
  uniqueName,
  type LocalForwarder,
  type Netns,
  type Series,
  type VethPair,
} from '@retina-ts/testkit';
import { type AgentProcess, eventually, spawnClusterAgent, stopAgent, tempDir } from './helpers.js';
import { acceptMetricsConfiguration, createNamespaces } from './pod-network.js';
import { tcxLinksOf } from './series.js';

// Addresses live only inside the two namespaces this file creates.
const NODE_IP = '10.247.66.1';
const APISERVER_IP = '10.247.66.2';
const APISERVER_PORT = 6443;
const NODE = uniqueName('apilat-node-', 40);

const LATENCY = 'networkobservability_adv_node_apiserver_latency';
const HANDSHAKE = 'networkobservability_adv_node_apiserver_tcp_handshake_latency';
const BASIC_HANDSHAKE = 'networkobservability_node_apiserver_handshake_latency_ms';
const NO_RESPONSE = 'networkobservability_adv_node_apiserver_no_response';
/** Upper bound of the last finite bucket of the API server histograms (linear 0.5 … 63.5 ms). */
const LAST_FINITE_BUCKET = '63.5';

/** GET over a unix socket; resolves with the body of a 200 answer. */
function getOverUnixSocket(socketPath: string, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        res.statusCode === 200 ? resolve(body) : reject(new Error(`GET ${path}: HTTP ${String(res.statusCode)}`)),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** The `_count`, `_sum` and bucket counts (by `le`) of a histogram family. */
interface HistogramView {
  count: number;
  sum: number;
  buckets: Map<string, number>;
}

function histogram(series: Series[], family: string): HistogramView {
  const buckets = new Map<string, number>();
  for (const s of series) {
    if (s.name === `${family}_bucket` && s.labels['le'] !== undefined) {
      buckets.set(s.labels['le'], (buckets.get(s.labels['le']) ?? 0) + s.value);
    }
  }
  return {
    count: select(series, `${family}_count`, {}).sum,
    sum: select(series, `${family}_sum`, {}).sum,
    buckets,
  };
}

/** Checks what any exposition of an API server histogram must hold once it has observations. */
function expectWellFormed(h: HistogramView): void {
  expect(h.count).toBeGreaterThan(0);
  // Latencies come from kernel timestamps in nanoseconds: two packets never share one.
  expect(h.sum).toBeGreaterThan(0);
  const les = [...h.buckets.keys()];
  expect(les[0]).toBe('0.5');
  expect(les).toContain(LAST_FINITE_BUCKET);
  expect(h.buckets.get('+Inf')).toBe(h.count);
  const counts = [...h.buckets.values()];
  for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
  // A round trip over a veth between two namespaces: some of them, at least, fit the finite buckets.
  expect(h.buckets.get(LAST_FINITE_BUCKET)).toBeGreaterThan(0);
}

describeKernel('retina-agent measuring its API server connection', () => {
  let api: ApiServerDouble;
  let node: Netns | undefined;
  let apiserverNs: Netns | undefined;
  let veth: VethPair | undefined;
  let local: LocalForwarder | undefined;
  const children: ChildProcess[] = [];
  let agent: AgentProcess | undefined;
  let agentLinks: number[] = [];
  const cwd = tempDir('retina-apiserver-kernel');
  const apiSocket = join(cwd, 'api.sock');
  const metricsSocket = join(cwd, 'metrics.sock');
  let metricsText = '';
  const started = Date.now();

  const scrape = async (): Promise<Series[]> => {
    metricsText = await getOverUnixSocket(metricsSocket, '/metrics');
    return parseSeries(metricsText);
  };
  /** The three API server histograms of the last scrape. */
  const lastHistograms = (): HistogramView[] => {
    const all = parseSeries(metricsText);
    return [LATENCY, HANDSHAKE, BASIC_HANDSHAKE].map((f) => histogram(all, f));
  };
  const noResponse = (series: Series[]): number => select(series, NO_RESPONSE, { no_response: 'no_response' }).sum;
  /** Watches the agent holds once started. */
  let watchCount = 0;

  beforeAll(async () => {
    api = await startApiServerDouble();
    createNamespaces(api, ['default']);
    acceptMetricsConfiguration(api, 'apiserver-latency', {
      metrics: ['node_apiserver_latency', 'node_apiserver_handshake_latency', 'node_apiserver_no_response'],
      include: ['default'],
      sourceLabels: ['ip'],
      destinationLabels: [],
    });

    node = createNetns('rtanode');
    apiserverNs = createNetns('rtaapi');
    veth = createVethPair({
      ns: node,
      peerNs: apiserverNs,
      addresses: { local: `${NODE_IP}/30`, peer: `${APISERVER_IP}/30` },
    });
    // The agent finds its host interface as the one of the default route.
    node.ip(['route', 'add', 'default', 'via', APISERVER_IP, 'dev', veth.name]);

    local = await startLocalForwarder(apiSocket, api.port);
    children.push(await startForwarderIn(apiserverNs, `${APISERVER_IP}:${APISERVER_PORT}`, apiSocket));

    agent = await spawnClusterAgent({
      cwd,
      nodeName: NODE,
      server: `http://${APISERVER_IP}:${APISERVER_PORT}`,
      netns: node.name,
      config: [
        'apiServer: { host: 127.0.0.1, port: 0 }',
        'enabledPlugin: [packetparser]',
        'enablePodLevel: true',
        'enableRetinaEndpoint: false',
      ],
    });
    children.push(await startForwarderIn(node, metricsSocket, `127.0.0.1:${agent.port}`));

    // Attached: an ingress and an egress tcx link on the node's veth end.
    const ifindex = veth.ifindex();
    agentLinks = await eventually(async () => {
      const links = tcxLinksOf(agent!.child.pid!, ifindex);
      return links.length === 2 && links;
    }, 150);
    // Every watch of the agent is open (pods, services, nodes, metricsconfigurations), so later reconnections are
    // all the test's doing.
    await api.waitFor(() => api.openWatches() >= 4, "the agent's four watches", 15_000);
    watchCount = api.openWatches();
    // Readiness: the API server address reaches packetparser's filter shortly after the watchers start. Until it
    // does the agent's packets go unseen, so end the watches (the agent sends new watch requests) until a round
    // trip is measured.
    await eventually(
      async () => {
        api.closeWatches();
        await api.waitFor(() => api.openWatches() >= watchCount, 'the watches to reopen', 15_000);
        return eventually(async () => histogram(await scrape(), LATENCY).count > 0, 10, 100).catch(() => false);
      },
      20,
    );
  }, 60_000);

  afterAll(async () => {
    await stopAgent(agent);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await Promise.all(
      children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)),
    );
    await local?.close();
    veth?.destroy();
    node?.destroy();
    apiserverNs?.destroy();
    await api?.close();
    rmSync(cwd, { recursive: true, force: true });
    console.info(`apiserver.kernel.test: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  it('reaches the API server through the node namespace only, with no address in the root namespace', () => {
    const rootAddrs = JSON.parse(run('ip', ['-j', 'addr', 'show']).stdout) as Array<{
      addr_info: Array<{ local: string }>;
    }>;
    const ours = rootAddrs.flatMap((l) => l.addr_info.map((a) => a.local)).filter((a) => a.startsWith('10.247.66.'));
    expect(ours).toEqual([]);
    // The agent's requests come in through the forwarders.
    expect(local!.accepted()).toBeGreaterThan(0);
    expect(api.requests({ resource: 'metricsconfigurations.retina.sh', verb: 'list' }).length).toBeGreaterThan(0);
  });

  it('measures round trips of its API server traffic, more as the agent sends more requests', async () => {
    const before = histogram(await scrape(), LATENCY);
    expectWellFormed(before);
    // Once its watches are open the agent is silent: ending them makes it send new watch requests.
    expect(api.closeWatches()).toBeGreaterThanOrEqual(watchCount);
    await api.waitFor(() => api.openWatches() >= watchCount, 'the watches to reopen', 15_000);
    await eventually(async () => histogram(await scrape(), LATENCY).count > before.count);
    const [latency] = lastHistograms();
    expectWellFormed(latency!);
    expect(latency!.sum).toBeGreaterThan(before.sum);
  });

  it('counts a TCP handshake for each watch that reconnects', async () => {
    const before = await scrape();
    const [latency0, adv0, basic0] = [LATENCY, HANDSHAKE, BASIC_HANDSHAKE].map((f) => histogram(before, f));
    // Cutting every connection makes each watch reconnect on a connection of its own.
    expect(local!.dropAll()).toBeGreaterThanOrEqual(watchCount);
    await api.waitFor(() => api.openWatches() >= watchCount, 'the watches to reconnect', 15_000);
    await eventually(async () => {
      const all = await scrape();
      const adv = histogram(all, HANDSHAKE).count;
      return (
        adv - adv0!.count >= watchCount &&
        histogram(all, BASIC_HANDSHAKE).count - basic0!.count >= watchCount &&
        // The basic histogram and the advanced one see the same handshakes.
        histogram(all, BASIC_HANDSHAKE).count === adv &&
        histogram(all, LATENCY).count > latency0!.count
      );
    });
    const [latency, adv, basic] = lastHistograms();
    expectWellFormed(adv!);
    expectWellFormed(basic!);
    expectWellFormed(latency!);
  });

  it('counts unanswered packets while the API server drops them, then recovers', async () => {
    const rule = ['INPUT', '-p', 'tcp', '--dport', String(APISERVER_PORT), '-j', 'DROP'];
    const before = await scrape();
    const noResponse0 = noResponse(before);
    apiserverNs!.exec('iptables', ['-I', ...rule]);
    let blocked = true;
    try {
      // Connections cut now must be opened again, and every SYN is dropped.
      local!.dropAll();
      await eventually(async () => noResponse(await scrape()) > noResponse0);
      const [, handshake0] = lastHistograms();
      // Each watch keeps trying to connect (its SYN is sent again after about a second): unanswered packets keep
      // adding up, beyond what the cut connections alone leave unanswered, and no handshake completes.
      await eventually(async () => noResponse(await scrape()) - noResponse0 >= 2 * watchCount);
      expect(histogram(parseSeries(metricsText), HANDSHAKE).count).toBe(handshake0!.count);
      apiserverNs!.exec('iptables', ['-D', ...rule]);
      blocked = false;
    } finally {
      if (blocked) apiserverNs!.exec('iptables', ['-D', ...rule], { allowFailure: true });
    }
    const [latency1, handshake1] = lastHistograms();
    await api.waitFor(() => api.openWatches() >= watchCount, 'the watches to reconnect after the block', 20_000);
    await eventually(async () => {
      const all = await scrape();
      return histogram(all, HANDSHAKE).count > handshake1!.count && histogram(all, LATENCY).count > latency1!.count;
    });
  });

  it('stops on SIGTERM with exit code 0 and leaves no BPF link behind', async () => {
    expect(agentLinks).toHaveLength(2);
    expect(listBpfLinks().map((l) => l.id)).toEqual(expect.arrayContaining(agentLinks));
    agent!.child.kill('SIGTERM');
    expect(await agent!.exited).toEqual({ code: 0, signal: null });
    const left = listBpfLinks().map((l) => l.id);
    expect(left.filter((id) => agentLinks.includes(id))).toEqual([]);
  });
});
