// advanced-metrics benchmark: flows per second through Enricher → AdvancedFlowMetrics with 1,000 pods in the IP
// cache and 10,000 active series, next to the Enricher alone (the baseline, measured in the same run on the same
// flows); then the time of one /metrics exposition with 10k, 50k and 100k advanced series.
//
// Flows are synthetic, built before timing, and handed over in FlowBus-sized batches (4096), so the figures are
// the per-flow cost of enrichment and counting on one core, without the kernel or the bus.
//
// usage: npm run bench:advanced-metrics -w @retina-ts/bench -- [--seconds 2]
// needs: a built @retina-ts/core.
import os from 'node:os';
import { parseArgs } from 'node:util';
import {
  AdvancedFlowMetrics,
  Enricher,
  FlowType,
  InMemoryIpCache,
  IpVersion,
  TrafficDirection,
  Verdict,
  createMetricsModule,
} from '@retina-ts/core';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '2' } } });
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

/**
 * Runs `fn(batch)` over `flows` in batches for about `seconds`; returns flows per CPU-second of this process (the
 * figure that holds on a busy machine; wall-clock rates are printed too).
 */
function rate(flows, fn) {
  const batches = [];
  for (let i = 0; i < flows.length; i += BATCH) batches.push(flows.slice(i, i + BATCH));
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

function throughput(label, remoteContext, families, pairs) {
  const cache = podCache();
  const enricher = new Enricher(cache);
  const metrics = createMetricsModule();
  const adv = new AdvancedFlowMetrics({ metrics, config: { remoteContext } });
  adv.update({
    contextOptions: families.map((metricName) => ({
      metricName,
      sourceLabels: CONTEXT,
      destinationLabels: CONTEXT,
    })),
    namespaces: { exclude: [] },
  });
  const flows = flowsOverPairs(pairs, 200_000);
  const out = new Array(BATCH);
  const enrichOnly = (b) => {
    for (let i = 0; i < b.length; i++) out[i] = enricher.enrich(b[i]);
  };
  const baseline = rate(flows, enrichOnly);
  const full = rate(flows, (b) => {
    enrichOnly(b);
    adv.process(b.length === BATCH ? out : out.slice(0, b.length));
  });
  const enriched = flows.map((f) => enricher.enrich(f));
  const countingOnly = rate(enriched, (b) => adv.process(b));
  const series = families.reduce((s, f) => s + adv.seriesCount(f), 0);
  console.log(
    `${label} (${series.toLocaleString('en-US')} series), flows per CPU-second [wall-clock flows/s]:`,
  );
  console.log(`  enricher → advanced metrics  ${fmt(full.cpu)} [${fmt(full.wall)}]`);
  console.log(
    `  enricher alone (baseline)    ${fmt(baseline.cpu)} [${fmt(baseline.wall)}]  ratio ${(full.cpu / baseline.cpu).toFixed(2)}`,
  );
  console.log(
    `  advanced metrics alone       ${fmt(countingOnly.cpu)} [${fmt(countingOnly.wall)}] (flows enriched beforehand)`,
  );
}

async function exposition(seriesWanted) {
  const cache = podCache();
  const enricher = new Enricher(cache);
  const metrics = createMetricsModule();
  const adv = new AdvancedFlowMetrics({
    metrics,
    config: { remoteContext: true },
    maxSeriesPerMetric: 1_000_000,
  });
  adv.update({
    contextOptions: [{ metricName: 'forward_count', sourceLabels: CONTEXT, destinationLabels: CONTEXT }],
    namespaces: { exclude: [] },
  });
  // Each pod talks to seriesWanted / PODS external addresses, all egress: one series per (pod, address).
  const perPod = Math.ceil(seriesWanted / PODS);
  const batch = [];
  for (let i = 0; i < seriesWanted; i++) {
    const pod = i % PODS;
    const ext = Math.floor(i / PODS) % perPod;
    const f = flow(podIp(pod), `198.18.${ext >> 8}.${ext & 255}`, 0);
    batch.push(enricher.enrich(f));
    if (batch.length === BATCH) adv.process(batch.splice(0));
  }
  adv.process(batch);
  let t = process.hrtime.bigint();
  const first = await metrics.expose();
  const firstMs = Number(process.hrtime.bigint() - t) / 1e6;
  t = process.hrtime.bigint();
  const second = await metrics.expose();
  const secondMs = Number(process.hrtime.bigint() - t) / 1e6;
  console.log(
    `exposition of ${adv.seriesCount('forward_count').toLocaleString('en-US')} series: ${firstMs.toFixed(0)} ms ` +
      `(first scrape, all series new; ${(first.body.length / 1e6).toFixed(1)} MB), ${secondMs.toFixed(0)} ms (next scrape)`,
  );
}

console.log(`node ${process.version}, ${seconds}s per phase, ${PODS} pods in the IP cache`);
throughput('remote context, forward_count + forward_bytes', true, ['forward_count', 'forward_bytes'], 5000);
throughput(
  'local context, forward_count + forward_bytes + tcp_flag_gauges',
  false,
  ['forward_count', 'forward_bytes', 'tcp_flag_gauges'],
  5000,
);
for (const n of [10_000, 50_000, 100_000]) await exposition(n);
console.log(
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${os.cpus().length} CPUs (figures are a floor when other work shares the machine)`,
);
const rss = process.memoryUsage().rss;
console.log(`rss at end: ${(rss / 1048576).toFixed(0)} MiB`);
