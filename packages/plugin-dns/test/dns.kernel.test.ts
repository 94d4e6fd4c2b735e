/**
 * The dns plugin on real traffic. Three network namespaces: `node` (observed by the plugin, like a Kubernetes
 * node's host namespace), `cli` (a client pod) and `srv` (a DNS server pod running dnsmasq). cli and srv are routed
 * through node over veth pairs; srv also sits on a bridge in node, so queries from node itself cross a bridge and
 * its port (the same packet is seen twice and must be counted once). Queries are made with dig; every assertion is
 * an exact metric value, since nothing else sends DNS in these namespaces.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { probes } from '@retina-ts/bpf-runtime';
import type { Flow, MetricsModule } from '@retina-ts/core';
import {
  commandExists,
  createNetns,
  createVethPair,
  describeKernel,
  listBpfPrograms,
  run,
  uniqueName,
  waitFor,
  type Netns,
} from '@retina-ts/testkit';
import { DNS_PROGRAM, DnsPlugin } from '../src/plugin.js';
import {
  LATENCY,
  LOST,
  PARSE_ERRORS,
  REQUESTS,
  RESPONSES,
  histogramCount,
  requestCount,
  responseCount,
  series,
  testContext,
  value,
} from './helpers.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));

// Addresses live only inside the namespaces this file creates.
const NET = {
  cli: { v4: '10.241.1.2', v6: 'fd00:241:1::2', gw4: '10.241.1.1', gw6: 'fd00:241:1::1' },
  srv: { v4: '10.241.2.53', v6: 'fd00:241:2::53', gw4: '10.241.2.1', gw6: 'fd00:241:2::1' },
  bridge: { node: '10.241.3.1', srv: '10.241.3.53' },
};

const HOSTS = `10.9.0.1 a.test
fd00:99::1 a.test
10.9.0.2 tcp.test
10.9.0.11 multi.test
10.9.0.12 multi.test
10.9.0.13 multi.test
fd00:99::6 v6.test
10.9.0.3 br.test
`;

const TTL = 300;

function dnsRequirements(): string | undefined {
  for (const cmd of ['dig', 'dnsmasq']) {
    if (!commandExists(cmd)) return `${cmd} not found (apt-get install -y dnsutils dnsmasq)`;
  }
  if (!probes.programTypeSupported('socket_filter'))
    return probes.explainUnsupported({ programType: 'socket_filter' });
  if (!probes.mapTypeSupported('ringbuf')) return probes.explainUnsupported({ mapType: 'ringbuf' });
  return undefined;
}

/**
 * Starts `command` in a namespace (or this one) and resolves once `ready()` holds for its output (or rejects if it
 * exits).
 */
function startDaemon(
  ns: Netns | undefined,
  command: string,
  args: string[],
  ready: (out: string) => boolean,
): Promise<ChildProcess> {
  const [file, argv] = ns ? ['ip', ['netns', 'exec', ns.name, command, ...args]] : [command, args];
  const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (ready(out)) resolve(child);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`${command} exited with ${code} before it was ready: ${out.trim()}`)),
    );
  });
}

/** dnsmasq in the foreground on `port` of the `listen` addresses, answering for `.test` from `<dir>/hosts`. */
function startDnsmasq(
  ns: Netns | undefined,
  dir: string,
  listen: string[],
  port: number,
  extra: string[] = [],
): Promise<ChildProcess> {
  const args = [
    '--keep-in-foreground',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--bind-interfaces',
    ...listen.map((a) => `--listen-address=${a}`),
    `--port=${port}`,
    `--pid-file=${path.join(dir, 'dnsmasq.pid')}`,
    `--addn-hosts=${path.join(dir, 'hosts')}`,
    '--local=/test/',
    '--user=root',
    '--log-facility=-',
    ...extra,
  ];
  return startDaemon(ns, 'dnsmasq', args, (o) => o.includes('started'));
}

/** A started DnsPlugin with emitFlows on; stop() aborts and stops it and waits for start() to return. */
async function startPlugin(options: Record<string, unknown>): Promise<{
  plugin: DnsPlugin;
  metrics: MetricsModule;
  flows: Flow[];
  stop(): Promise<void>;
}> {
  const t = testContext({ ...options, emitFlows: true });
  const plugin = new DnsPlugin();
  await plugin.init(t.ctx);
  const abort = new AbortController();
  const started = plugin.start(abort.signal);
  const stop = async (): Promise<void> => {
    abort.abort();
    await plugin.stop();
    await started;
  };
  return { plugin, metrics: t.metrics, flows: t.flows, stop };
}

function stopDaemon(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Runs dig in `ns` and returns its status line and answer section. */
function dig(
  ns: Netns,
  server: string,
  name: string,
  type: string,
  extra: string[] = [],
): { status: string; answers: string[] } {
  const out = ns.exec('dig', [`@${server}`, name, type, '+time=3', '+tries=1', '+nocookie', ...extra], {
    allowFailure: true,
  });
  const status = /status: ([A-Z]+)/.exec(out.stdout)?.[1];
  if (!status)
    throw new Error(
      `dig @${server} ${name} ${type} ${extra.join(' ')} got no answer: ${out.stdout}${out.stderr}`,
    );
  const answers = out.stdout
    .split('\n')
    .filter((l) => l && !l.startsWith(';') && /\sIN\s/.test(l))
    .map((l) => l.trim().split(/\s+/).pop() as string);
  return { status, answers };
}

describeKernel(
  'dns plugin on real DNS traffic (dnsmasq and dig across network namespaces)',
  () => {
    let node: Netns;
    let cli: Netns;
    let srv: Netns;
    let tmp: string;
    let dnsmasq: ChildProcess | undefined;
    let servfail: ChildProcess | undefined;
    let plugin: DnsPlugin;
    let metrics: MetricsModule;
    let flows: Flow[];
    let stop: (() => Promise<void>) | undefined;
    let programId = 0;
    const cleanups: Array<() => void> = [];

    /** Waits until the plugin has counted `requests` requests and `responses` responses in total. */
    async function counted(requests: number, responses: number): Promise<void> {
      await waitFor(
        () => {
          const s = plugin.stats().processor;
          return s.requests >= requests && s.responses >= responses;
        },
        { timeoutMs: 5000, description: `${requests} requests and ${responses} responses counted` },
      );
      const s = plugin.stats().processor;
      expect([s.requests, s.responses]).toEqual([requests, responses]);
    }

    beforeAll(async () => {
      node = createNetns('rdn');
      cleanups.push(() => node.destroy());
      cli = createNetns('rdc');
      cleanups.push(() => cli.destroy());
      srv = createNetns('rds');
      cleanups.push(() => srv.destroy());
      node.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
      // cli and srv: each routed through node over its own veth pair.
      for (const [pod, net] of [
        [cli, NET.cli],
        [srv, NET.srv],
      ] as const) {
        createVethPair({
          ns: node,
          peerNs: pod,
          addresses: { local: [`${net.gw4}/24`, `${net.gw6}/64`], peer: [`${net.v4}/24`, `${net.v6}/64`] },
        });
        pod.ip(['route', 'add', 'default', 'via', net.gw4]);
        pod.ip(['-6', 'route', 'add', 'default', 'via', net.gw6]);
      }
      // The bridge: node's address on br0, srv on a port of it.
      const br = uniqueName('rdb', 15);
      node.ip(['link', 'add', br, 'type', 'bridge']);
      node.ip(['addr', 'add', `${NET.bridge.node}/24`, 'dev', br]);
      node.ip(['link', 'set', br, 'up']);
      const port = createVethPair({ ns: node, peerNs: srv, addresses: { peer: `${NET.bridge.srv}/24` } });
      node.ip(['link', 'set', port.name, 'master', br]);

      tmp = mkdtempSync(path.join(tmpdir(), 'retina-dns-'));
      cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
      writeFileSync(path.join(tmp, 'hosts'), HOSTS);
      servfail = await startDaemon(
        srv,
        process.execPath,
        [path.join(FIXTURES, 'servfail-server.mjs'), '5399', '127.0.0.1'],
        (o) => o.includes('ready'),
      );
      dnsmasq = await startDnsmasq(srv, tmp, [NET.srv.v4, NET.srv.v6, NET.bridge.srv], 53, [
        `--local-ttl=${TTL}`,
        '--server=/fail.test/127.0.0.1#5399',
        '--log-queries',
      ]);
      // dnsmasq logs "started" before it answers; ask it from inside srv (not observed) until it does.
      const answers = (): boolean => {
        try {
          return dig(srv, NET.srv.v4, 'a.test', 'A').status === 'NOERROR';
        } catch {
          return false;
        }
      };
      await waitFor(answers, {
        timeoutMs: 5000,
        description: 'dnsmasq to answer',
      });

      ({ plugin, metrics, flows, stop } = await startPlugin({ netns: node.path }));
      programId = plugin.object?.program(DNS_PROGRAM).id ?? 0;
    });

    afterAll(async () => {
      await stop?.();
      await stopDaemon(dnsmasq);
      await stopDaemon(servfail);
      for (const c of cleanups.reverse()) c();
    });

    it('counts an A query and its response', async () => {
      expect(dig(cli, NET.srv.v4, 'a.test', 'A')).toEqual({ status: 'NOERROR', answers: ['10.9.0.1'] });
      await counted(1, 1);
      expect(await requestCount(metrics, 'A', 'a.test')).toBe(1);
      expect(await responseCount(metrics, 'A', 'a.test', 'NOERROR', ['10.9.0.1'])).toBe(1);
      expect(await histogramCount(metrics, LATENCY, { query_type: 'A', return_code: 'NOERROR' })).toBe(1);
    });

    it('counts an AAAA query', async () => {
      expect(dig(cli, NET.srv.v4, 'a.test', 'AAAA')).toEqual({ status: 'NOERROR', answers: ['fd00:99::1'] });
      await counted(2, 2);
      expect(await requestCount(metrics, 'AAAA', 'a.test')).toBe(1);
      expect(await responseCount(metrics, 'AAAA', 'a.test', 'NOERROR', ['fd00:99::1'])).toBe(1);
    });

    it('counts NXDOMAIN', async () => {
      expect(dig(cli, NET.srv.v4, 'nope.test', 'A').status).toBe('NXDOMAIN');
      await counted(3, 3);
      expect(await responseCount(metrics, 'A', 'nope.test', 'NXDOMAIN')).toBe(1);
    });

    it('counts SERVFAIL', async () => {
      expect(dig(cli, NET.srv.v4, 'x.fail.test', 'A').status).toBe('SERVFAIL');
      await counted(4, 4);
      expect(await requestCount(metrics, 'A', 'x.fail.test')).toBe(1);
      expect(await responseCount(metrics, 'A', 'x.fail.test', 'SERVFAIL')).toBe(1);
      expect(await histogramCount(metrics, LATENCY, { query_type: 'A', return_code: 'SERVFAIL' })).toBe(1);
    });

    it('counts a query over TCP', async () => {
      expect(dig(cli, NET.srv.v4, 'tcp.test', 'A', ['+tcp'])).toEqual({
        status: 'NOERROR',
        answers: ['10.9.0.2'],
      });
      await counted(5, 5);
      expect(await requestCount(metrics, 'A', 'tcp.test')).toBe(1);
      expect(await responseCount(metrics, 'A', 'tcp.test', 'NOERROR', ['10.9.0.2'])).toBe(1);
      const tcpFlows = flows.filter((f) => f.l7?.dns?.query === 'tcp.test.');
      expect(tcpFlows.map((f) => [f.l4?.tcp?.destinationPort, f.l4?.tcp?.sourcePort, f.isReply])).toEqual([
        [53, expect.any(Number), false],
        [expect.any(Number), 53, true],
      ]);
      // The TCP handshake and ACK-only segments are no DNS messages and are never parsed.
      expect(plugin.stats().kernel.noMessage).toBeGreaterThan(0);
    });

    it('counts a response with several answers as one series with sorted addresses', async () => {
      const r = dig(cli, NET.srv.v4, 'multi.test', 'A');
      expect(r.status).toBe('NOERROR');
      expect([...r.answers].sort()).toEqual(['10.9.0.11', '10.9.0.12', '10.9.0.13']);
      await counted(6, 6);
      expect(
        await responseCount(metrics, 'A', 'multi.test', 'NOERROR', ['10.9.0.11', '10.9.0.12', '10.9.0.13']),
      ).toBe(1);
    });

    it('counts a query over IPv6 and emits its flows', async () => {
      expect(dig(cli, NET.srv.v6, 'v6.test', 'AAAA')).toEqual({ status: 'NOERROR', answers: ['fd00:99::6'] });
      await counted(7, 7);
      expect(await responseCount(metrics, 'AAAA', 'v6.test', 'NOERROR', ['fd00:99::6'])).toBe(1);
      const [req, resp] = flows.filter((f) => f.l7?.dns?.query === 'v6.test.');
      expect(req?.ip).toEqual({ source: NET.cli.v6, destination: NET.srv.v6, ipVersion: 2 });
      expect(resp?.ip).toEqual({ source: NET.srv.v6, destination: NET.cli.v6, ipVersion: 2 });
      expect(resp?.l7?.dns).toMatchObject({
        ips: ['fd00:99::6'],
        ttl: TTL,
        rcode: 0,
        qtypes: ['AAAA'],
        rrtypes: ['AAAA'],
      });
      expect(resp?.l7?.latencyNs).toBeGreaterThan(0);
      expect(resp?.extensions).toEqual({ dnsType: 'RESPONSE', numResponses: 1 });
      expect(req?.timeNs).toBeLessThanOrEqual(resp?.timeNs ?? 0n);
      // Kernel timestamps converted to Unix time: within a minute of now.
      const nowNs = BigInt(Date.now()) * 1_000_000n;
      expect(Number(nowNs - (resp?.timeNs ?? 0n)) / 1e9).toBeLessThan(60);
    });

    it('counts a query from the node itself across a bridge once, though the packet is seen on the bridge and its port', async () => {
      const before = plugin.stats().kernel.duplicates;
      expect(dig(node, NET.bridge.srv, 'br.test', 'A')).toEqual({ status: 'NOERROR', answers: ['10.9.0.3'] });
      await counted(8, 8);
      expect(await requestCount(metrics, 'A', 'br.test')).toBe(1);
      expect(await responseCount(metrics, 'A', 'br.test', 'NOERROR', ['10.9.0.3'])).toBe(1);
      expect(plugin.stats().kernel.duplicates - before).toBe(2);
    });

    it('wrote exactly these series, lost nothing and failed to parse nothing', async () => {
      const requests = [...(await series(metrics, REQUESTS))].map(([k, v]) => `${k} ${v}`).sort();
      expect(requests).toEqual(
        [
          'query_type=A,query=a.test',
          'query_type=AAAA,query=a.test',
          'query_type=A,query=nope.test',
          'query_type=A,query=x.fail.test',
          'query_type=A,query=tcp.test',
          'query_type=A,query=multi.test',
          'query_type=AAAA,query=v6.test',
          'query_type=A,query=br.test',
        ]
          .map((l) => `${REQUESTS}{${l}} 1`)
          .sort(),
      );
      expect((await series(metrics, RESPONSES)).size).toBe(8);
      expect([...(await series(metrics, PARSE_ERRORS)).values()].every((v) => v === 0)).toBe(true);
      expect(await value(metrics, LOST, { type: 'kernel', reason: 'dns' })).toBe(0);
      const s = plugin.stats();
      expect(s.kernel.ringBufferFull).toBe(0);
      expect(s.reader.dropped).toBe(0);
      expect(s.processor.latency).toEqual({ matched: 8, unmatched: 0, expired: 0 });
      expect(flows).toHaveLength(16);
    });

    it('leaves no program loaded after stop', async () => {
      expect(programId).toBeGreaterThan(0);
      expect(listBpfPrograms().some((p) => p.id === programId)).toBe(true);
      await stop?.();
      await waitFor(() => !listBpfPrograms().some((p) => p.id === programId), {
        timeoutMs: 5000,
        description: `program ${programId} to be unloaded`,
      });
      // Series of a stopped plugin are gone, so a restarted one starts its caps afresh.
      expect((await series(metrics, REQUESTS)).size).toBe(0);
      // No packet socket is left open in the observed namespace.
      expect(
        run('ip', ['netns', 'exec', node.name, 'cat', '/proc/net/packet']).stdout.trim().split('\n'),
      ).toHaveLength(1);
    });

    it('refuses to start on a namespace that does not exist, saying which', async () => {
      const t = testContext({ netns: '/var/run/netns/retina-dns-missing' });
      const p = new DnsPlugin();
      await expect(p.init(t.ctx)).rejects.toThrow('/var/run/netns/retina-dns-missing does not exist');
      await p.stop();
    });
  },
  { requires: dnsRequirements },
);

describeKernel(
  "dns plugin in the agent's own network namespace, over loopback",
  () => {
    let dnsmasq: ChildProcess | undefined;
    let tmp: string;
    let plugin: DnsPlugin;
    let metrics: MetricsModule;
    let flows: Flow[];
    let stop: (() => Promise<void>) | undefined;
    // A port of its own, so the host's DNS traffic and parallel runs do not reach this plugin's counters.
    const port = 20000 + (process.pid % 20000);
    const name = `${uniqueName('lo', 12)}.test`;

    beforeAll(async () => {
      tmp = mkdtempSync(path.join(tmpdir(), 'retina-dns-lo-'));
      writeFileSync(path.join(tmp, 'hosts'), `10.9.0.77 ${name}\n`);
      dnsmasq = await startDnsmasq(undefined, tmp, ['127.0.0.1'], port);
      ({ plugin, metrics, flows, stop } = await startPlugin({ port }));
    });

    afterAll(async () => {
      await stop?.();
      await stopDaemon(dnsmasq);
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    });

    it('counts a query over loopback once and names the interface', async () => {
      const out = run('dig', [`@127.0.0.1`, '-p', String(port), name, 'A', '+time=3', '+tries=1', '+short']);
      expect(out.stdout.trim()).toBe('10.9.0.77');
      await waitFor(() => plugin.stats().processor.responses >= 1, {
        timeoutMs: 5000,
        description: 'the response',
      });
      expect(await requestCount(metrics, 'A', name)).toBe(1);
      expect(await responseCount(metrics, 'A', name, 'NOERROR', ['10.9.0.77'])).toBe(1);
      const mine = flows.filter((f) => f.l7?.dns?.query === `${name}.`);
      expect(mine.map((f) => [f.isReply, f.interface])).toEqual([
        [false, { index: 1, name: 'lo' }],
        [true, { index: 1, name: 'lo' }],
      ]);
    });
  },
  { requires: dnsRequirements },
);
