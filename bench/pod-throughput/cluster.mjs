// The pod-throughput bench's little cluster, used by run.mjs and by the agent package's smoke test:
//   pod A ── veth ── node namespace (routes; a veth uplink carries its default route) ── veth ── pod B
// the Kubernetes API server double in this process (both pods registered, owned by Deployments, and an accepted
// MetricsConfiguration with forward, drop, tcpflags and dns in remote context), reachable from the node namespace
// through a relay, and the real `retina-agent` started in the node namespace in advanced mode.
// Nothing is added to the root namespace; every name carries this process's id.
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { runInNetns } from '@retina-ts/bpf-runtime';
import { startApiServerDouble, writeKubeconfig } from '@retina-ts/k8s-apiserver-double';

const execFileP = promisify(execFile);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Runs a command; its stdout, or an error with the command line and its stderr. */
export async function sh(cmd, ...argv) {
  try {
    return (await execFileP(cmd, argv, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (err) {
    throw new Error(`${cmd} ${argv.join(' ')} failed: ${err.stderr || err.message}`);
  }
}

/** The plugins of advanced mode, as Retina's advanced profile runs them. */
export const ADVANCED_PLUGINS = ['packetparser', 'dropreason', 'packetforward', 'dns'];
/** The families the MetricsConfiguration selects (remote context). */
export const FAMILIES = [
  'forward_count',
  'forward_bytes',
  'drop_count',
  'drop_bytes',
  'tcp_flag_gauges',
  'dns_request_count',
  'dns_response_count',
];
const CONTEXT = ['ip', 'namespace', 'podname', 'workload'];
const CLOCK_TICKS = Number((await sh('getconf', 'CLK_TCK')).trim()) || 100;

/** Namespaces, veths and addresses of one cluster. */
export function clusterNames(tag = `rtpt${process.pid % 100000}`) {
  return {
    tag,
    node: `${tag}-node`,
    ns: { node: `${tag}n`, a: `${tag}a`, b: `${tag}b` },
    // Host ends of the pod veths (in the node namespace), the pods' ends, the node's uplink.
    dev: { ha: `${tag}ha`, hb: `${tag}hb`, a: `${tag}a0`, b: `${tag}b0`, up: `${tag}up`, upPeer: `${tag}uq` },
    ip: { a: '10.249.1.10', gwA: '10.249.1.1', b: '10.249.2.10', gwB: '10.249.2.1', up: '10.249.255.1' },
  };
}

export class Cluster {
  /** @param {ReturnType<typeof clusterNames>} names */
  constructor(names = clusterNames()) {
    this.names = names;
    this.work = mkdtempSync(path.join(os.tmpdir(), 'rts-podtp-'));
    this.api = undefined;
    this.relay = undefined;
    this.agents = new Set();
  }

  /** `ip netns exec <pod or node> ...`. */
  inNs(which, cmd, ...argv) {
    return sh('ip', 'netns', 'exec', this.names.ns[which], cmd, ...argv);
  }

  /** Creates the namespaces, veths, addresses and routes, then the API server double and its relay. */
  async setup() {
    const { ns, dev, ip } = this.names;
    for (const name of Object.values(ns)) await sh('ip', 'netns', 'add', name);
    for (const [pod, host, podNs] of [
      [dev.a, dev.ha, ns.a],
      [dev.b, dev.hb, ns.b],
    ])
      await sh(
        'ip',
        'link',
        'add',
        pod,
        'netns',
        podNs,
        'type',
        'veth',
        'peer',
        'name',
        host,
        'netns',
        ns.node,
      );
    // The uplink: a veth whose peer also stays in the node namespace (kernels without the dummy driver exist).
    await sh('ip', '-n', ns.node, 'link', 'add', dev.up, 'type', 'veth', 'peer', 'name', dev.upPeer);
    for (const name of Object.values(ns)) {
      // IPv4 only: no router solicitations or duplicate address detection on the wire.
      await sh('ip', 'netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1');
      await sh('ip', 'netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.default.disable_ipv6=1');
      await sh(
        'ip',
        'netns',
        'exec',
        name,
        'sysctl',
        '-qw',
        `net.ipv4.ip_forward=${name === ns.node ? 1 : 0}`,
      );
      await sh('ip', '-n', name, 'link', 'set', 'lo', 'up');
    }
    const steps = [
      [ns.a, 'addr', 'add', `${ip.a}/24`, 'dev', dev.a],
      [ns.b, 'addr', 'add', `${ip.b}/24`, 'dev', dev.b],
      [ns.node, 'addr', 'add', `${ip.gwA}/24`, 'dev', dev.ha],
      [ns.node, 'addr', 'add', `${ip.gwB}/24`, 'dev', dev.hb],
      [ns.node, 'addr', 'add', `${ip.up}/24`, 'dev', dev.up],
      [ns.a, 'link', 'set', dev.a, 'up'],
      [ns.b, 'link', 'set', dev.b, 'up'],
      [ns.node, 'link', 'set', dev.ha, 'up'],
      [ns.node, 'link', 'set', dev.hb, 'up'],
      [ns.node, 'link', 'set', dev.up, 'up'],
      [ns.node, 'link', 'set', dev.upPeer, 'up'],
      [ns.a, 'route', 'add', 'default', 'via', ip.gwA],
      [ns.b, 'route', 'add', 'default', 'via', ip.gwB],
      // The node's default route is what packetforward and packetparser pick their host interface from.
      [ns.node, 'route', 'add', 'default', 'dev', dev.up],
    ];
    for (const [name, ...argv] of steps) await sh('ip', '-n', name, ...argv);

    this.api = await startApiServerDouble();
    this.#registerPods();
    this.relay = this.#relay(new URL(this.api.url).port);
    await writeKubeconfig(path.join(this.work, 'kubeconfig'), {
      server: `http://127.0.0.1:${this.relay.address().port}`,
    });
  }

  #registerPods() {
    const { api } = this;
    const { ip, node } = this.names;
    api.create('namespaces', { metadata: { name: 'default' } });
    api.create('services', {
      metadata: { name: 'kubernetes', namespace: 'default' },
      spec: { clusterIP: '10.249.254.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] },
    });
    api.create('namespaces', { metadata: { name: 'shop' } });
    for (const [key, app, podIp] of [
      ['a', 'client', ip.a],
      ['b', 'server', ip.b],
    ]) {
      const rs = `${app}-6d5f8c`;
      api.create('deployments.apps', { metadata: { name: app, namespace: 'shop', uid: `dep-${key}` } });
      api.create('replicasets.apps', {
        metadata: {
          name: rs,
          namespace: 'shop',
          uid: `rs-${key}`,
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'Deployment', name: app, uid: `dep-${key}`, controller: true },
          ],
        },
      });
      api.create('pods', {
        metadata: {
          name: `${rs}-${key}x`,
          namespace: 'shop',
          labels: { app, 'pod-template-hash': '6d5f8c' },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: `rs-${key}`, controller: true },
          ],
        },
        spec: { nodeName: node },
        status: { phase: 'Running', podIP: podIp, podIPs: [{ ip: podIp }] },
      });
    }
    api.create('metricsconfigurations.retina.sh', {
      apiVersion: 'retina.sh/v1alpha1',
      kind: 'MetricsConfiguration',
      metadata: { name: 'pod-throughput' },
      spec: {
        contextOptions: FAMILIES.map((metricName) => ({
          metricName,
          sourceLabels: CONTEXT,
          destinationLabels: CONTEXT,
        })),
        namespaces: { include: ['shop'] },
      },
      status: { state: 'Accepted' },
    });
  }

  /**
   * A TCP relay listening in the node namespace, forwarding to the API server double on this namespace's loopback.
   * `listen()` without a host binds synchronously, so runInNetns places the socket there.
   */
  #relay(port) {
    const server = net.createServer((inbound) => {
      const upstream = net.connect(Number(port), '127.0.0.1');
      inbound.pipe(upstream).pipe(inbound);
      const end = () => {
        inbound.destroy();
        upstream.destroy();
      };
      for (const s of [inbound, upstream]) {
        s.on('error', end);
        s.on('close', end);
      }
    });
    runInNetns(this.names.ns.node, () => server.listen(0));
    return server;
  }

  /**
   * Starts the agent at `level` (low or high); resolves once it serves /metrics and holds its pod veth links.
   * `object`: a packetparser BPF object to run instead of the built one (to compare two builds of the program).
   */
  async startAgent(level, { extraConfig = [], plugins = ADVANCED_PLUGINS, object } = {}) {
    const agent = new Agent(this, level, extraConfig, plugins, object);
    this.agents.add(agent);
    try {
      await agent.start();
    } catch (err) {
      await agent.stop();
      throw err;
    }
    return agent;
  }

  /** Stops any agent still running, deletes the namespaces (the veths go with them), the relay, the API server and the work folder. */
  async destroy() {
    // An agent still running (the bench was interrupted) goes first: it would keep its programs loaded.
    for (const agent of this.agents) await agent.stop();
    for (const name of Object.values(this.names.ns)) await sh('ip', 'netns', 'del', name).catch(() => {});
    this.relay?.close();
    await this.api?.close();
    rmSync(this.work, { recursive: true, force: true });
  }
}

/** Totals of one /metrics exposition that the bench reports. */
export function totals(text) {
  const t = { parsed: 0, lost: 0, forward: 0, lostBy: {} };
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
    if (name === 'controlplane_networkobservability_parsed_packets_counter') t.parsed += value;
    else if (name === 'controlplane_networkobservability_lost_events_counter') {
      t.lost += value;
      // By where and whose: `<type>/<reason>`, e.g. kernel/packetparser (ring full) or buffered_channel/flowbus.
      const key = `${/type="([^"]*)"/.exec(line)?.[1]}/${/reason="([^"]*)"/.exec(line)?.[1]}`;
      t.lostBy[key] = (t.lostBy[key] ?? 0) + value;
    } else if (name === 'networkobservability_adv_forward_count') t.forward += value;
  }
  return t;
}

/** The real `retina-agent`, in the cluster's node namespace. */
export class Agent {
  constructor(cluster, level, extraConfig, plugins, object) {
    this.cluster = cluster;
    this.object = object;
    this.plugins = plugins;
    this.level = level;
    this.extraConfig = extraConfig;
    this.port = 0;
    this.child = undefined;
    this.recent = [];
  }

  get pid() {
    return this.child.pid;
  }

  async start() {
    const { cluster, level } = this;
    const require = createRequire(import.meta.url);
    const cli = path.join(path.dirname(require.resolve('@retina-ts/agent/package.json')), 'dist', 'cli.js');
    readFileSync(cli); // a clear ENOENT when the agent is not built
    const config = path.join(cluster.work, `config-${level}.yaml`);
    writeFileSync(
      config,
      [
        'apiServer: { host: 127.0.0.1, port: 0 }',
        `enabledPlugin: [${this.plugins.join(', ')}]`,
        'enablePodLevel: true',
        'remoteContext: true',
        // Pods come from the pod watch here, not from an operator's RetinaEndpoints.
        'enableRetinaEndpoint: false',
        `dataAggregationLevel: ${level}`,
        // Lost-event counters are collected every interval; a short one shows them soon after a load.
        'metricsIntervalDuration: 1s',
        ...this.extraConfig,
      ].join('\n'),
    );
    const { ns, node } = cluster.names;
    const command = [process.execPath, cli, '--config', config];
    if (this.object) {
      // Another build of packetparser's program, seen by this agent only: bound over the plugin's object in a
      // private mount namespace (`unshare` and `sh` exec in place, so the child's pid stays the agent's).
      const builtin = path.join(
        path.dirname(require.resolve('@retina-ts/plugin-packetparser/package.json')),
        'dist',
        'bpf',
        'packetparser.bpf.o',
      );
      command.unshift(
        'unshare',
        '--mount',
        '--propagation',
        'private',
        'sh',
        '-ec',
        'mount --bind "$0" "$1"; shift 2; exec "$@"',
        path.resolve(this.object),
        builtin,
      );
    }
    this.child = spawn('ip', ['netns', 'exec', ns.node, ...command], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NAME: node, KUBECONFIG: path.join(cluster.work, 'kubeconfig') },
    });
    this.stderr = '';
    this.child.stderr.on('data', (d) => (this.stderr = (this.stderr + d).slice(-4000)));
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code, signal) => resolve({ code, signal })),
    );
    let buf = '';
    this.port = await new Promise((resolve, reject) => {
      this.child.stdout.on('data', (d) => {
        buf += d;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          this.recent.push(line);
          if (this.recent.length > 200) this.recent.shift();
          let rec;
          try {
            rec = JSON.parse(line);
          } catch {
            continue;
          }
          if (typeof rec.port === 'number' && String(rec.msg).startsWith('serving /metrics'))
            resolve(rec.port);
        }
      });
      void this.exited.then(({ code }) =>
        reject(new Error(`the agent exited (${code}) before serving /metrics: ${this.stderr}`)),
      );
      setTimeout(() => reject(new Error('the agent did not serve /metrics within 30 s')), 30_000).unref();
    });
    await this.#ready();
  }

  /** Every plugin running, packetparser's two tcx links on each pod veth, the pods known (their flows counted). */
  async #ready() {
    const deadline = Date.now() + 60_000;
    const until = async (what, fn) => {
      const exited = () =>
        this.child.exitCode !== null || this.child.signalCode !== null
          ? new Error(
              `the agent exited (${this.child.exitCode ?? this.child.signalCode}) while waiting for ${what}: ${this.stderr}`,
            )
          : undefined;
      for (;;) {
        let done;
        try {
          done = await fn();
        } catch (err) {
          // A request that failed because the agent died: its exit is reported a moment later.
          await Promise.race([this.exited, sleep(1000)]);
          throw exited() ?? err;
        }
        if (done) return;
        const gone = exited();
        if (gone) throw gone;
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for ${what}; agent log:\n${this.recent.join('\n')}`);
        await sleep(200);
      }
    };
    await until('every plugin to run', async () => {
      const body = JSON.parse(await this.get('/plugins'));
      const failed = body.plugins.find((p) => p.state === 'failed');
      if (failed) throw new Error(`plugin ${failed.name} failed: ${failed.lastError ?? '(no error)'}`);
      return body.plugins.length >= this.plugins.length && body.plugins.every((p) => p.state === 'running');
    });
    const { ns, dev } = this.cluster.names;
    const ifindexes = [];
    for (const d of [dev.ha, dev.hb])
      ifindexes.push(JSON.parse(await sh('ip', '-n', ns.node, '-j', 'link', 'show', d))[0].ifindex);
    await until('two tcx links on each pod veth', () => ifindexes.every((i) => this.tcxLinks(i) === 2));
    // A UDP datagram from pod A to pod B shows in adv_forward_count once the pods are in the agent's cache and the
    // advanced metrics are configured: from then on every measured flow is counted with its pods' context.
    await until('the pods in adv_forward_count', async () => {
      await this.cluster
        .inNs('a', 'bash', '-c', `echo ready > /dev/udp/${this.cluster.names.ip.b}/9`)
        .catch(() => {});
      return /networkobservability_adv_forward_count\{[^}]*source_podname="client-/.test(
        await this.get('/metrics'),
      );
    });
  }

  /** An HTTP GET on the agent's listener, from inside the node namespace. */
  get(urlPath) {
    return this.cluster.inNs(
      'node',
      'curl',
      '-sS',
      '--max-time',
      '10',
      `http://127.0.0.1:${this.port}${urlPath}`,
    );
  }

  async totals() {
    return totals(await this.get('/metrics'));
  }

  /** The tcx links the agent holds on interface `ifindex` (from its descriptors). */
  tcxLinks(ifindex) {
    const dir = `/proc/${this.pid}/fdinfo`;
    let n = 0;
    for (const fd of readdirSync(dir)) {
      try {
        const text = readFileSync(path.join(dir, fd), 'utf8');
        if (/^link_type:\s+tcx$/m.test(text) && new RegExp(`^ifindex:\\s+${ifindex}$`, 'm').test(text)) n++;
      } catch {
        // the descriptor closed meanwhile
      }
    }
    return n;
  }

  /** CPU seconds (user + system, all threads) from /proc/<pid>/stat. */
  cpuSeconds() {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: state is index 0, utime 11, stime 12 (man 5 proc: fields 14 and 15).
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  }

  /** VmRSS in MiB. */
  rssMiB() {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN) / 1024;
  }

  /** The ids of the BPF programs this agent holds: program descriptors and the programs of its links (fdinfo). */
  programIds() {
    const dir = `/proc/${this.pid}/fdinfo`;
    const ids = new Set();
    for (const fd of readdirSync(dir)) {
      try {
        const id = /^prog_id:\s+(\d+)$/m.exec(readFileSync(path.join(dir, fd), 'utf8'))?.[1];
        if (id) ids.add(Number(id));
      } catch {
        // the descriptor closed meanwhile
      }
    }
    return ids;
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const done = await Promise.race([this.exited, sleep(20_000).then(() => undefined)]);
    if (!done) this.child.kill('SIGKILL');
  }
}
