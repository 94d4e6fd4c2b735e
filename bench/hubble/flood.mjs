// hubble flood benchmark: /metrics scrape latency and RSS while flows arrive at a flood rate and 50 followers
// (`GetFlows { follow: true }`, in a second process, one connection each) stream them, against the standard control
// plane's /metrics under the same flood in the same run (the baseline: core's metrics module counting every flow).
//
// Each round runs the standard baseline, then Hubble with Retina's default hubble_* metrics and the followers. Scrapes
// are HTTP GETs every 100 ms from this process; RSS is sampled every 100 ms.
//
// usage: npm run bench:hubble-flood -w @retina-ts/bench -- [--seconds 5] [--rounds 3] [--rate 50000] [--followers 50]
// needs: a built @retina-ts/core and @retina-ts/hubble.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, get } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as yieldLoop, setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  FlowBus,
  FlowType,
  IpVersion,
  TrafficDirection,
  Verdict,
  createMetricsModule,
} from '@retina-ts/core';
import { protoDir, startHubble } from '@retina-ts/hubble';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '50000' },
    followers: { type: 'string', default: '50' },
  },
});
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const perSecond = Number(args.rate);
const followers = Number(args.followers);
for (const [k, v] of Object.entries({ seconds, rounds, rate: perSecond, followers })) {
  if (!(v > 0)) {
    console.error(`bench: --${k} must be a positive number`);
    process.exit(2);
  }
}
const CTX = 'sourceEgressContext=pod;destinationIngressContext=pod';
const RETINA_METRICS = [`flow:${CTX}`, `tcp:${CTX}`, `dns:query;${CTX}`, `drop:${CTX}`];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'retina-hubble-flood-'));

/** Flows among 2,000 client pods, 20 namespaces and many ports: a wide, busy node. */
function makeFlows(count) {
  const base = BigInt(Date.now()) * 1_000_000n;
  return Array.from({ length: count }, (_, i) => ({
    timeNs: base + BigInt(i) * 1000n,
    verdict: i % 50 === 0 ? Verdict.DROPPED : Verdict.FORWARDED,
    type: FlowType.L3_L4,
    nodeName: 'bench-node',
    trafficDirection: i % 2 ? TrafficDirection.INGRESS : TrafficDirection.EGRESS,
    ip: { source: `10.10.${(i >> 8) & 255}.${i & 255}`, destination: '10.20.0.7', ipVersion: IpVersion.IPv4 },
    l4: {
      tcp: { sourcePort: 30000 + (i % 30000), destinationPort: 8080, flags: { SYN: i % 7 === 0, ACK: true } },
    },
    source: {
      namespace: `ns-${i % 20}`,
      podName: `client-${i % 2000}-5f7c9d8b6-x${i % 2000}`,
      labels: [`app=client-${i % 2000}`],
      workloads: [{ kind: 'Deployment', name: `client-${i % 2000}` }],
    },
    destination: { namespace: 'shop', podName: `api-${i % 100}`, labels: ['app=api'] },
    isReply: i % 2 === 1,
    extensions: { bytes: 1500, packets: 1 },
  }));
}

function scrapeOnce(port) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - start));
    }).on('error', reject);
  });
}

/** Publishes `perSecond` flows a second for `ms` in 10 ms slices while scraping `port` and sampling RSS. */
async function flood(bus, flows, port, ms) {
  const latencies = [];
  let rssMax = 0;
  let scraping = true;
  const scraper = (async () => {
    while (scraping) {
      latencies.push(await scrapeOnce(port));
      await sleep(100);
    }
  })();
  let lagMax = 0;
  let last = performance.now();
  const rssTimer = setInterval(() => {
    const now = performance.now();
    lagMax = Math.max(lagMax, now - last - 100);
    last = now;
    rssMax = Math.max(rssMax, process.memoryUsage.rss());
  }, 100);
  const start = performance.now();
  let published = 0;
  let i = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    const due = Math.round((perSecond * Math.min(elapsed, ms)) / 1000);
    for (; published < due; published++) {
      bus.publish(flows[i]);
      i = (i + 1) % flows.length;
    }
    if (elapsed >= ms) break;
    await sleep(10);
  }
  scraping = false;
  await scraper;
  clearInterval(rssTimer);
  while (bus.size > 0) await yieldLoop();
  latencies.sort((a, b) => a - b);
  const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  if (process.env.FLOOD_DEBUG) console.error({ lagMax });
  return {
    p50: q(0.5),
    p90: q(0.9),
    max: latencies.at(-1),
    scrapes: latencies.length,
    rssMb: rssMax / 2 ** 20,
  };
}

async function standardRound(flows) {
  const bus = new FlowBus();
  const metrics = createMetricsModule();
  const forwarded = metrics.basic.forwardCount;
  const unsubscribe = bus.subscribe((batch) => {
    for (const f of batch) forwarded.inc({ direction: f.trafficDirection === 1 ? 'ingress' : 'egress' }, 1);
  });
  const server = createServer((req, res) =>
    metrics
      .expose(req.headers.accept)
      .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body)),
  );
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const result = await flood(bus, flows, server.address().port, seconds * 1000);
  unsubscribe();
  await new Promise((r) => server.close(r));
  return result;
}

async function hubbleRound(flows) {
  const bus = new FlowBus();
  const socket = path.join(tmp, 'hubble.sock');
  const hubble = await startHubble({
    flowBus: bus,
    nodeName: 'bench-node',
    options: {
      unixSocket: socket,
      listenAddress: false,
      metrics: { enabled: RETINA_METRICS, listenAddress: '127.0.0.1:0' },
    },
  });
  const child = fork(new URL('./followers.mjs', import.meta.url), [socket, String(followers), protoDir()], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  while (hubble.activeFlowStreams < followers) await sleep(20);
  const result = await flood(bus, flows, hubble.metricsPort, seconds * 1000);
  child.send('stop');
  await new Promise((r) => child.once('exit', r));
  await hubble.stop(1000);
  return result;
}

const flows = makeFlows(65536);
const fmt = (n) => n.toFixed(n < 10 ? 1 : 0);
const row = (name, r) =>
  `| ${name} | ${r.scrapes} | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.max)} | ${Math.round(r.rssMb)} |`;
console.log(
  `hubble flood: ${perSecond.toLocaleString('en-US')} flows/s for ${seconds} s per mode, ${followers} followers in hubble mode, Node ${process.version}`,
);
console.log('| round / mode | scrapes | scrape p50 ms | p90 ms | max ms | max RSS MiB |');
console.log('|---|---|---|---|---|---|');
try {
  for (let round = 1; round <= rounds; round++) {
    console.log(row(`${round} standard (baseline)`, await standardRound(flows)));
    console.log(row(`${round} hubble, ${followers} followers`, await hubbleRound(flows)));
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
