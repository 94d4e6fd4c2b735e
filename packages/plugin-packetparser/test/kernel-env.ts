/**
 * Kernel-test environment: a "node" namespace routing between two "pod" namespaces, each pod joined to the node by
 * a veth pair whose host end lives in the node namespace (as a CNI sets pods up). The plugin attaches its endpoint
 * programs to the two host ends from inside the node namespace. Pods get IPv4 and IPv6 addresses unique to the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { runInNetns } from '@retina-ts/bpf-runtime';
import { createLogger, createMetricsModule, InMemoryIpCache, parseConfig, type Flow, type MetricsModule, type NodeEvents, type PluginContext } from '@retina-ts/core';
import { createNetns, createVethPair, waitFor, type Netns, type VethPair } from '@retina-ts/testkit';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { PacketParserPlugin } from '../src/plugin.js';
import type { PacketParserOptions } from '../src/options.js';

/** One pod: its namespace, addresses and the host end of its veth (in the node namespace). */
export interface Pod {
  ns: Netns;
  ip4: string;
  ip6: string;
  hostIf: string;
}

/** The node namespace with two pods. */
export interface Topology {
  node: Netns;
  a: Pod;
  b: Pod;
  /** The node's address on pod b's link. */
  nodeIpB: string;
  destroy(): void;
}

/** The topology a suite's tests share and the plugin the running test started. */
export interface TopologySuite {
  /** The topology, built before the suite's first test. */
  readonly topo: Topology;
  /** The plugin the running test started; stopped and cleared after each test. */
  harness: Harness | undefined;
  /** A UDP source port this suite has not handed out before. */
  sourcePort(): number;
}

/**
 * Registers the calling suite's hooks: one topology built before its tests and torn down after them (`teardown`
 * first), and the plugin each test started stopped after that test. Source ports start at `firstSourcePort`.
 */
export function topologySuite(firstSourcePort: number, teardown?: () => void): TopologySuite {
  let topo: Topology | undefined;
  let next = firstSourcePort;
  const suite: TopologySuite = {
    get topo(): Topology {
      if (!topo) throw new Error('the topology is built in beforeAll');
      return topo;
    },
    harness: undefined,
    sourcePort: () => next++,
  };
  beforeAll(() => {
    topo = createTopology();
  });
  afterEach(async () => {
    await suite.harness?.stop();
    suite.harness = undefined;
  });
  afterAll(() => {
    teardown?.();
    topo?.destroy();
  });
  return suite;
}

/** Builds the node and its two pods. */
export function createTopology(): Topology {
  const n = randomBytes(1)[0]!;
  const created: Array<{ destroy(): void }> = [];
  try {
    const node = createNetns('rtspp');
    created.push(node);
    node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
    const pod = (i: number): Pod => {
      const ns = createNetns(`rtspp${i}`);
      created.push(ns);
      const veth: VethPair = createVethPair({
        ns: node,
        peerNs: ns,
        addresses: {
          local: [`10.237.${n}.${i * 4 + 1}/30`, `fd00:37:${n.toString(16)}:${i + 1}::1/64`],
          peer: [`10.237.${n}.${i * 4 + 2}/30`, `fd00:37:${n.toString(16)}:${i + 1}::2/64`],
        },
      });
      created.unshift(veth);
      ns.ip(['route', 'add', 'default', 'via', `10.237.${n}.${i * 4 + 1}`]);
      ns.ip(['-6', 'route', 'add', 'default', 'via', `fd00:37:${n.toString(16)}:${i + 1}::1`]);
      return { ns, ip4: `10.237.${n}.${i * 4 + 2}`, ip6: `fd00:37:${n.toString(16)}:${i + 1}::2`, hostIf: veth.name };
    };
    const a = pod(0);
    const b = pod(1);
    return {
      node,
      a,
      b,
      nodeIpB: `10.237.${n}.5`,
      destroy() {
        for (const c of created) c.destroy();
      },
    };
  } catch (err) {
    for (const c of created) c.destroy();
    throw err;
  }
}

/** A started plugin collecting what it emits. */
export interface Harness {
  plugin: PacketParserPlugin;
  metrics: MetricsModule;
  flows: Flow[];
  stop(): Promise<void>;
}

/** Config keys of the agent the tests vary. */
export interface HarnessConfig {
  dataAggregationLevel?: 'low' | 'high';
  bypassLookupIPOfInterest?: boolean;
  conntrackReportInterval?: string;
  enableConntrackMetrics?: boolean;
  dataSamplingRate?: number;
  cpuBudget?: number;
  enableTCX?: 'auto' | 'off';
  /** Node events handed to the plugin as ctx.node. */
  node?: NodeEvents;
}

/** Creates, inits and starts the plugin, then attaches it to both pods' host ends inside the node namespace. */
export async function startPlugin(topo: Topology, options: PacketParserOptions, cfg: HarnessConfig = {}): Promise<Harness> {
  const metrics = createMetricsModule();
  const { node, ...agentConfig } = cfg;
  const { config } = parseConfig({
    enablePodLevel: true,
    enableTCX: 'auto',
    metricsIntervalDuration: '1h',
    packetParserRingBufferSize: 1 << 20,
    ...agentConfig,
  });
  const flows: Flow[] = [];
  const plugin = new PacketParserPlugin();
  const ctx: PluginContext<PacketParserOptions> = {
    name: 'packetparser',
    config,
    options: { hostInterface: false, ...options },
    logger: createLogger({ level: 'silent' }),
    metrics,
    emit: (flow) => {
      flows.push(flow);
      return true;
    },
    ipCache: new InMemoryIpCache(),
    nodeName: 'kernel-test-node',
    ...(node ? { node } : {}),
  };
  try {
    await plugin.init(ctx);
    runInNetns(topo.node.path, () => {
      plugin.attachInterface(topo.a.hostIf, 'endpoint');
      plugin.attachInterface(topo.b.hostIf, 'endpoint');
    });
  } catch (err) {
    await plugin.stop();
    throw err;
  }
  const ac = new AbortController();
  const running = plugin.start(ac.signal);
  return {
    plugin,
    metrics,
    flows,
    async stop() {
      ac.abort();
      await running;
      await plugin.stop();
    },
  };
}

const TCP_SERVER = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const server = net.createServer((sock) => {
  let n = 0;
  sock.on('data', (d) => { n += d.length; });
  sock.on('end', () => { sock.end(String(n)); });
});
server.listen(Number(port), host, () => console.log('ready'));
`;

const TCP_CLIENT = `
const net = require('node:net');
const [host, port, size] = process.argv.slice(1);
const sock = net.connect({ host, port: Number(port) }, () => { sock.end(Buffer.alloc(Number(size), 0x61)); });
let reply = '';
sock.on('data', (d) => { reply += d; });
sock.on('close', () => { process.stdout.write(reply); });
sock.on('error', (e) => { console.error(e.message); process.exit(1); });
`;

/** A TCP server in a namespace that reads everything, answers with the byte count and closes. */
export async function startTcpServer(ns: Netns, host: string, port: number): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', TCP_SERVER, host, String(port)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let ready = false;
  child.stdout.on('data', (d: Buffer) => {
    if (d.toString().includes('ready')) ready = true;
  });
  await waitFor(() => ready || child.exitCode !== null, { description: `TCP server on ${host}:${port}` });
  if (!ready) throw new Error(`TCP server on ${host}:${port} exited with ${child.exitCode}`);
  return child;
}

/** Opens one connection from `ns`, sends `size` bytes, half-closes and returns the server's answer. */
export function tcpExchange(ns: Netns, host: string, port: number, size: number): string {
  return ns.exec(process.execPath, ['-e', TCP_CLIENT, host, String(port), String(size)]).stdout;
}

const UDP_SENDER = `
const dgram = require('node:dgram');
const [address, port, sourcePort, count, size] = process.argv.slice(1);
const sock = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
let left = Number(count);
const next = () => {
  if (left-- === 0) { sock.close(); return; }
  sock.send(Buffer.alloc(Number(size), 0x62), Number(port), address, (err) => { if (err) { console.error(err.message); process.exit(1); } next(); });
};
sock.bind(Number(sourcePort), next);
`;

/** Sends `count` datagrams of `size` bytes from `ns`, all from one fixed source port (one UDP "connection"). */
export function sendUdpFrom(ns: Netns, o: { address: string; port: number; sourcePort: number; count: number; size: number }): void {
  ns.exec(process.execPath, ['-e', UDP_SENDER, o.address, String(o.port), String(o.sourcePort), String(o.count), String(o.size)]);
}
