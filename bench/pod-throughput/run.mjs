// Pod throughput bench: what the agent in advanced mode costs two pods talking to each other, as a user sees it.
//
// Topology and agent: cluster.mjs (pod A ── node namespace that routes ── pod B; the real `retina-agent` in the
// node namespace with packetparser on the pod veths, dropreason, packetforward and dns, and an accepted
// MetricsConfiguration with forward, drop, tcpflags and dns in remote context).
//
// Workloads, from pod A to pod B:
//   tcp   bulk TCP, iperf3 (Gbit/s received);
//   conn  many short connections: connect, one request, one response, close (connrate.mjs; connections/s);
//   udp   small-packet UDP, iperf3 -u -l 64 -b 0 (datagrams/s received).
// Each round measures every workload without the agent and with the agent at each aggregation level (the agent
// is started for the level and stopped after it; odd rounds start without it, even rounds end without it), so
// baseline and agent runs alternate under the same machine load; the ratio (with / without) is shown as its range over rounds. With the agent: its CPU in cores over the
// measured window (/proc/<pid>/stat, all threads), its RSS, the events it read and the events lost
// (lost_events_counter, every type and plugin).
//
// Where the time goes (after the rounds, unless --no-costs): for each level the agent runs every workload once
// more with kernel.bpf_stats_enabled=1, giving each of its BPF programs' run count and ns per run, the cores the
// programs took, and the agent's user-space CPU per event read. The statistics cost some ns per program run
// themselves, which is why the rounds run without them.
//
// usage (root): npm run bench:pod-throughput -w @retina-ts/bench -- [--rounds 3] [--seconds 8] [--levels low,high]
//     [--workloads tcp,conn,udp] [--concurrency 8] [--udp-size 64] [--plugins packetparser,dropreason,...] [--quick]
//     [--no-costs] [--json] [--packetparser-object FILE]
//   --plugins: the agent's plugins (default: advanced mode's), to see what each one costs.
//   --packetparser-object: a build of packetparser's BPF program to run instead of the plugin's (the agent sees it
//     through a bind mount in its own mount namespace), to measure a change against the previous build.
//   --quick: 1 round of 3 s per workload. --json: also prints the results as one `RESULT {...}` line.
// needs: built @retina-ts/agent and the plugins, iperf3, iproute2, curl, bpftool.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ADVANCED_PLUGINS, Cluster, sh, sleep } from './cluster.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const WORKLOADS = {
  tcp: { title: 'bulk TCP', unit: 'Gbit/s' },
  conn: { title: 'short connections', unit: 'conn/s' },
  udp: { title: 'small-packet UDP', unit: 'pkt/s' },
};
const LEVELS = ['low', 'high'];

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string' },
    seconds: { type: 'string' },
    levels: { type: 'string', default: LEVELS.join(',') },
    workloads: { type: 'string', default: Object.keys(WORKLOADS).join(',') },
    concurrency: { type: 'string', default: '8' },
    'udp-size': { type: 'string', default: '64' },
    quick: { type: 'boolean', default: false },
    'no-costs': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    plugins: { type: 'string', default: ADVANCED_PLUGINS.join(',') },
    'packetparser-object': { type: 'string' },
  },
});
const rounds = Number(args.rounds ?? (args.quick ? 1 : 3));
const seconds = Number(args.seconds ?? (args.quick ? 3 : 8));
const levels = args.levels.split(',').filter(Boolean);
const workloads = args.workloads.split(',').filter(Boolean);
const concurrency = Number(args.concurrency);
const udpSize = Number(args['udp-size']);
const plugins = args.plugins.split(',').filter(Boolean);
const problems = [
  !(Number.isInteger(rounds) && rounds >= 1) && `--rounds must be an integer >= 1 (got ${args.rounds})`,
  !(seconds >= 1 && seconds <= 600) && `--seconds must be 1..600 (got ${args.seconds})`,
  (!levels.length || levels.some((l) => !LEVELS.includes(l))) &&
    `--levels: low and/or high (got ${args.levels})`,
  (!workloads.length || workloads.some((w) => !(w in WORKLOADS))) &&
    `--workloads: ${Object.keys(WORKLOADS).join(', ')} (got ${args.workloads})`,
  !(Number.isInteger(concurrency) && concurrency >= 1 && concurrency <= 256) &&
    `--concurrency must be 1..256 (got ${args.concurrency})`,
  !(Number.isInteger(udpSize) && udpSize >= 16 && udpSize <= 1400) &&
    `--udp-size must be 16..1400 (got ${args['udp-size']})`,
  !plugins.includes('packetparser') && `--plugins must include packetparser (got ${args.plugins})`,
].filter(Boolean);
if (problems.length) {
  console.error(`bench: ${problems.join('; ')}`);
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('bench: needs root (network namespaces and BPF)');
  process.exit(2);
}

const cluster = new Cluster();
const { ip } = cluster.names;
const CONN_PORT = 5301;
const servers = [];

/** A long-running process inside pod B; resolves once `ready` matches its output (or at once without one). */
function serveInB(argv, ready) {
  const child = spawn('ip', ['netns', 'exec', cluster.names.ns.b, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    const check = (d) => {
      out += d;
      if (ready.test(out)) resolve(child);
    };
    child.stdout.on('data', check);
    child.stderr.on('data', check);
    child.on('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code}: ${out}`)));
  });
}

/** One workload from pod A for `seconds`: its rate in the workload's unit. */
async function runWorkload(name) {
  if (name === 'tcp') {
    const r = JSON.parse(await cluster.inNs('a', 'iperf3', '-c', ip.b, '-t', String(seconds), '-J'));
    return r.end.sum_received.bits_per_second / 1e9;
  }
  if (name === 'udp') {
    const r = JSON.parse(
      await cluster.inNs(
        'a',
        'iperf3',
        '-c',
        ip.b,
        '-u',
        '-l',
        String(udpSize),
        '-b',
        '0',
        '-t',
        String(seconds),
        '-J',
      ),
    );
    const s = r.end.sum;
    return (s.packets - s.lost_packets) / s.seconds;
  }
  const out = await cluster.inNs(
    'a',
    process.execPath,
    path.join(here, 'connrate.mjs'),
    'client',
    ip.b,
    String(CONN_PORT),
    String(seconds),
    String(concurrency),
  );
  const r = JSON.parse(out);
  return r.connections / r.seconds;
}

/** A workload with the agent running: its rate, the agent's cores, RSS, events read and events lost. */
async function withAgent(agent, name) {
  const before = await agent.totals();
  const cpu0 = agent.cpuSeconds();
  const t0 = process.hrtime.bigint();
  const rate = await runWorkload(name);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const cores = (agent.cpuSeconds() - cpu0) / wall;
  const rss = agent.rssMiB();
  await sleep(1200); // one metrics interval: the kernel's lost count is collected
  const after = await agent.totals();
  const lostBy = Object.fromEntries(
    Object.entries(after.lostBy)
      .map(([k, v]) => [k, v - (before.lostBy[k] ?? 0)])
      .filter(([, v]) => v > 0),
  );
  return { rate, cores, rss, events: after.parsed - before.parsed, lost: after.lost - before.lost, lostBy };
}

/** Per-program BPF statistics of the agent: id → { name, runs, ns }. */
async function bpfStats(agent) {
  const ids = agent.programIds();
  const progs = JSON.parse(await sh('bpftool', '-j', 'prog', 'show'));
  const out = new Map();
  for (const p of progs)
    if (ids.has(p.id)) out.set(p.id, { name: p.name, runs: p.run_cnt ?? 0, ns: p.run_time_ns ?? 0 });
  return out;
}

const results = []; // { round, workload, level: 'none' | 'low' | 'high', rate, cores?, rss?, events?, lost? }
const costs = []; // { level, workload, programs: [{ name, runs, nsPerRun }], bpfCores, agentCores, events, usPerEvent }

async function main() {
  await cluster.setup();
  // A wider port range in pod A: the short-connection loop opens tens of thousands of connections.
  await cluster.inNs('a', 'sysctl', '-qw', 'net.ipv4.ip_local_port_range=1024 65000');
  await serveInB(['iperf3', '-s', '-B', ip.b, '--forceflush'], /Server listening/);
  await serveInB(
    [process.execPath, path.join(here, 'connrate.mjs'), 'server', ip.b, String(CONN_PORT)],
    /listening/,
  );
  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs, ${rounds} round(s) of ${seconds} s per workload; ` +
      `workloads ${workloads.join(', ')}; levels ${levels.join(', ')}; plugins ${plugins.join(', ')}; packetparser object ${args['packetparser-object'] ?? "(the plugin's)"}`,
  );
  for (let round = 1; round <= rounds; round++) {
    // Odd rounds run without the agent first, even rounds last, so a machine whose load drifts during a round
    // does not favour one side of the ratio.
    const order = ['none', ...levels];
    if (round % 2 === 0) order.reverse();
    for (const level of order) {
      if (level === 'none') {
        for (const w of workloads) {
          const rate = await runWorkload(w);
          results.push({ round, workload: w, level, rate });
          console.log(`round ${round} ${w} without agent: ${fmtRate(w, rate)}`);
        }
        continue;
      }
      const agent = await cluster.startAgent(level, { plugins, object: args['packetparser-object'] });
      try {
        for (const w of workloads) {
          const r = await withAgent(agent, w);
          results.push({ round, workload: w, level, ...r });
          console.log(
            `round ${round} ${w} agent ${level}: ${fmtRate(w, r.rate)}, agent ${r.cores.toFixed(2)} cores, ` +
              `RSS ${r.rss.toFixed(0)} MiB, ${r.events} events, ${r.lost} lost` +
              (r.lost > 0
                ? ` (${Object.entries(r.lostBy)
                    .map(([k, v]) => `${k} ${v}`)
                    .join(', ')})`
                : ''),
          );
        }
      } finally {
        await agent.stop();
      }
    }
  }
  if (!args['no-costs']) await measureCosts();
  report();
}

/** The agent once more per level with BPF run-time statistics on. */
async function measureCosts() {
  const previous = (await sh('sysctl', '-n', 'kernel.bpf_stats_enabled')).trim();
  await sh('sysctl', '-qw', 'kernel.bpf_stats_enabled=1');
  try {
    for (const level of levels) {
      const agent = await cluster.startAgent(level, { plugins, object: args['packetparser-object'] });
      try {
        for (const w of workloads) {
          const s0 = await bpfStats(agent);
          const t0 = process.hrtime.bigint();
          const r = await withAgent(agent, w);
          const s1 = await bpfStats(agent);
          const wall = Number(process.hrtime.bigint() - t0) / 1e9;
          const programs = [];
          let ns = 0;
          for (const [id, p] of s1) {
            const runs = p.runs - (s0.get(id)?.runs ?? 0);
            const dt = p.ns - (s0.get(id)?.ns ?? 0);
            ns += dt;
            if (runs > 0) programs.push({ name: p.name, runs, nsPerRun: dt / runs });
          }
          programs.sort((a, b) => b.runs * b.nsPerRun - a.runs * a.nsPerRun);
          costs.push({
            level,
            workload: w,
            programs,
            bpfCores: ns / 1e9 / wall,
            agentCores: r.cores,
            events: r.events,
            usPerEvent: r.events > 0 ? (r.cores * wall * 1e6) / r.events : NaN,
          });
        }
      } finally {
        await agent.stop();
      }
    }
  } finally {
    await sh('sysctl', '-qw', `kernel.bpf_stats_enabled=${previous}`);
  }
}

function fmtRate(w, v) {
  if (w === 'tcp') return `${v.toFixed(2)} Gbit/s`;
  return `${Math.round(v).toLocaleString('en-US')} ${WORKLOADS[w].unit}`;
}

const GOALS = { high: { tcp: 0.95, conn: 0.95, udp: 0.95 }, low: { tcp: 0.9 } };

function report() {
  console.log('\nratio = rate with the agent / rate without it in the same round; range over rounds');
  const summary = [];
  for (const w of workloads) {
    const base = results.filter((r) => r.workload === w && r.level === 'none');
    console.log(
      `${WORKLOADS[w].title} (${WORKLOADS[w].unit}), without agent: ${range(
        base.map((r) => r.rate),
        (v) => fmtRate(w, v),
      )}`,
    );
    for (const level of levels) {
      const runs = results.filter((r) => r.workload === w && r.level === level);
      const ratios = runs.map((r) => r.rate / base.find((b) => b.round === r.round).rate);
      const goal = GOALS[level][w];
      const met =
        goal === undefined
          ? ''
          : Math.min(...ratios) >= goal
            ? `  goal ≥ ${goal} met`
            : `  goal ≥ ${goal} NOT met`;
      const events = runs.reduce((s, r) => s + r.events, 0);
      const lost = runs.reduce((s, r) => s + r.lost, 0);
      console.log(
        `  ${level.padEnd(4)} ratio ${range(ratios, (v) => v.toFixed(3))}; agent ${range(
          runs.map((r) => r.cores),
          (v) => v.toFixed(2),
        )} cores, ` +
          `RSS ≤ ${Math.max(...runs.map((r) => r.rss)).toFixed(0)} MiB, ${events.toLocaleString('en-US')} events, ${lost} lost${met}`,
      );
      summary.push({
        workload: w,
        level,
        ratioMin: Math.min(...ratios),
        ratioMax: Math.max(...ratios),
        coresMax: Math.max(...runs.map((r) => r.cores)),
        rssMax: Math.max(...runs.map((r) => r.rss)),
        events,
        lost,
      });
    }
  }
  if (costs.length) {
    console.log('\nwhere the time goes (one more run per workload with kernel.bpf_stats_enabled=1):');
    for (const c of costs) {
      const progs = c.programs
        .slice(0, 6)
        .map((p) => `${p.name} ${p.runs.toLocaleString('en-US')} runs × ${p.nsPerRun.toFixed(0)} ns`)
        .join(', ');
      console.log(
        `  ${c.level.padEnd(4)} ${c.workload.padEnd(4)} kernel: BPF programs ${c.bpfCores.toFixed(3)} cores (${progs || 'no runs'}); ` +
          `user space: agent ${c.agentCores.toFixed(2)} cores, ${c.events.toLocaleString('en-US')} events, ` +
          `${Number.isFinite(c.usPerEvent) ? `${c.usPerEvent.toFixed(2)} µs CPU per event` : 'no events'}`,
      );
    }
  }
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${os.cpus().length} CPUs (the agent shares them with the traffic)`,
  );
  if (args.json) console.log(`RESULT ${JSON.stringify({ rounds, seconds, summary, costs })}`);
}

/** "min–max" of values (one value: itself). */
function range(values, f) {
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  return lo === hi ? f(lo) : `${f(lo)}–${f(hi)}`;
}

let cleaned;
async function cleanup() {
  cleaned ??= (async () => {
    for (const s of servers) if (s.exitCode === null) s.kill('SIGTERM');
    await cluster.destroy();
  })();
  return cleaned;
}
for (const sig of ['SIGINT', 'SIGTERM'])
  process.once(sig, () => {
    void cleanup().finally(() => process.exit(130));
  });

try {
  await main();
} catch (err) {
  console.error(`bench failed: ${err.stack ?? err}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
