/**
 * Kernel-test environment: a client and a server network namespace joined by a veth pair (IPv4 and IPv6), a TCP
 * server and client run inside them by child node processes, and the means to make the client retransmit: an
 * iptables rule in the client namespace that drops the server's ACKs for a moment.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { Flow, MetricsModule } from '@retina-ts/core';
import { createTestContext, startTestPlugin } from '@retina-ts/core/testing';
import { commandExists, createNetnsPair, waitFor, type Netns } from '@retina-ts/testkit';
import { TcpRetransPlugin } from '../src/plugin.js';
import type { TcpRetransOptions } from '../src/options.js';

export const SERVER_PORT = 5001;

/** Requirements of this suite beyond testkit's basics. */
export function suiteRequirements(): string | undefined {
  if (!commandExists('iptables') || !commandExists('ip6tables')) return 'iptables/ip6tables not found (apt-get install -y iptables)';
  return undefined;
}

/** The two namespaces and their addresses. */
export interface TcpPair {
  client: Netns;
  server: Netns;
  clientIp4: string;
  serverIp4: string;
  clientIp6: string;
  serverIp6: string;
  /** Inode of the client namespace (the plugin's netnsInode option). */
  clientInode: number;
  destroy(): void;
}

/** Creates the namespaces with addresses unique to this run. */
export function createTcpPair(): TcpPair {
  const octet = randomBytes(1)[0]!;
  const hex = octet.toString(16);
  const ips = {
    clientIp4: `10.237.${octet}.1`,
    serverIp4: `10.237.${octet}.2`,
    clientIp6: `fd00:7e:${hex}::1`,
    serverIp6: `fd00:7e:${hex}::2`,
  };
  const { ns: client, peerNs: server, destroy } = createNetnsPair({
    prefix: 'rtstrc',
    peerPrefix: 'rtstrs',
    addresses: { local: [`${ips.clientIp4}/24`, `${ips.clientIp6}/64`], peer: [`${ips.serverIp4}/24`, `${ips.serverIp6}/64`] },
  });
  return { client, server, ...ips, clientInode: client.inode, destroy };
}

/** A child node process in a namespace whose stdout lines are collected. */
export class NsProcess {
  readonly lines: string[] = [];
  readonly #child: ChildProcessWithoutNullStreams;
  #waiters: Array<() => void> = [];
  #stderr = '';

  constructor(ns: Netns, script: string, args: readonly string[]) {
    this.#child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', script, ...args]);
    let buf = '';
    this.#child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buf += chunk;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        this.lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
      for (const w of this.#waiters) w();
    });
    this.#child.stderr.setEncoding('utf8').on('data', (chunk: string) => (this.#stderr += chunk));
  }

  /** Waits until `count` lines match `pattern`, and returns them. */
  async waitLines(pattern: RegExp, count = 1, timeoutMs = 10_000): Promise<string[]> {
    return waitFor(
      () => {
        if (this.#child.exitCode !== null) throw new Error(`child exited with ${this.#child.exitCode}: ${this.#stderr}`);
        const hits = this.lines.filter((l) => pattern.test(l));
        return hits.length >= count ? hits : undefined;
      },
      { timeoutMs, description: `${count} line(s) matching ${pattern}` },
    );
  }

  /** Sends one line to the child's stdin. */
  send(line: string): void {
    this.#child.stdin.write(`${line}\n`);
  }

  /** Ends the child. */
  async close(): Promise<void> {
    if (this.#child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.#child.once('exit', resolve));
    this.#child.stdin.end();
    this.#child.kill();
    await exited;
  }
}

/** TCP server: reports the running byte total of each connection as `bytes <remote port> <total>`. */
const SERVER_SCRIPT = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const srv = net.createServer((c) => {
  let total = 0;
  const p = c.remotePort;
  c.on('data', (d) => { total += d.length; process.stdout.write('bytes ' + p + ' ' + total + '\\n'); });
  c.on('error', () => {});
});
srv.listen({ host, port: Number(port) }, () => process.stdout.write('listening\\n'));
`;

/** TCP client: opens <count> connections (printing `connected <local port>`); `write N` sends N bytes on each. */
const CLIENT_SCRIPT = `
const net = require('node:net');
const [host, port, count] = process.argv.slice(1);
const socks = [];
for (let i = 0; i < Number(count); i++) {
  const s = net.connect({ host, port: Number(port) }, () => {
    s.setNoDelay(true);
    process.stdout.write('connected ' + s.localPort + '\\n');
  });
  s.on('error', (e) => { process.stderr.write(e.message + '\\n'); process.exit(1); });
  socks.push(s);
}
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  for (let i = buf.indexOf('\\n'); i >= 0; i = buf.indexOf('\\n')) {
    const n = Number(buf.slice(0, i).split(' ')[1]);
    buf = buf.slice(i + 1);
    for (const s of socks) s.write(Buffer.alloc(n, 0x63));
  }
});
process.stdin.on('end', () => { for (const s of socks) s.destroy(); process.exit(0); });
`;

/** Starts the server in the server namespace, listening on all addresses (IPv4 and IPv6). */
export async function startServer(pair: TcpPair): Promise<NsProcess> {
  const server = new NsProcess(pair.server, SERVER_SCRIPT, ['::', String(SERVER_PORT)]);
  await server.waitLines(/^listening$/);
  return server;
}

/** Opens `count` connections from the client namespace to `host`; returns the process and its local ports. */
export async function connectClient(pair: TcpPair, host: string, count: number): Promise<{ client: NsProcess; ports: number[] }> {
  const client = new NsProcess(pair.client, CLIENT_SCRIPT, [host, String(SERVER_PORT), String(count)]);
  const lines = await client.waitLines(/^connected \d+$/, count);
  return { client, ports: lines.map((l) => Number(l.split(' ')[1])) };
}

/** The client namespace's `Tcp: RetransSegs` (segments it retransmitted). */
export function retransSegs(ns: Netns): number {
  const rows = ns.exec('cat', ['/proc/net/snmp']).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = rows[0]?.trim().split(/\s+/) ?? [];
  const values = rows[1]?.trim().split(/\s+/) ?? [];
  const v = Number(values[names.indexOf('RetransSegs')]);
  if (!Number.isFinite(v)) throw new Error(`no RetransSegs in /proc/net/snmp of ${ns.name}`);
  return v;
}

/** Send-queue bytes (sent but not acknowledged, or not yet sent) of the namespace's sockets on `ports`. */
export function unackedBytes(ns: Netns, ports: readonly number[]): number {
  let total = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of ns.exec('cat', [file]).stdout.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const local = f[1];
      const queues = f[4];
      if (!local || !queues) continue;
      const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (ports.includes(port)) total += Number.parseInt(queues.split(':')[0] ?? '0', 16);
    }
  }
  return total;
}

/**
 * Makes every connection of `client` retransmit: drops the server's segments in the client namespace until the
 * client has retransmitted at least `minRetransmits` segments, lets them through again, and waits until the
 * server has every byte and the client has nothing left unacknowledged. Returns the RetransSegs increase.
 */
export async function provokeRetransmissions(
  pair: TcpPair,
  conn: { client: NsProcess; ports: number[] },
  server: NsProcess,
  opts: { ipv6: boolean; minRetransmits: number },
): Promise<number> {
  const tables = opts.ipv6 ? 'ip6tables' : 'iptables';
  const rule = ['INPUT', '-p', 'tcp', '--sport', String(SERVER_PORT), '-j', 'DROP'];
  const before = retransSegs(pair.client);
  const bytes = 1000;
  // What the server has from each connection so far: the new bytes come on top.
  const received = (port: number) => {
    const last = server.lines.filter((l) => l.startsWith(`bytes ${port} `)).at(-1);
    return last ? Number(last.split(' ')[2]) : 0;
  };
  const expected = new Map(conn.ports.map((port) => [port, received(port) + bytes]));
  pair.client.exec(tables, ['-A', ...rule]);
  try {
    conn.client.send(`write ${bytes}`);
    await waitFor(() => retransSegs(pair.client) - before >= opts.minRetransmits, {
      timeoutMs: 20_000,
      description: `${opts.minRetransmits} retransmissions`,
    });
  } finally {
    pair.client.exec(tables, ['-D', ...rule]);
  }
  for (const [port, total] of expected) {
    await server.waitLines(new RegExp(`^bytes ${port} ${total}$`), 1, 20_000);
  }
  await waitFor(() => unackedBytes(pair.client, conn.ports) === 0, { timeoutMs: 20_000, description: 'every byte acknowledged' });
  return retransSegs(pair.client) - before;
}

/** A started plugin with what it produced. */
export interface Harness {
  plugin: TcpRetransPlugin;
  metrics: MetricsModule;
  flows: Flow[];
  stop(): Promise<void>;
}

/** Creates, inits and starts a plugin. */
export async function startPlugin(options: TcpRetransOptions, opts: { podLevel?: boolean } = {}): Promise<Harness> {
  const { ctx, metrics, flows } = createTestContext({
    name: 'tcpretrans',
    options,
    // A long interval: the tests call collect() themselves, so what they read never depends on a timer.
    config: { enablePodLevel: opts.podLevel ?? true, metricsIntervalDuration: '1h' },
    logLevel: 'silent',
    nodeName: 'kernel-test-node',
  });
  const plugin = new TcpRetransPlugin();
  const { stop } = await startTestPlugin(plugin, ctx);
  return { plugin, metrics, flows, stop };
}

/** Segments the flows stand for (`extensions.packets`, 1 when unset). */
export function flowSegments(flows: readonly Flow[]): number {
  return flows.reduce((n, f) => n + (f.extensions?.packets ?? 1), 0);
}

/** Value of a label-less counter or of one series of a labelled one (0 when absent). */
export async function metricValue(
  metric: { get(): Promise<{ values: Array<{ labels: Record<string, string | number>; value: number }> }> },
  labels: Record<string, string> = {},
): Promise<number> {
  const { values } = await metric.get();
  return values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0;
}
