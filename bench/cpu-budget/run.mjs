// CPU budget bench: a flood of small UDP datagrams at the sender's maximum between two pod namespaces, through a
// node namespace where the `retina-agent` binary runs packetparser on both pods' veths (low aggregation: one event per
// packet and hook). Two phases in one run, same flood, same agent settings:
//   1. no budget: what happens today (the agent takes what the traffic costs; the ring buffer overflows when the
//      reader falls behind);
//   2. `cpuBudget` (default: half of what phase 1 used): the agent samples kernel events to stay within it.
// For every 5 s window it prints the agent's CPU (cores, /proc/<pid>/stat: every thread) against the budget
// (goal: within ±10% of it, and never above 1.1×), events lost in the kernel (ring buffer full) and in the reader, the
// sampling rate and events sampled away, the slowest of the /metrics scrapes (one per second; goal: every one
// under 100 ms), and how long the agent's threads waited on a run queue for a CPU (/proc/<pid>/task/*/schedstat): on
// a shared machine the agent may not get the CPU it needs, and the bench says when that happened.
//
//   pod A ── veth ── node namespace (agent, routing) ── veth ── pod B
//
// usage: node cpu-budget/run.mjs [--seconds 30] [--budget auto|0.5] [--payload 16] [--agent-cpu 0] [--load-cpu 1]
//   --budget auto (default): half the agent's average CPU in the no-budget phase, so the budget binds on any machine;
//   --only budget|none: run one phase only (--only budget needs a number for --budget);
//   --trace: also print every second: the agent's CPU over it, the sampling rate and the scrape time.
// needs: root, built @retina-ts/agent and @retina-ts/plugin-packetparser, iproute2, curl, taskset, a C compiler (cc).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const execFileP = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    budget: { type: 'string', default: 'auto' },
    payload: { type: 'string', default: '16' },
    'agent-cpu': { type: 'string', default: '0' },
    'load-cpu': { type: 'string', default: '1' },
    only: { type: 'string', default: '' },
    trace: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(args.seconds);
// auto: half of what the agent used without a budget in this run, so the budget binds whatever the machine's pace.
const BUDGET = args.budget === 'auto' ? 'auto' : Number(args.budget);
const PAYLOAD = Number(args.payload);
const WINDOW_S = 5;
const SCRAPE_GOAL_MS = 100;
// Run-queue wait per second at which a window is called starved: the agent was kept from its CPU that much.
const STARVED_MS = 50;
const PORT = 9999;
if (!(SECONDS >= WINDOW_S) || !(BUDGET === 'auto' ? args.only !== 'budget' : BUDGET >= 0.01 && BUDGET <= 64) || !(PAYLOAD >= 0 && PAYLOAD <= 1400) || !['', 'budget', 'none'].includes(args.only)) {
  console.error('bench: --seconds >= 5, --budget 0.01..64 cores or auto (not with --only budget), --payload 0..1400, --only budget|none');
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('bench: needs root (network namespaces and BPF)');
  process.exit(2);
}

const tag = `rtcb${process.pid % 100000}`;
const ns = { node: `${tag}n`, a: `${tag}a`, b: `${tag}b` };
const dev = { ha: `${tag}ha`, hb: `${tag}hb`, a: `${tag}a0`, b: `${tag}b0` };
const NET = '10.246';
const addr = { a: `${NET}.1.1`, gwA: `${NET}.1.254`, b: `${NET}.2.1`, gwB: `${NET}.2.254` };
const work = mkdtempSync(path.join(os.tmpdir(), 'rts-cpubench-'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const fmt = (n, d = 0) => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a');

async function sh(cmd, ...argv) {
  const { stdout } = await execFileP(cmd, argv, { maxBuffer: 64 << 20 });
  return stdout;
}
const ipn = (name, ...argv) => sh('ip', '-n', name, ...argv);

// ---------------------------------------------------------------------------------------------------------------
// Namespaces

async function setup() {
  for (const name of Object.values(ns)) await sh('ip', 'netns', 'add', name);
  await sh('ip', 'link', 'add', dev.a, 'netns', ns.a, 'type', 'veth', 'peer', 'name', dev.ha, 'netns', ns.node);
  await sh('ip', 'link', 'add', dev.b, 'netns', ns.b, 'type', 'veth', 'peer', 'name', dev.hb, 'netns', ns.node);
  for (const name of Object.values(ns)) {
    await sh('ip', 'netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    await sh('ip', 'netns', 'exec', name, 'sysctl', '-qw', `net.ipv4.ip_forward=${name === ns.node ? 1 : 0}`);
    await ipn(name, 'link', 'set', 'lo', 'up');
  }
  await ipn(ns.a, 'addr', 'add', `${addr.a}/24`, 'dev', dev.a);
  await ipn(ns.b, 'addr', 'add', `${addr.b}/24`, 'dev', dev.b);
  await ipn(ns.node, 'addr', 'add', `${addr.gwA}/24`, 'dev', dev.ha);
  await ipn(ns.node, 'addr', 'add', `${addr.gwB}/24`, 'dev', dev.hb);
  for (const [name, d] of [[ns.a, dev.a], [ns.b, dev.b], [ns.node, dev.ha], [ns.node, dev.hb]]) await ipn(name, 'link', 'set', d, 'up');
  await ipn(ns.a, 'route', 'add', 'default', 'via', addr.gwA);
  await ipn(ns.b, 'route', 'add', 'default', 'via', addr.gwB);
  // Permanent neighbours: no ARP exchange in the measured traffic.
  const mac = async (name, d) => JSON.parse(await ipn(name, '-j', 'link', 'show', d))[0].address;
  await ipn(ns.a, 'neigh', 'replace', addr.gwA, 'lladdr', await mac(ns.node, dev.ha), 'dev', dev.a, 'nud', 'permanent');
  await ipn(ns.node, 'neigh', 'replace', addr.b, 'lladdr', await mac(ns.b, dev.b), 'dev', dev.hb, 'nud', 'permanent');
}

let tornDown;
function teardown() {
  tornDown ??= (async () => {
    await stopAgent();
    for (const name of Object.values(ns)) await sh('ip', 'netns', 'del', name).catch(() => {});
    rmSync(work, { recursive: true, force: true });
  })();
  return tornDown;
}

// ---------------------------------------------------------------------------------------------------------------
// Sender (bench/packetparser/sender.c: sendmmsg batches, unpaced)

// A name of its own, told apart from other benches' senders running on the same machine.
const senderBin = path.join(work, 'rts-cpubudget-flood');
let sender;

function startSender(ms) {
  const argv = ['-s', addr.a, '-n', '1', '-d', addr.b, '-m', '1', '-p', String(PORT), '-l', String(PAYLOAD), '-t', String(ms), '-r', '0'];
  const child = spawn('ip', ['netns', 'exec', ns.a, 'taskset', '-c', args['load-cpu'], senderBin, ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  sender = child;
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      sender = undefined;
      const m = /sent=(\d+) elapsed_ns=(\d+) failed=(\d+)/.exec(out);
      if (code !== 0 || !m) return reject(new Error(`sender exited with ${code ?? signal}: ${err || out}`));
      resolve({ sent: Number(m[1]), seconds: Number(m[2]) / 1e9 });
    });
  });
}

/**
 * Floods for `ms`. A sender killed from outside (this machine is shared, and processes in test namespaces have been
 * seen killed by others' clean-ups) is started again for the time left; the restarts are reported.
 */
async function flood(ms) {
  const end = performance.now() + ms;
  const total = { sent: 0, seconds: 0, restarts: 0 };
  while (end - performance.now() > 200) {
    try {
      const r = await startSender(Math.round(end - performance.now()));
      total.sent += r.sent;
      total.seconds += r.seconds;
    } catch (err) {
      if (!/SIGKILL|SIGTERM/.test(err.message)) throw err;
      total.restarts++;
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------------------------
// The agent

let agent;
const CLOCK_TICKS = Number((await sh('getconf', 'CLK_TCK')).trim()) || 100;

async function startAgent(budget) {
  const require = createRequire(import.meta.url);
  const cli = path.join(path.dirname(require.resolve('@retina-ts/agent/package.json')), 'dist', 'cli.js');
  readFileSync(cli); // a clear ENOENT when the agent is not built
  const config = path.join(work, 'config.yaml');
  writeFileSync(
    config,
    [
      'apiServer: { host: 127.0.0.1, port: 10093 }',
      'logLevel: info',
      'enabledPlugin: [packetparser]',
      'enablePodLevel: true',
      'bypassLookupIPOfInterest: true',
      'dataAggregationLevel: low',
      // Lost and sampled-away counters are collected every interval; a short one shows them per window.
      'metricsIntervalDuration: 1s',
      ...(budget ? [`cpuBudget: ${budget}`] : []),
      'plugins:',
      '  packetparser:',
      '    hostInterface: false',
      `    interfaces: [${dev.ha}, ${dev.hb}]`,
    ].join('\n'),
  );
  const child = spawn('ip', ['netns', 'exec', ns.node, 'taskset', '-c', args['agent-cpu'], process.execPath, cli, '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // No cluster: the agent runs standalone with the interfaces named above.
    env: { ...process.env, NODE_NAME: `${tag}-node`, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' },
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const rateChanges = [];
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const rec = JSON.parse(line);
        if (String(rec.msg).startsWith('sampling rate changed')) rateChanges.push({ ...rec, at: performance.now() });
      } catch {
        // Not a log line.
      }
    }
  });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  agent = { child, exited, rateChanges };
  // Ready: /plugins says packetparser is running.
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`the agent exited (${child.exitCode}): ${stderr}`);
    const r = await curl('/plugins').catch(() => undefined);
    const running = (() => {
      try {
        return JSON.parse(r?.body ?? '').plugins.some((p) => p.name === 'packetparser' && p.state === 'running');
      } catch {
        return false;
      }
    })();
    if (running) break;
    if (i > 300) throw new Error(`packetparser did not reach running within 30 s: ${r?.body ?? stderr}`);
    await sleep(100);
  }
  return agent;
}

async function stopAgent() {
  if (!agent || agent.child.exitCode !== null) return;
  agent.child.kill('SIGTERM');
  if ((await Promise.race([agent.exited, sleep(20_000).then(() => 'timeout')])) === 'timeout') agent.child.kill('SIGKILL');
}

/**
 * Seconds the agent's threads have waited on a run queue for a CPU so far (/proc/<pid>/task/<tid>/schedstat, second
 * field, ns): on a shared machine the agent may not get the CPU it needs, and this says how long it did not.
 */
function agentRunQueueWait() {
  let ns = 0;
  let tasks = [];
  try {
    tasks = readdirSync(`/proc/${agent.child.pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tasks) {
    try {
      ns += Number(readFileSync(`/proc/${agent.child.pid}/task/${tid}/schedstat`, 'utf8').split(' ')[1]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return ns / 1e9;
}

function agentCpuSeconds() {
  const stat = readFileSync(`/proc/${agent.child.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS;
}

/** GET on the agent's listener inside the node namespace; curl measures the request itself. */
async function curl(p) {
  const out = await sh('ip', 'netns', 'exec', ns.node, 'curl', '-s', '--max-time', '5', '-w', '\n%{time_total}', `http://127.0.0.1:10093${p}`);
  const nl = out.lastIndexOf('\n');
  return { body: out.slice(0, nl), ms: Number(out.slice(nl + 1)) * 1000 };
}

/** A /metrics scrape that may time out (5 s): a timeout counts as a scrape of at least 5 s, with no body. */
async function scrape() {
  try {
    return await curl('/metrics');
  } catch (err) {
    if (err.code === 28) return { body: undefined, ms: 5000, timedOut: true };
    throw err;
  }
}

/** Sum of the samples of `name` whose labels match `labels` (a regex source), from an exposition. */
function sample(body, name, labels = '') {
  let total = 0;
  const re = new RegExp(`^${name}\\{([^}]*)\\} (\\S+)$`, 'gm');
  for (const m of body.matchAll(re)) if (new RegExp(labels).test(m[1])) total += Number(m[2]);
  return total;
}

function counters(body) {
  const p = 'controlplane_networkobservability_';
  return {
    kernelLost: sample(body, `${p}lost_events_counter`, 'type="kernel".*reason="packetparser"|reason="packetparser".*type="kernel"'),
    readerLost: sample(body, `${p}lost_events_counter`, 'type="buffered_channel"'),
    parsed: sample(body, `${p}parsed_packets_counter`),
    sampledAway: sample(body, `${p}sampled_away_events_total`, 'plugin="packetparser"'),
    rate: sample(body, `${p}sampling_rate`, 'plugin="packetparser"'),
  };
}

// ---------------------------------------------------------------------------------------------------------------
// One phase

async function phase(budget) {
  console.log(`\n== ${budget ? `cpuBudget ${budget} cores` : 'no budget (what happens today)'}: ${SECONDS} s flood, ${PAYLOAD}-byte UDP payload ==`);
  await startAgent(budget);
  await sleep(2000);
  const first = await curl('/metrics');
  let prev = { cpu: agentCpuSeconds(), wait: agentRunQueueWait(), t: performance.now(), c: counters(first.body) };
  const windows = [];
  let scrapes = [];
  const flooding = flood(SECONDS * 1000);
  // Awaited after the windows; a failure meanwhile must not end the process before the namespaces are removed.
  flooding.catch(() => {});
  const start = performance.now();
  const seconds = [];
  let lastSecond = { cpu: prev.cpu, wait: prev.wait, t: prev.t };
  let nextScrape = start + 1000;
  let nextWindow = start + WINDOW_S * 1000;
  while (windows.length < Math.floor(SECONDS / WINDOW_S)) {
    await sleep(Math.max(0, Math.min(nextScrape, nextWindow) - performance.now()));
    const now = performance.now();
    if (now >= nextScrape) {
      nextScrape += 1000;
      const s = await scrape();
      scrapes.push(s);
      const cpu = agentCpuSeconds();
      const wait = agentRunQueueWait();
      const t = performance.now();
      const dt = (t - lastSecond.t) / 1000;
      seconds.push({
        t: (t - start) / 1000,
        cores: (cpu - lastSecond.cpu) / dt,
        waitMs: ((wait - lastSecond.wait) / dt) * 1000,
        rate: s.body === undefined ? undefined : counters(s.body).rate || 1,
        ms: s.ms,
      });
      lastSecond = { cpu, wait, t };
    }
    if (now >= nextWindow) {
      nextWindow += WINDOW_S * 1000;
      const cpu = agentCpuSeconds();
      const wait = agentRunQueueWait();
      const t = performance.now();
      // The counters of the latest scrape that answered (a window whose scrapes all timed out shows none).
      const answered = scrapes.filter((x) => x.body !== undefined).at(-1);
      const c = answered ? counters(answered.body) : prev.c;
      windows.push({
        cores: (cpu - prev.cpu) / ((t - prev.t) / 1000),
        waitMs: ((wait - prev.wait) / ((t - prev.t) / 1000)) * 1000,
        kernelLost: c.kernelLost - prev.c.kernelLost,
        readerLost: c.readerLost - prev.c.readerLost,
        parsed: c.parsed - prev.c.parsed,
        sampledAway: c.sampledAway - prev.c.sampledAway,
        rate: c.rate,
        maxScrapeMs: Math.max(...scrapes.map((s) => s.ms)),
        scrapes: scrapes.length,
        slowScrapes: scrapes.filter((s) => s.ms >= SCRAPE_GOAL_MS).length,
        timedOut: scrapes.filter((s) => s.timedOut).length,
        // Highest rate seen at this window's scrapes: 1 means no sampling was needed in it.
        maxRate: Math.max(1, ...scrapes.filter((x) => x.body !== undefined).map((x) => counters(x.body).rate || 1)),
      });
      scrapes = [];
      prev = { cpu, wait, t, c };
    }
  }
  const sent = await flooding;
  // Counters are collected every second: one more interval settles the last window's losses.
  await sleep(1500);
  const tail = counters((await curl('/metrics').catch(() => curl('/metrics'))).body);
  const late = { kernelLost: tail.kernelLost - prev.c.kernelLost, readerLost: tail.readerLost - prev.c.readerLost };
  const changes = agent.rateChanges.length;
  await stopAgent();

  console.log('window  agent cores  vs budget  run-queue wait  events read/s  sampled away/s  rate   kernel lost  reader lost  slowest /metrics');
  windows.forEach((w, i) => {
    const vs = budget ? `${fmt((w.cores / budget) * 100)}%` : '-';
    console.log(
      `${String(i + 1).padStart(6)}  ${fmt(w.cores, 3).padStart(11)}  ${vs.padStart(9)}  ${`${fmt(w.waitMs)} ms/s`.padStart(14)}  ${fmt(w.parsed / WINDOW_S).padStart(13)}  ` +
        `${fmt(w.sampledAway / WINDOW_S).padStart(14)}  ${String(w.rate || 1).padStart(5)}  ${fmt(w.kernelLost).padStart(11)}  ` +
        `${fmt(w.readerLost).padStart(11)}  ${(w.timedOut ? `${w.timedOut} timed out (5 s)` : `${fmt(w.maxScrapeMs, 1)} ms`).padStart(16)}`,
    );
  });
  if (args.trace) {
    console.log('second  agent cores  run-queue wait  rate  /metrics');
    for (const x of seconds) {
      console.log(`${fmt(x.t, 1).padStart(6)}  ${fmt(x.cores, 3).padStart(11)}  ${`${fmt(x.waitMs)} ms/s`.padStart(14)}  ${String(x.rate ?? '-').padStart(4)}  ${fmt(x.ms, 1)} ms`);
    }
    for (const r of agent.rateChanges) {
      const { at, from, to, usageCores, debtCpuSeconds, arrivalsPerSecond, fixedCores, perEventUs, lostEvents } = r;
      console.log(
        `  at ${fmt((at - start) / 1000, 2)} s: rate ${from} → ${to}`,
        JSON.stringify({ usageCores, debtCpuSeconds, arrivalsPerSecond, fixedCores, perEventUs, lostEvents }),
      );
    }
  }
  const pps = sent.sent / sent.seconds;
  const lost = windows.reduce((a, w) => a + w.kernelLost + w.readerLost, 0) + late.kernelLost + late.readerLost;
  const slow = windows.reduce((a, w) => a + w.slowScrapes, 0);
  const nScrapes = windows.reduce((a, w) => a + w.scrapes, 0);
  const avg = windows.reduce((a, w) => a + w.cores, 0) / windows.length;
  const restarts = sent.restarts ? ` (sender killed from outside and restarted ${sent.restarts}×; datagrams/s over the time it ran)` : '';
  console.log(`sender: ${fmt(pps)} datagrams/s (${fmt(sent.sent)} in ${fmt(sent.seconds, 1)} s), 2 hooks each${restarts}; agent average ${fmt(avg, 3)} cores`);
  console.log(`events lost: ${fmt(lost)} (after the flood: ${fmt(late.kernelLost + late.readerLost)}); /metrics: ${slow} of ${nScrapes} scrapes ≥ ${SCRAPE_GOAL_MS} ms`);
  // A scrape is slow when the agent could not run: the run-queue wait of the second it fell in says so.
  const slowSeconds = seconds.filter((x) => x.ms >= SCRAPE_GOAL_MS);
  if (slowSeconds.length) {
    console.log(`slow scrapes: ${slowSeconds.map((x) => `${fmt(x.ms)} ms at ${fmt(x.t)} s (agent waited ${fmt(x.waitMs)} ms/s for a CPU)`).join(', ')}`);
  }
  const waits = windows.map((w) => w.waitMs);
  console.log(
    `run-queue wait (the agent ready to run but every CPU it may use busy with other work): ${fmt(Math.min(...waits))}–${fmt(Math.max(...waits))} ms/s per window, ` +
      `${windows.filter((w) => w.waitMs >= STARVED_MS).length} of ${windows.length} windows at ${STARVED_MS} ms/s or more; load average ${os.loadavg().map((l) => fmt(l, 1)).join(', ')}`,
  );
  if (budget) {
    const within = windows.filter((w) => Math.abs(w.cores - budget) <= budget * 0.1).length;
    // Under the budget while its traffic cost less than the budget (the sender slowed): nothing was sampled in it, or
    // so little that even every sampled-away event at the window's CPU per event read (an upper bound: the fixed part
    // counted as per-event cost) would have kept it under the budget.
    const fits = (w) => w.cores < budget * 0.9 && (w.maxRate === 1 || (w.parsed > 0 && (w.cores * (w.parsed + w.sampledAway)) / w.parsed < budget));
    const unbound = windows.filter(fits).length;
    const over = windows.filter((w) => w.cores > budget * 1.1).length;
    const rates = seconds.map((x) => x.rate).filter((r) => r !== undefined);
    const seen = rates.filter((r, i) => i > 0 && r !== rates[i - 1]).length;
    console.log(
      `rate changes: ${changes} logged (factor ≥ 1.5), ${seen} seen between the 1 s scrapes (rates ${Math.min(...rates)}–${Math.max(...rates)}); ` +
        `windows within ±10% of the budget: ${within} of ${windows.length}; above 1.1× the budget: ${over}; ` +
        `below it with traffic that cost less than the budget: ${unbound}`,
    );
    const missed = windows.filter((w) => Math.abs(w.cores - budget) > budget * 0.1 && !fits(w));
    if (missed.length) {
      console.log(
        `windows that missed: ${missed.map((w) => `${windows.indexOf(w) + 1} (${fmt((w.cores / budget) * 100)}%, run-queue wait ${fmt(w.waitMs)} ms/s)`).join(', ')}`,
      );
    }
    const met = within + unbound === windows.length && lost === 0 && slow === 0;
    console.log(
      `goal (every 5 s window within ±10% of the budget unless its traffic cost less, nothing lost, every scrape < ${SCRAPE_GOAL_MS} ms): ${met ? 'met' : 'NOT met'}`,
    );
  }
  return { windows, lost, slow, avg, pps };
}

// ---------------------------------------------------------------------------------------------------------------

process.on('SIGINT', () => {
  sender?.kill('SIGKILL');
  void teardown().then(() => process.exit(130));
});

try {
  await sh('cc', '-O2', '-Wall', '-o', senderBin, path.join(here, '..', 'packetparser', 'sender.c'));
  await setup();
  console.log(`CPU budget bench: agent on CPU ${args['agent-cpu']}, sender on CPU ${args['load-cpu']}, ${os.cpus().length} CPUs, ${os.cpus()[0]?.model ?? ''}`);
  const today = args.only !== 'budget' ? await phase(0) : undefined;
  if (args.only !== 'none') {
    const budget = BUDGET === 'auto' ? Math.max(0.02, Math.round((today?.avg ?? 0) * 500) / 1000) : BUDGET;
    if (BUDGET === 'auto') console.log(`\nbudget: auto = half the agent's CPU without one = ${budget} cores`);
    await phase(budget);
  }
} finally {
  sender?.kill('SIGKILL');
  await teardown();
}
