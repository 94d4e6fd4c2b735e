// advanced-metrics benchmark, in one run:
//  1. flows per second through Enricher → AdvancedFlowMetrics with 1,000 pods in the IP cache and up to 10,000
//     active series, against a baseline measured in the same run on the same flows: the Enricher handing its
//     output to a no-op consumer (what the agent does per flow when no advanced metrics are configured);
//  2. the same through the real FlowBus (publisher → bus → enricher → metrics, asynchronous delivery), counting
//     flows the bus dropped;
//  3. the time of one /metrics exposition with 10k, 50k and 100k advanced series, each size in a fresh process so
//     the heap of the other phases does not weigh on it;
//  4. the idle RSS of the real `retina-agent` binary started standalone (default plugins, loopback listener).
//
// Flows are synthetic and built before timing, so phases 1 and 2 measure the per-flow cost of enrichment and
// counting on one core, without the kernel.
//
// usage: npm run bench:advanced-metrics -w @retina-ts/bench -- [--seconds 2] [--idle-seconds 5] [--no-agent]
// needs: built @retina-ts/core and @retina-ts/agent (and its plugins, for phase 4).
import { fork, spawn } from 'node:child_process';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  AdvancedFlowMetrics,
  Enricher,
  FlowBus,
  FlowType,
  InMemoryIpCache,
  IpVersion,
  TrafficDirection,
  Verdict,
  createMetricsModule,
} from '@retina-ts/core';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    'idle-seconds': { type: 'string', default: '5' },
    'no-agent': { type: 'boolean', default: false },
    'exposition-child': { type: 'string' },
  },
});
const seconds = Number(args.seconds);
const BATCH = 4096;
const PODS = 1000;
const NAMESPACES = 20;
const CONTEXT = ['ip', 'namespace', 'podname', 'workload'];

const podIp = (i) => `10.10.${i >> 8}.${i & 255}`;

function podCache() {
  const cache = new InMemoryIpCache();
  for (let i = 0; i < PODS; i++) {
    cache.upsertPod({
      namespace: `ns-${i % NAMESPACES}`,
      name: `app-${i}-5f7c9d8b6-x${i}`,
      ips: [podIp(i)],
      labels: { app: `app-${i}`, tier: 'web' },
      workload: { kind: 'ReplicaSet', name: `app-${i}-5f7c9d8b6` },
      nodeName: 'node-a',
    });
  }
  return cache;
}

function flow(src, dst, i) {
  return {
    timeNs: BigInt(i),
    verdict: Verdict.FORWARDED,
    type: FlowType.L3_L4,
    nodeName: 'node-a',
    trafficDirection: i & 1 ? TrafficDirection.INGRESS : TrafficDirection.EGRESS,
    isReply: false,
    ip: { source: src, destination: dst, ipVersion: IpVersion.IPv4 },
    l4: {
      tcp: { sourcePort: 30000 + (i % 20000), destinationPort: 8080, flags: { ACK: true, PSH: i % 3 === 0 } },
    },
    extensions: { bytes: 100 + (i % 1400) },
  };
}

/** Flows over `pairs` distinct (source pod, destination pod) pairs, cycling. */
function flowsOverPairs(pairs, count) {
  const out = new Array(count);
  for (let i = 0; i < count; i++) {
    const p = i % pairs;
    const src = p % PODS;
    const dst = (src + 1 + Math.floor(p / PODS)) % PODS;
    out[i] = flow(podIp(src), podIp(dst), p);
  }
  return out;
}

function toBatches(flows) {
  const batches = [];
  for (let i = 0; i < flows.length; i += BATCH) batches.push(flows.slice(i, i + BATCH));
  return batches;
}

/**
 * Runs `fn(batch)` over `batches` for about `seconds`; returns flows per CPU-second of this process (the figure
 * that holds on a busy machine) and wall-clock flows per second.
 */
function rate(batches, fn) {
  // Warm-up so the optimising compiler has seen the path.
  for (const b of batches) fn(b);
  let n = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const budget = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < budget) {
    for (const b of batches) {
      fn(b);
      n += b.length;
    }
    elapsed = process.hrtime.bigint() - start;
  }
  const cpu = process.cpuUsage(cpu0);
  return { cpu: n / ((cpu.user + cpu.system) / 1e6), wall: n / (Number(elapsed) / 1e9) };
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');

function advancedMetrics(remoteContext, families, maxSeriesPerMetric) {
  const metrics = createMetricsModule();
  const adv = new AdvancedFlowMetrics({
    metrics,
    config: { remoteContext },
    ...(maxSeriesPerMetric ? { maxSeriesPerMetric } : {}),
  });
  adv.update({
    contextOptions: families.map((metricName) => ({
      metricName,
      sourceLabels: CONTEXT,
      destinationLabels: CONTEXT,
    })),
    namespaces: { exclude: [] },
  });
  return { metrics, adv };
}

let sink = 0;

function throughput(label, remoteContext, families, pairs) {
  const enricher = new Enricher(podCache());
  const { adv } = advancedMetrics(remoteContext, families);
  const batches = toBatches(flowsOverPairs(pairs, 200_000));
  const out = new Array(BATCH);
  // As the agent's enriched stream does: enrich a batch, hand it to the consumer.
  const enrichInto = (b, consume) => {
    const n = b.length;
    for (let i = 0; i < n; i++) out[i] = enricher.enrich(b[i]);
    consume(n === BATCH ? out : out.slice(0, n));
  };
  const noop = (e) => {
    sink += e.length;
  };
  const count = (e) => adv.process(e);
  const baseline = rate(batches, (b) => enrichInto(b, noop));
  const full = rate(batches, (b) => enrichInto(b, count));
  const enriched = batches.map((b) => b.map((f) => enricher.enrich(f)));
  const countingOnly = rate(enriched, count);
  const series = families.reduce((s, f) => s + adv.seriesCount(f), 0);
  console.log(`${label} (${fmt(series)} series), flows per CPU-second [wall-clock flows/s]:`);
  console.log(
    `  enricher → advanced metrics         ${fmt(full.cpu)} [${fmt(full.wall)}]  ratio ${(full.cpu / baseline.cpu).toFixed(2)} of baseline`,
  );
  console.log(`  enricher → no-op consumer (baseline) ${fmt(baseline.cpu)} [${fmt(baseline.wall)}]`);
  console.log(
    `  advanced metrics alone              ${fmt(countingOnly.cpu)} [${fmt(countingOnly.wall)}] (flows enriched beforehand)`,
  );
}

/**
 * Publisher → FlowBus → Enricher → AdvancedFlowMetrics, delivered asynchronously as in the agent. The publisher
 * offers one reader-sized batch per event-loop turn; the bus drops what does not fit (it never blocks).
 */
async function throughBus(remoteContext, families, pairs) {
  const enricher = new Enricher(podCache());
  const { metrics, adv } = advancedMetrics(remoteContext, families);
  const bus = new FlowBus({ metrics });
  bus.subscribe((batch) => adv.process(batch.map((f) => enricher.enrich(f))));
  const batches = toBatches(flowsOverPairs(pairs, 200_000));
  const budget = BigInt(Math.round(seconds * 1e9));
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  let offered = 0;
  let k = 0;
  await new Promise((resolve) => {
    const turn = () => {
      const b = batches[k++ % batches.length];
      for (let i = 0; i < b.length; i++) bus.publish(b[i]);
      offered += b.length;
      if (process.hrtime.bigint() - start < budget) setImmediate(turn);
      else
        setImmediate(function drain() {
          if (bus.size > 0) setImmediate(drain);
          else resolve();
        });
    };
    setImmediate(turn);
  });
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const delivered = bus.published;
  console.log(
    `  via FlowBus (publisher, bus and consumer on one thread): ${fmt(delivered / ((cpu.user + cpu.system) / 1e6))} ` +
      `flows per CPU-second [${fmt(delivered / elapsed)}]; offered ${fmt(offered)}, dropped ${fmt(bus.dropped)}`,
  );
  bus.close();
}

/** Child mode: builds `seriesWanted` forward_count series, scrapes, prints one JSON line. */
async function expositionChild(seriesWanted) {
  const enricher = new Enricher(podCache());
  const { metrics, adv } = advancedMetrics(true, ['forward_count'], 1_000_000);
  // Each pod talks to seriesWanted / PODS external addresses, all egress: one series per (pod, address).
  const perPod = Math.ceil(seriesWanted / PODS);
  let batch = [];
  for (let i = 0; i < seriesWanted; i++) {
    const pod = i % PODS;
    const ext = Math.floor(i / PODS) % perPod;
    const f = flow(podIp(pod), `198.18.${ext >> 8}.${ext & 255}`, 0);
    batch.push(enricher.enrich(f));
    if (batch.length === BATCH) {
      adv.process(batch);
      batch = [];
    }
  }
  adv.process(batch);
  const scrape = async () => {
    const c0 = process.cpuUsage();
    const t = process.hrtime.bigint();
    const { body } = await metrics.expose();
    const wall = Number(process.hrtime.bigint() - t) / 1e6;
    const c = process.cpuUsage(c0);
    return { wall, cpu: (c.user + c.system) / 1e3, bytes: body.length };
  };
  const first = await scrape();
  const next = [];
  for (let i = 0; i < 5; i++) {
    adv.process(batch); // some series changed between scrapes, as in a live agent
    next.push(await scrape());
  }
  next.sort((a, b) => a.cpu - b.cpu);
  const median = next[2];
  process.stdout.write(
    `${JSON.stringify({ series: adv.seriesCount('forward_count'), first, median, rss: process.memoryUsage().rss })}\n`,
  );
}

function exposition(seriesWanted) {
  return new Promise((resolve, reject) => {
    const child = fork(new URL(import.meta.url).pathname, ['--exposition-child', String(seriesWanted)], {
      stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
    });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0)
        return reject(new Error(`exposition child for ${seriesWanted} series exited with ${code}`));
      const r = JSON.parse(out);
      const ms = (x) => `${x.cpu.toFixed(0)} ms CPU [${x.wall.toFixed(0)} ms wall]`;
      console.log(
        `exposition of ${fmt(r.series)} series (${(r.first.bytes / 1e6).toFixed(1)} MB): first scrape ${ms(r.first)}, ` +
          `next scrapes (median of 5) ${ms(r.median)}; process RSS ${(r.rss / 1048576).toFixed(0)} MiB`,
      );
      resolve();
    });
  });
}

/** Starts `retina-agent` standalone on a loopback port, waits `idleSeconds` after it serves, reads its RSS. */
async function agentIdleRss(idleSeconds) {
  const require = createRequire(import.meta.url);
  let cli;
  try {
    cli = path.join(path.dirname(require.resolve('@retina-ts/agent/package.json')), 'dist', 'cli.js');
    readFileSync(cli);
  } catch {
    console.log('agent idle RSS: skipped (@retina-ts/agent is not built: npm run build -w @retina-ts/agent)');
    return;
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'retina-bench-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(config, 'apiServer:\n  host: 127.0.0.1\n  port: 0\n');
  const child = spawn(process.execPath, [cli, '--config', config], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KUBECONFIG: '' },
  });
  const plugins = new Map();
  let serving = false;
  let servingResolve;
  const servingP = new Promise((r) => (servingResolve = r));
  let buf = '';
  child.stdout.on('data', (d) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      let rec;
      try {
        rec = JSON.parse(line);
      } catch {
        continue;
      }
      if (rec.plugin && rec.state) plugins.set(rec.plugin, rec.state);
      if (rec.plugin && rec.level === 'error' && rec.phase) plugins.set(rec.plugin, `failed in ${rec.phase}`);
      if (!serving && typeof rec.msg === 'string' && rec.msg.startsWith('serving /metrics')) {
        serving = true;
        servingResolve();
      }
    }
  });
  child.stderr.resume();
  const exited = new Promise((r) => child.on('exit', r));
  const timeout = new Promise((r) => setTimeout(r, 30_000, 'timeout'));
  if ((await Promise.race([servingP.then(() => 'ok'), exited.then(() => 'exit'), timeout])) !== 'ok') {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    console.log('agent idle RSS: the agent did not start serving /metrics within 30 s');
    return;
  }
  await new Promise((r) => setTimeout(r, idleSeconds * 1000));
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  const states = [...plugins].map(([p, s]) => `${p} ${s}`).join(', ');
  const field = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) / 1024;
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
  if (child.exitCode === null) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
  console.log(
    `agent idle RSS (retina-agent standalone, ${idleSeconds}s after it served /metrics): ` +
      `VmRSS ${field('VmRSS').toFixed(0)} MiB (peak VmHWM ${field('VmHWM').toFixed(0)} MiB); plugins: ${states}`,
  );
}

if (args['exposition-child']) {
  await expositionChild(Number(args['exposition-child']));
} else {
  console.log(`node ${process.version}, ${seconds}s per phase, ${PODS} pods in the IP cache`);
  throughput('remote context, forward_count + forward_bytes', true, ['forward_count', 'forward_bytes'], 5000);
  await throughBus(true, ['forward_count', 'forward_bytes'], 5000);
  throughput(
    'local context, forward_count + forward_bytes + tcp_flag_gauges',
    false,
    ['forward_count', 'forward_bytes', 'tcp_flag_gauges'],
    5000,
  );
  await throughBus(false, ['forward_count', 'forward_bytes', 'tcp_flag_gauges'], 5000);
  for (const n of [10_000, 50_000, 100_000]) await exposition(n);
  if (!args['no-agent']) await agentIdleRss(Number(args['idle-seconds']));
  console.log(
    `load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')} on ${os.cpus().length} CPUs (figures are a floor when other work shares the machine)`,
  );
  if (sink < 0) console.log(sink); // keeps the no-op consumer's work observable
}
