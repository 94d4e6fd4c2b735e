// packetparser kernel-path benchmark: real flow events from packetparser's TC programs through the real
// `retina-agent` binary (packetparser → FlowBus → enricher → advanced metrics), in one run:
//  0. the sender alone, no agent: UDP packets per second between the pods (the kernel's own rate);
//  1. baseline: the agent with packetparser and pod-level enabled but no MetricsConfiguration, so every event is
//     read, decoded, published on the FlowBus and enriched, and no advanced metric counts it (packetparser stays
//     idle without enablePodLevel, so that cannot be the baseline); the ratio of CPU per event shows what the
//     advanced metrics add to the plugin, the bus and the enricher;
//  2. the same agent once a MetricsConfiguration (remote context) is accepted: every event also lands in
//     `adv_forward_count`. Flows counted into metrics, events lost, the agent's CPU seconds, RSS idle and under
//     load, and the /metrics exposition time with the resulting series.
//
// Topology (all inside namespaces this script creates; nothing is added to the root namespace):
//   pod A (the sources' addresses) ── veth ── node namespace (the agent, routing) ── veth ── pod B
// The sender, pinned to one CPU, sends from each source address to each destination address (a /24 routed to pod
// B, which drops them silently as forwarding is off there), so sources × destinations 5-tuples recur evenly. Each
// datagram crosses two packetparser hooks on the node: the ingress of pod A's veth (FROM_ENDPOINT) and the egress
// of pod B's veth (TO_ENDPOINT): two flow events per datagram. The agent runs in the node namespace, pinned to the
// other CPU, against the Kubernetes API server double running in this process (1,000 pods, the traffic's
// addresses among them), and finds the veths with its pod interface watcher.
//
// usage (root): npm run bench:packetparser -w @retina-ts/bench -- [--seconds 5] [--rounds 3] [--rate 0] [--sources 100]
//     [--destinations 100] [--pods 1000] [--payload 64] [--ring BYTES] [--families forward_count]
//     [--idle-seconds 30] [--agent-cpu 0] [--load-cpu 1] [--bus-capacity N] [--find-rate] [--profile]
//   --idle-seconds: wait before reading the idle RSS; V8 shrinks its young generation and the agent trims its
//     native heap some seconds after the start-up burst of lists, so the default waits for the settled figure.
//   --rounds: measured loads per phase; the table pools them (sums of events, CPU seconds, losses) and shows the
//     spread of flows per CPU-second between rounds, which varies with the agent's garbage collection.
//   --rate: sender packets per second (0: as fast as it goes); lower it to find the highest rate with none lost.
//   --find-rate: when the adv-metrics phase lost events, repeats it paced at 90%, 80%, ... of the rate it reached
//     until a phase loses none, and reports that rate too.
//   --bus-capacity: the agent's flowBusCapacity (default: the agent's own default).
//   --agent-node-args=FLAGS: extra node flags for the agent, e.g. --agent-node-args=--max-semi-space-size=64.
//   --profile: profiles the agent's main thread during the adv-metrics phase (profiler.mjs, preloaded) and prints
//     the functions where its time went; the sampling adds to the agent's CPU seconds in that run.
// Flows per CPU-second are flows counted into adv_forward_count divided by the agent's user + system time
// (/proc/<pid>/stat, all its threads) from the start of a load until the agent is idle again.
// needs: built @retina-ts/agent and @retina-ts/plugin-packetparser, iproute2, curl, taskset, a C compiler (cc).
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';
import { runInNetns } from '@retina-ts/bpf-runtime';
import { startApiServerDouble, writeKubeconfig } from '@retina-ts/k8s-apiserver-double';

const execFileP = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '0' },
    sources: { type: 'string', default: '100' },
    destinations: { type: 'string', default: '100' },
    pods: { type: 'string', default: '1000' },
    payload: { type: 'string', default: '64' },
    ring: { type: 'string', default: '' },
    families: { type: 'string', default: 'forward_count' },
    'bus-capacity': { type: 'string' },
    'idle-seconds': { type: 'string', default: '30' },
    'agent-cpu': { type: 'string', default: '0' },
    'load-cpu': { type: 'string', default: '1' },
    profile: { type: 'boolean', default: false },
    'find-rate': { type: 'boolean', default: false },
    'agent-node-args': { type: 'string', default: '' },
  },
});
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const rate = Number(args.rate);
const SOURCES = Number(args.sources);
const DESTINATIONS = Number(args.destinations);
const PODS = Number(args.pods);
const PAYLOAD = Number(args.payload);
const families = args.families
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
const GOAL = 500_000;
const HOOKS_PER_PACKET = 2;
const PORT = 9999;
if (
  !(seconds > 0) ||
  !(Number.isInteger(rounds) && rounds >= 1) ||
  !(rate >= 0) ||
  !(SOURCES >= 1 && SOURCES <= 250) ||
  !(DESTINATIONS >= 1 && DESTINATIONS <= 250) ||
  !(PODS >= SOURCES + DESTINATIONS && PODS <= 50_000) ||
  !(PAYLOAD >= 0 && PAYLOAD <= 1400) ||
  !families.includes('forward_count')
) {
  console.error(
    'bench: --seconds > 0, --rounds >= 1, --rate >= 0, --sources and --destinations 1..250, --pods from sources + destinations to ' +
      '50000, --payload 0..1400, --families must include forward_count (the ground truth of flows into metrics)',
  );
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('bench: needs root (network namespaces and BPF)');
  process.exit(2);
}

const tag = `rtpp${process.pid % 100000}`;
const ns = { node: `${tag}n`, a: `${tag}a`, b: `${tag}b` };
// Host sides of the pod veths (in the node namespace) and the pods' ends.
const dev = { ha: `${tag}ha`, hb: `${tag}hb`, a: `${tag}a0`, b: `${tag}b0` };
const NET = '10.247';
const addr = {
  gwA: `${NET}.1.254`, // node side of pod A's link; sources are NET.1.1 ... NET.1.<SOURCES>
  gwB: `${NET}.2.254`, // node side of pod B's link
  b: `${NET}.2.253`, // pod B's own address: next hop of the destinations
  dstNet: `${NET}.3.0/24`, // destinations NET.3.1 ... NET.3.<DESTINATIONS>, routed to pod B
};
const srcIp = (i) => `${NET}.1.${i + 1}`;
const dstIp = (j) => `${NET}.3.${j + 1}`;
// The other pods of the cluster, never on the wire: NET.16.0 onwards.
const otherIp = (k) => `${NET}.${16 + (k >> 8)}.${k & 255}`;
const NODE = `${tag}-node`;
const NAMESPACES = 10;
const DEPLOYMENTS = 50;
const work = mkdtempSync(path.join(os.tmpdir(), 'rts-ppbench-'));
const profileFile = path.join(work, 'agent.cpuprofile');

const fmt = (n) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : 'n/a');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function sh(cmd, ...argv) {
  try {
    return (await execFileP(cmd, argv, { maxBuffer: 512 * 1024 * 1024 })).stdout;
  } catch (err) {
    throw new Error(`${cmd} ${argv.join(' ')} failed: ${err.stderr || err.message}`);
  }
}
const inNs = (name, cmd, ...argv) => sh('ip', 'netns', 'exec', name, cmd, ...argv);

/** Runs `ip -n <ns> -batch -` over `lines` (one ip command each, without the leading `ip`). */
function ipBatch(name, lines) {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['-n', name, '-batch', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`ip -n ${name} -batch failed: ${err}`)),
    );
    child.stdin.end(`${lines.join('\n')}\n`);
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Namespaces

async function setup() {
  for (const name of Object.values(ns)) await sh('ip', 'netns', 'add', name);
  await sh(
    'ip',
    'link',
    'add',
    dev.a,
    'netns',
    ns.a,
    'type',
    'veth',
    'peer',
    'name',
    dev.ha,
    'netns',
    ns.node,
  );
  await sh(
    'ip',
    'link',
    'add',
    dev.b,
    'netns',
    ns.b,
    'type',
    'veth',
    'peer',
    'name',
    dev.hb,
    'netns',
    ns.node,
  );
  for (const name of Object.values(ns)) {
    // No IPv6 (no router solicitations or DAD on the wire); only the node namespace routes.
    await inNs(
      name,
      'sysctl',
      '-qw',
      'net.ipv6.conf.all.disable_ipv6=1',
      'net.ipv6.conf.default.disable_ipv6=1',
    );
    await inNs(name, 'sysctl', '-qw', `net.ipv4.ip_forward=${name === ns.node ? 1 : 0}`);
    await sh('ip', '-n', name, 'link', 'set', 'lo', 'up');
  }
  const aAddrs = Array.from({ length: SOURCES }, (_, i) => `addr add ${srcIp(i)}/24 dev ${dev.a}`);
  await ipBatch(ns.a, aAddrs);
  await sh('ip', '-n', ns.b, 'addr', 'add', `${addr.b}/24`, 'dev', dev.b);
  await sh('ip', '-n', ns.node, 'addr', 'add', `${addr.gwA}/24`, 'dev', dev.ha);
  await sh('ip', '-n', ns.node, 'addr', 'add', `${addr.gwB}/24`, 'dev', dev.hb);
  for (const [name, d] of [
    [ns.a, dev.a],
    [ns.b, dev.b],
    [ns.node, dev.ha],
    [ns.node, dev.hb],
  ])
    await sh('ip', '-n', name, 'link', 'set', d, 'up');
  await sh('ip', '-n', ns.a, 'route', 'add', 'default', 'via', addr.gwA);
  await sh('ip', '-n', ns.node, 'route', 'add', addr.dstNet, 'via', addr.b);
  // Permanent neighbours: no ARP exchange delays or drops the first datagrams of a phase.
  const mac = async (name, d) => JSON.parse(await sh('ip', '-n', name, '-j', 'link', 'show', d))[0].address;
  await sh(
    'ip',
    '-n',
    ns.a,
    'neigh',
    'replace',
    addr.gwA,
    'lladdr',
    await mac(ns.node, dev.ha),
    'dev',
    dev.a,
    'nud',
    'permanent',
  );
  await sh(
    'ip',
    '-n',
    ns.node,
    'neigh',
    'replace',
    addr.b,
    'lladdr',
    await mac(ns.b, dev.b),
    'dev',
    dev.hb,
    'nud',
    'permanent',
  );
}

let tornDown;
/** Deletes the namespaces (their veths go with them) and the work folder; one run, however often it is called. */
function teardown() {
  tornDown ??= (async () => {
    for (const name of Object.values(ns)) await sh('ip', 'netns', 'del', name).catch(() => {});
    // The CPU profile, when one was written, stays for a closer look (its path is printed).
    const keep = existsSync(profileFile) ? path.basename(profileFile) : undefined;
    for (const f of readdirSync(work))
      if (f !== keep) rmSync(path.join(work, f), { recursive: true, force: true });
    if (!keep) rmSync(work, { recursive: true, force: true });
  })();
  return tornDown;
}

/** Packets pod B's interface received (what the sender got through the node). */
async function delivered() {
  const [link] = JSON.parse(await sh('ip', '-n', ns.b, '-j', '-s', 'link', 'show', dev.b));
  return link.stats64.rx.packets;
}

// ---------------------------------------------------------------------------------------------------------------
// Sender

const senderBin = path.join(work, 'sender');
let senderChild;

/** Runs the sender in pod A on the load CPU; `once` sends one datagram per pair. */
function send({ ms = 1000, pps = 0, once = false } = {}) {
  const argv = [
    '-s',
    srcIp(0),
    '-n',
    String(SOURCES),
    '-d',
    dstIp(0),
    '-m',
    String(DESTINATIONS),
    '-p',
    String(PORT),
  ];
  argv.push('-l', String(PAYLOAD), ...(once ? ['-1'] : ['-t', String(ms), '-r', String(pps)]));
  return new Promise((resolve, reject) => {
    const child = spawn(
      'ip',
      ['netns', 'exec', ns.a, 'taskset', '-c', args['load-cpu'], senderBin, ...argv],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    senderChild = child;
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      senderChild = undefined;
      const m = /sent=(\d+) elapsed_ns=(\d+) failed=(\d+)/.exec(out);
      if (code !== 0 || !m) return reject(new Error(`sender exited with ${code}: ${err || out}`));
      resolve({ sent: Number(m[1]), seconds: Number(m[2]) / 1e9, failed: Number(m[3]) });
    });
  });
}

/** The sender for `seconds` at `pps` (0: unpaced), with the packets pod B received meanwhile. */
async function load(pps = rate) {
  const before = await delivered();
  const r = await send({ ms: Math.round(seconds * 1000), pps });
  const got = (await delivered()) - before;
  return { ...r, delivered: got, pps: got / r.seconds };
}

// ---------------------------------------------------------------------------------------------------------------
// Cluster: the API server double with 1,000 pods, reachable from the node namespace

/** Registers namespaces, Deployments, ReplicaSets and `PODS` pods; the traffic's addresses are this node's pods. */
function registerCluster(api) {
  // The API server's own Service, which the agent's API server watcher reads (its IP is never on the wire here).
  api.create('namespaces', { metadata: { name: 'default' } });
  api.create('services', {
    metadata: { name: 'kubernetes', namespace: 'default' },
    spec: { clusterIP: `${NET}.255.1`, ports: [{ name: 'https', port: 443, protocol: 'TCP' }] },
  });
  for (let n = 0; n < NAMESPACES; n++) api.create('namespaces', { metadata: { name: `bench-${n}` } });
  for (let d = 0; d < DEPLOYMENTS; d++) {
    const namespace = `bench-${d % NAMESPACES}`;
    api.create('deployments.apps', { metadata: { name: `app-${d}`, namespace, uid: `dep-${d}` } });
    api.create('replicasets.apps', {
      metadata: {
        name: `app-${d}-7f9c4d`,
        namespace,
        uid: `rs-${d}`,
        ownerReferences: [
          { apiVersion: 'apps/v1', kind: 'Deployment', name: `app-${d}`, uid: `dep-${d}`, controller: true },
        ],
      },
    });
  }
  for (let i = 0; i < PODS; i++) {
    let ip;
    let nodeName = NODE;
    if (i < SOURCES) ip = srcIp(i);
    else if (i < SOURCES + DESTINATIONS) ip = dstIp(i - SOURCES);
    else {
      ip = otherIp(i - SOURCES - DESTINATIONS);
      nodeName = `other-node-${i % 7}`;
    }
    const d = i % DEPLOYMENTS;
    api.create('pods', {
      metadata: {
        name: `app-${d}-7f9c4d-p${i}`,
        namespace: `bench-${d % NAMESPACES}`,
        labels: { app: `app-${d}`, 'pod-template-hash': '7f9c4d' },
        ownerReferences: [
          {
            apiVersion: 'apps/v1',
            kind: 'ReplicaSet',
            name: `app-${d}-7f9c4d`,
            uid: `rs-${d}`,
            controller: true,
          },
        ],
      },
      spec: { nodeName },
      status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] },
    });
  }
}

/** The MetricsConfiguration that turns on the advanced metrics, remote context, for every bench namespace. */
function metricsConfiguration() {
  const context = ['ip', 'namespace', 'podname', 'workload'];
  return {
    apiVersion: 'retina.sh/v1alpha1',
    kind: 'MetricsConfiguration',
    metadata: { name: 'bench' },
    spec: {
      contextOptions: families.map((metricName) => ({
        metricName,
        sourceLabels: context,
        destinationLabels: context,
      })),
      namespaces: { include: Array.from({ length: NAMESPACES }, (_, n) => `bench-${n}`) },
    },
    status: { state: 'Accepted' },
  };
}

/**
 * A TCP relay listening in the node namespace that forwards to the API server double on this namespace's
 * loopback. `listen()` without a host creates and binds its socket synchronously, so runInNetns places it there.
 */
function relayIntoNodeNamespace(port) {
  const server = net.createServer((inbound) => {
    const upstream = net.connect(port, '127.0.0.1');
    inbound.pipe(upstream).pipe(inbound);
    const end = () => {
      inbound.destroy();
      upstream.destroy();
    };
    inbound.on('error', end);
    upstream.on('error', end);
    inbound.on('close', end);
    upstream.on('close', end);
  });
  runInNetns(ns.node, () => server.listen(0));
  return server;
}

// ---------------------------------------------------------------------------------------------------------------
// The agent

let agent;

/** Starts `retina-agent` in the node namespace on the agent CPU; resolves once it serves /metrics. */
async function startAgent(kubeconfig) {
  const require = createRequire(import.meta.url);
  const cli = path.join(path.dirname(require.resolve('@retina-ts/agent/package.json')), 'dist', 'cli.js');
  readFileSync(cli); // a clear ENOENT when the agent is not built
  const config = path.join(work, 'config.yaml');
  writeFileSync(
    config,
    [
      'apiServer: { host: 127.0.0.1, port: 0 }',
      'enabledPlugin: [packetparser]',
      'enablePodLevel: true',
      'remoteContext: true',
      'enableRetinaEndpoint: false',
      'dataAggregationLevel: low',
      // Lost-event counters are collected every interval; a short one shows them soon after the load.
      'metricsIntervalDuration: 1s',
      // Without --ring the agent's default ring; with it, Retina's ring-buffer mode of that size.
      ...(args.ring ? ['packetParserRingBuffer: enabled', `packetParserRingBufferSize: ${args.ring}`] : []),
      ...(args['bus-capacity'] ? [`flowBusCapacity: ${args['bus-capacity']}`] : []),
      'plugins:',
      '  packetparser:',
      '    hostInterface: false',
    ].join('\n'),
  );
  // The profiler is started only around the measured phase (profiler.mjs), so the profile holds that phase only.
  const nodeArgs = args['agent-node-args'].split(/\s+/).filter(Boolean);
  if (args.profile) nodeArgs.push('--import', path.join(here, 'profiler.mjs'));
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      ns.node,
      'taskset',
      '-c',
      args['agent-cpu'],
      process.execPath,
      ...nodeArgs,
      cli,
      '--config',
      config,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NAME: NODE, KUBECONFIG: kubeconfig, RTS_BENCH_PROFILE: profileFile },
    },
  );
  const logs = [];
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  agent = { child, logs, exited, port: 0, recent: [] };
  let buf = '';
  const port = await new Promise((resolve, reject) => {
    child.stdout.on('data', (d) => {
      buf += d;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        let rec;
        try {
          rec = JSON.parse(line);
        } catch {
          continue;
        }
        if (rec.level >= 40 || rec.level === 'warn' || rec.level === 'error') logs.push(rec);
        agent.recent.push(line);
        if (agent.recent.length > 20) agent.recent.shift();
        if (typeof rec.port === 'number' && String(rec.msg).startsWith('serving /metrics')) resolve(rec.port);
        if (String(rec.msg).startsWith('advanced metrics configured')) agent.configured = true;
      }
    });
    void exited.then(({ code }) =>
      reject(new Error(`the agent exited (${code}) before serving /metrics: ${stderr}`)),
    );
    setTimeout(() => reject(new Error('the agent did not serve /metrics within 30 s')), 30_000).unref();
  });
  agent.port = port;
  return agent;
}

async function stopAgent() {
  if (!agent || agent.child.exitCode !== null || agent.child.signalCode !== null) return;
  agent.child.kill('SIGTERM');
  const done = await Promise.race([agent.exited, sleep(20_000).then(() => undefined)]);
  if (!done) agent.child.kill('SIGKILL');
}

/** The agent's CPU seconds (user + system) from /proc/<pid>/stat. */
function agentCpuSeconds() {
  const stat = readFileSync(`/proc/${agent.child.pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is index 0, utime 11, stime 12 (man 5 proc, 14 and 15 counted from 1).
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number((await sh('getconf', 'CLK_TCK')).trim()) || 100;

/** VmRSS and VmHWM of the agent in MiB. */
function agentMemory() {
  const status = readFileSync(`/proc/${agent.child.pid}/status`, 'utf8');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** The tcx links the agent holds (read from its descriptors), to know the pod veths are attached. */
function agentTcxLinks() {
  const dir = `/proc/${agent.child.pid}/fdinfo`;
  let n = 0;
  for (const fd of readdirSync(dir)) {
    try {
      if (/^link_type:\s+tcx$/m.test(readFileSync(path.join(dir, fd), 'utf8'))) n++;
    } catch {
      // the descriptor closed meanwhile
    }
  }
  return n;
}

/** Scrapes /metrics from inside the node namespace; returns the text and curl's transfer time. */
async function scrape() {
  const file = path.join(work, 'metrics.txt');
  const out = await inNs(
    ns.node,
    'curl',
    '-sS',
    '-o',
    file,
    '-w',
    '%{time_total} %{size_download}',
    `http://127.0.0.1:${agent.port}/metrics`,
  );
  const [time, size] = out.trim().split(' ').map(Number);
  return { text: readFileSync(file, 'utf8'), ms: time * 1000, bytes: size };
}

/** Totals read from an exposition: the counters this bench reports. */
function totals(text) {
  const t = {
    forward: 0,
    forwardSeries: 0,
    series: 0,
    parsed: 0,
    kernelLost: 0,
    readerLost: 0,
    parserLost: 0,
    busLost: 0,
  };
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (name?.startsWith('networkobservability_adv_')) t.series++;
    if (name === 'networkobservability_adv_forward_count') {
      t.forward += value;
      t.forwardSeries++;
    } else if (name === 'controlplane_networkobservability_parsed_packets_counter') t.parsed += value;
    else if (name === 'controlplane_networkobservability_lost_events_counter') {
      const type = /type="([^"]*)"/.exec(line)?.[1];
      const reason = /reason="([^"]*)"/.exec(line)?.[1];
      if (reason === 'packetparser' && type === 'kernel') t.kernelLost += value;
      else if (reason === 'packetparser' && type === 'buffered_channel') t.readerLost += value;
      else if (reason === 'packetparser' && type === 'parser') t.parserLost += value;
      else if (reason === 'flowbus') t.busLost += value;
    }
  }
  return t;
}

async function waitFor(what, fn, timeoutMs = 60_000, everyMs = 250) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * Sends one datagram per pair until the agent has read all of them (every hook attached and every address of
 * interest in the kernel map); with `series`, until each pair also has its `adv_forward_count` series.
 */
async function prime(series) {
  const pairs = SOURCES * DESTINATIONS;
  await waitFor('the agent to attach to both pod veths', () => agentTcxLinks() >= 4);
  await waitFor(
    series ? `${pairs} adv_forward_count series` : 'every primed datagram to be read at both hooks',
    async () => {
      const before = totals((await scrape()).text);
      await send({ once: true });
      await sleep(300);
      const after = totals((await scrape()).text);
      return (
        after.parsed - before.parsed === pairs * HOOKS_PER_PACKET && (!series || after.forwardSeries >= pairs)
      );
    },
    60_000,
    500,
  );
}

/**
 * One measured phase: counters before, the sender for `seconds`, then until the agent is idle again (drained),
 * counters after. CPU is taken at the drain point, before the final scrape, so the exposition is not charged to
 * the flows.
 */
async function measure(pps = rate) {
  const before = totals((await scrape()).text);
  const cpu0 = agentCpuSeconds();
  let rssPeak = 0;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, agentMemory().rss)), 200);
  const l = await load(pps);
  clearInterval(sampler);
  rssPeak = Math.max(rssPeak, agentMemory().rss);
  // Drained: the agent used under 5% of a CPU over the last 200 ms.
  const drainStart = Date.now();
  for (let prev = agentCpuSeconds(); ;) {
    await sleep(200);
    const now = agentCpuSeconds();
    if (now - prev < 0.01 || Date.now() - drainStart > 30_000) break;
    prev = now;
  }
  const drainMs = Date.now() - drainStart;
  const cpu = agentCpuSeconds() - cpu0;
  const mem = agentMemory();
  await sleep(1500); // one metrics interval: the kernel's lost count is collected
  const after = totals((await scrape()).text);
  const d = (k) => after[k] - before[k];
  const lost = d('kernelLost') + d('readerLost') + d('parserLost') + d('busLost');
  return {
    load: l,
    cpu,
    drainMs,
    rssPeak: Math.max(rssPeak, mem.rss),
    hwm: mem.hwm,
    // Reader drops were taken from the kernel but never reached JavaScript, so they are not in `parsed`.
    produced: d('parsed') + d('kernelLost') + d('readerLost'),
    expected: l.delivered * HOOKS_PER_PACKET,
    parsed: d('parsed'),
    lost,
    lostDetail: {
      kernel: d('kernelLost'),
      reader: d('readerLost'),
      parser: d('parserLost'),
      flowbus: d('busLost'),
    },
    counted: d('forward'),
    series: after.series,
    forwardSeries: after.forwardSeries,
  };
}

/** `rounds` measured loads at `pps`, pooled: counts and CPU seconds summed, peaks kept; `perRound` keeps each. */
async function measureRounds(pps = rate) {
  const perRound = [];
  for (let i = 0; i < rounds; i++) perRound.push(await measure(pps));
  const sum = (f) => perRound.reduce((s, r) => s + f(r), 0);
  const last = perRound[perRound.length - 1];
  const load = {
    sent: sum((r) => r.load.sent),
    failed: sum((r) => r.load.failed),
    delivered: sum((r) => r.load.delivered),
    seconds: sum((r) => r.load.seconds),
  };
  load.pps = load.delivered / load.seconds;
  return {
    load,
    cpu: sum((r) => r.cpu),
    drainMs: Math.max(...perRound.map((r) => r.drainMs)),
    rssPeak: Math.max(...perRound.map((r) => r.rssPeak)),
    hwm: last.hwm,
    produced: sum((r) => r.produced),
    expected: sum((r) => r.expected),
    parsed: sum((r) => r.parsed),
    lost: sum((r) => r.lost),
    lostDetail: Object.fromEntries(Object.keys(last.lostDetail).map((k) => [k, sum((r) => r.lostDetail[k])])),
    counted: sum((r) => r.counted),
    series: last.series,
    forwardSeries: last.forwardSeries,
    perRound,
  };
}

/** The top functions by self time in the agent's CPU profile of the measured phase. */
function profileSummary(file, top = 15) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n.callFrame]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const cf = byId.get(prof.samples[i]);
    const where = cf.url ? ` ${cf.url.replace(/^file:\/\/.*\/packages\//, '')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'}${where}`;
    const us = prof.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + us);
    total += us;
  }
  const busy = [...self].filter(([k]) => k !== '(idle)');
  const busyUs = busy.reduce((s, [, v]) => s + v, 0);
  console.log(`agent CPU profile of the adv-metrics phase (${file}); self time, share of the busy samples:`);
  for (const [k, v] of busy.sort((x, y) => y[1] - x[1]).slice(0, top)) {
    console.log(`  ${((100 * v) / busyUs).toFixed(1).padStart(5)}%  ${k}`);
  }
  console.log(
    `  (the main thread was idle ${((100 * (total - busyUs)) / total).toFixed(0)}% of the profiled time)`,
  );
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  // This process (the API server double, scrapes) stays off the agent's CPU.
  await sh('taskset', '-a', '-p', '-c', args['load-cpu'], String(process.pid));
  await sh('cc', '-O2', '-o', senderBin, path.join(here, 'sender.c'));
  await setup();
  const pairs = SOURCES * DESTINATIONS;
  console.log(
    `packetparser kernel path: ${SOURCES} sources × ${DESTINATIONS} destinations = ${fmt(pairs)} UDP 5-tuples, ` +
      `payload ${PAYLOAD} B, ${rounds} × ${seconds}s per phase, sender ${rate > 0 ? `paced at ${fmt(rate)} pkt/s` : 'unpaced'} on CPU ` +
      `${args['load-cpu']}, agent on CPU ${args['agent-cpu']}, ${fmt(PODS)} pods in the API server, ring buffer ` +
      `${args.ring ? `${fmt(Number(args.ring))} B` : 'default'}, FlowBus capacity ${args['bus-capacity'] ? fmt(Number(args['bus-capacity'])) : 'default'}` +
      `${args['agent-node-args'] ? `, agent node flags ${args['agent-node-args']}` : ''}, node ${process.version}, Linux ${os.release()}`,
  );

  // Phase 0: the sender alone (no programs attached).
  await send({ ms: 500, pps: rate }); // warm-up
  const bareRounds = [];
  for (let i = 0; i < rounds; i++) bareRounds.push(await load());
  const bare = {
    pps: bareRounds.reduce((s, r) => s + r.delivered, 0) / bareRounds.reduce((s, r) => s + r.seconds, 0),
  };

  const api = await startApiServerDouble();
  const relay = relayIntoNodeNamespace(api.port);
  const kubeconfig = path.join(work, 'kubeconfig');
  await writeKubeconfig(kubeconfig, { server: `http://127.0.0.1:${relay.address().port}` });
  registerCluster(api);
  try {
    await startAgent(kubeconfig);
    // Idle: synced with 1,000 pods, attached, no traffic yet.
    await waitFor('the agent to attach to both pod veths', () => agentTcxLinks() >= 4);
    await sleep(Number(args['idle-seconds']) * 1000);
    const idle = agentMemory();

    // Phase 1: baseline, no advanced metrics configured.
    await prime(false);
    const base = await measureRounds();

    // Phase 2: advanced metrics with remote context.
    api.create('metricsconfigurations.retina.sh', metricsConfiguration());
    await waitFor('the agent to accept the MetricsConfiguration', () => agent.configured === true, 30_000);
    await prime(true);
    if (args.profile) agent.child.kill('SIGUSR2');
    const full = await measureRounds();
    if (args.profile) {
      agent.child.kill('SIGUSR2');
      await waitFor('the agent to write its CPU profile', () => existsSync(profileFile), 30_000);
    }

    // Exposition at the end: first and median of three scrapes.
    const scrapes = [];
    for (let i = 0; i < 3; i++) scrapes.push(await scrape());
    const expoSeries = totals(scrapes[0].text).series;
    const expoMedian = [...scrapes].sort((x, y) => x.ms - y.ms)[1];

    report({ bare, base, full, idle, scrapes, expoSeries, expoMedian });
    if (args['find-rate'] && full.lost > 0) await findLosslessRate(full.load.pps);
    const warnings = new Map();
    for (const rec of agent.logs) {
      const text = `${rec.level === 50 || rec.level === 'error' ? 'error' : 'warn'}: ${rec.msg}${rec.errors ? ` ${JSON.stringify(rec.errors)}` : ''}`;
      warnings.set(text, (warnings.get(text) ?? 0) + 1);
    }
    for (const [text, n] of warnings) console.log(`agent log, ${n}×: ${text}`);
  } finally {
    await stopAgent();
    relay.close();
    await api.close();
  }
  if (args.profile) profileSummary(profileFile);
}

function report({ bare, base, full, idle, scrapes, expoSeries, expoMedian }) {
  const row = (label, r) => {
    const perCpu = r.counted / r.cpu;
    return [
      label.padEnd(30),
      fmt(r.load.pps).padStart(9),
      fmt(r.produced).padStart(11),
      fmt(r.parsed).padStart(11),
      fmt(r.lost).padStart(9),
      fmt(r.counted).padStart(11),
      r.cpu.toFixed(2).padStart(7),
      fmt(r.parsed / r.cpu).padStart(11),
      fmt(perCpu).padStart(11),
      fmt(r.rssPeak).padStart(6),
    ].join(' ');
  };
  console.log('');
  console.log(
    `${rounds} round(s) of ${seconds}s per phase, pooled:\n${'phase'.padEnd(30)} ${'pkt/s'.padStart(9)} ${'events'.padStart(11)} ${'read'.padStart(11)} ${'lost'.padStart(9)} ` +
      `${'into adv'.padStart(11)} ${'CPU s'.padStart(7)} ${'read/CPU-s'.padStart(11)} ${'adv/CPU-s'.padStart(11)} ${'RSS'.padStart(6)}`,
  );
  console.log(`${'sender alone (no agent)'.padEnd(30)} ${fmt(bare.pps).padStart(9)}`);
  console.log(row('agent, no MetricsConfiguration', base));
  console.log(row('agent, adv metrics (remote)', full));
  console.log(
    '  pkt/s: datagrams pod B received per second; events: flow events the kernel produced (read + reader drops + ring full); ' +
      'into adv: adv_forward_count increase; CPU s: agent user+system from the load start until it drained; RSS MiB peak under load',
  );
  for (const [label, r] of [
    ['baseline', base],
    ['adv metrics', full],
  ]) {
    const spread = r.perRound
      .map((x) => fmt((label === 'baseline' ? x.parsed : x.counted) / x.cpu))
      .join(', ');
    console.log(
      `  ${label}: ${label === 'baseline' ? 'read' : 'into adv'} per CPU-second by round: ${spread}`,
    );
    const missing = r.expected - r.produced;
    console.log(
      `  ${label}: sent ${fmt(r.load.sent)} datagrams (${fmt(r.load.failed)} refused by the socket), delivered ` +
        `${fmt(r.load.delivered)} × ${HOOKS_PER_PACKET} hooks = ${fmt(r.expected)} expected events` +
        `${missing !== 0 ? ` (${fmt(missing)} not accounted for)` : ''}; lost: kernel ring full ${fmt(r.lostDetail.kernel)}, ` +
        `reader ${fmt(r.lostDetail.reader)}, parser ${fmt(r.lostDetail.parser)}, FlowBus ${fmt(r.lostDetail.flowbus)}; ` +
        `drained ${r.drainMs} ms after the sender stopped`,
    );
  }
  const baseCost = base.cpu / base.parsed;
  const fullCost = full.cpu / full.parsed;
  console.log('');
  console.log(
    `agent RSS: idle ${idle.rss.toFixed(0)} MiB (attached, ${fmt(PODS)} pods synced, before any traffic); under load ` +
      `${full.rssPeak.toFixed(0)} MiB; peak VmHWM ${full.hwm.toFixed(0)} MiB`,
  );
  console.log(
    `/metrics exposition with ${fmt(expoSeries)} adv series (${fmt(full.forwardSeries)} adv_forward_count), ` +
      `${(scrapes[0].bytes / 1e6).toFixed(1)} MB: first ${scrapes[0].ms.toFixed(0)} ms, median of 3 ${expoMedian.ms.toFixed(0)} ms (curl in the node namespace)`,
  );
  console.log(
    `ratios: CPU per event with adv metrics / without = ${(fullCost / baseCost).toFixed(2)} ` +
      `(${(fullCost * 1e9).toFixed(0)} ns vs ${(baseCost * 1e9).toFixed(0)} ns per event); ` +
      `sender rate with the agent attached / alone = ${(full.load.pps / bare.pps).toFixed(3)}`,
  );
  const perCpu = full.counted / full.cpu;
  const met = perCpu >= GOAL && full.lost === 0 && full.counted === full.produced;
  console.log(
    `goal (≥ ${fmt(GOAL)} flow events/s into metrics on one core, none lost): ${met ? 'MET' : 'NOT MET'} — ` +
      `${fmt(perCpu)} flows into adv_forward_count per agent CPU-second, ${fmt(full.lost)} lost, ` +
      `${fmt(full.counted)} counted of ${fmt(full.produced)} produced`,
  );
  if (full.lost > 0 && !args['find-rate']) {
    console.log(
      `  events were lost at ${fmt(full.load.pps * HOOKS_PER_PACKET)} events/s wall-clock (agent busy ` +
        `${((100 * full.cpu) / full.load.seconds).toFixed(0)}% of a CPU): --find-rate searches for the highest rate with none lost`,
    );
  }
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${os.cpus().length} CPUs (figures are a floor when other work shares the machine)`,
  );
}

/** Repeats the adv-metrics phase paced at falling fractions of `reached` pkt/s until one loses nothing. */
async function findLosslessRate(reached) {
  console.log('');
  console.log(`highest rate with none lost (paced sender, ${seconds}s each):`);
  for (const fraction of [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]) {
    const pps = Math.round(reached * fraction);
    const r = await measure(pps);
    const perCpu = r.counted / r.cpu;
    console.log(
      `  paced ${fmt(pps)} pkt/s: delivered ${fmt(r.load.pps)} pkt/s = ${fmt(r.load.pps * HOOKS_PER_PACKET)} events/s, ` +
        `lost ${fmt(r.lost)}, ${fmt(r.counted)} counted of ${fmt(r.produced)}, ${fmt(perCpu)} flows per agent CPU-second ` +
        `(agent busy ${((100 * r.cpu) / r.load.seconds).toFixed(0)}% of a CPU)`,
    );
    if (r.lost === 0 && r.counted === r.produced) {
      const met = perCpu >= GOAL;
      console.log(
        `  → none lost at ${fmt(r.load.pps * HOOKS_PER_PACKET)} events/s wall-clock; per agent CPU-second ` +
          `${fmt(perCpu)} flows into metrics: goal ${met ? 'MET' : 'NOT MET'} at this rate`,
      );
      return;
    }
  }
  console.log(`  → events were lost even at 10% of ${fmt(reached)} pkt/s`);
}

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    senderChild?.kill('SIGKILL');
    void stopAgent()
      .then(teardown)
      .finally(() => process.exit(130));
  });
}
try {
  await main();
} catch (err) {
  console.error(`bench: ${err.message}`);
  if (agent) console.error(`the agent's last log lines:\n${agent.recent.join('\n')}`);
  process.exitCode = 1;
} finally {
  senderChild?.kill('SIGKILL');
  await stopAgent().catch(() => {});
  await teardown();
}
