// The node side of the Hubble flood bench (flood.mjs), in its own process so that its peak RSS is what an agent
// under this flood holds: a FlowBus, the metrics endpoint of the chosen mode (the standard control plane's, or
// Hubble's with Retina's default hubble_* metrics and the Observer for the followers) and the publisher standing in
// for the plugins, which builds each flow when it publishes it, from pod metadata shared as the enricher shares it.
// Scrapes and followers come from other processes, as Prometheus and `hubble observe` would.
//
// usage (spawned by flood.mjs with an IPC channel): node flood-node.mjs standard|hubble <rate> <socket path>
// Messages: it sends { type: 'ready', port } once listening; on { type: 'flood', ms } it publishes `rate` flows a
// second for `ms` and answers { type: 'done', rssMb, lagMaxMs, published }; on { type: 'stop' } it exits.
import { createServer } from 'node:http';
import { setImmediate as yieldLoop, setTimeout as sleep } from 'node:timers/promises';
import {
  FlowBus,
  FlowType,
  IpVersion,
  TrafficDirection,
  Verdict,
  createMetricsModule,
} from '@retina-ts/core';
import { startHubble } from '@retina-ts/hubble';

const [mode, rateArg, socket] = process.argv.slice(2);
const perSecond = Number(rateArg);
if (!['standard', 'hubble'].includes(mode) || !(perSecond > 0) || !socket || !process.send) {
  console.error(
    'flood-node.mjs: usage node flood-node.mjs standard|hubble <rate> <socket>, with an IPC channel',
  );
  process.exit(2);
}
const CTX = 'sourceEgressContext=pod;destinationIngressContext=pod';
const RETINA_METRICS = [`flow:${CTX}`, `tcp:${CTX}`, `dns:query;${CTX}`, `drop:${CTX}`];

// 2,000 client pods in 20 namespaces talking to 100 API pods, 65,536 source addresses: a wide, busy node. The
// strings and label lists are made once, as the enricher's cache holds them; each flow object is new.
const PODS = 2000;
const clients = Array.from({ length: PODS }, (_, p) => ({
  namespace: `ns-${p % 20}`,
  podName: `client-${p}-5f7c9d8b6-x${p}`,
  labels: [`app=client-${p}`],
  workloads: [{ kind: 'Deployment', name: `client-${p}` }],
}));
const apis = Array.from({ length: 100 }, (_, p) => ({
  namespace: 'shop',
  podName: `api-${p}`,
  labels: ['app=api'],
}));
const sources = Array.from({ length: 65536 }, (_, i) => `10.10.${(i >> 8) & 255}.${i & 255}`);
const base = BigInt(Date.now()) * 1_000_000n;

function makeFlow(n) {
  const i = n & 65535;
  const c = clients[i % PODS];
  return {
    timeNs: base + BigInt(n) * 1000n,
    verdict: i % 50 === 0 ? Verdict.DROPPED : Verdict.FORWARDED,
    type: FlowType.L3_L4,
    nodeName: 'bench-node',
    trafficDirection: i % 2 ? TrafficDirection.INGRESS : TrafficDirection.EGRESS,
    ip: { source: sources[i], destination: '10.20.0.7', ipVersion: IpVersion.IPv4 },
    l4: {
      tcp: { sourcePort: 30000 + (i % 30000), destinationPort: 8080, flags: { SYN: i % 7 === 0, ACK: true } },
    },
    source: { namespace: c.namespace, podName: c.podName, labels: c.labels, workloads: c.workloads },
    destination: apis[i % 100],
    isReply: i % 2 === 1,
    extensions: { bytes: 1500, packets: 1 },
  };
}

const bus = new FlowBus();
let port;
let stop;
if (mode === 'standard') {
  const metrics = createMetricsModule();
  const forwarded = metrics.basic.forwardCount;
  bus.subscribe((batch) => {
    for (const f of batch) forwarded.inc({ direction: f.trafficDirection === 1 ? 'ingress' : 'egress' }, 1);
  });
  const server = createServer((req, res) =>
    metrics
      .expose(req.headers.accept)
      .then(({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(body)),
  );
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  port = server.address().port;
  stop = () => new Promise((r) => server.close(r));
} else {
  const hubble = await startHubble({
    flowBus: bus,
    nodeName: 'bench-node',
    options: {
      unixSocket: socket,
      listenAddress: false,
      metrics: { enabled: RETINA_METRICS, listenAddress: '127.0.0.1:0' },
    },
  });
  port = hubble.metricsPort;
  stop = () => hubble.stop(1000);
  process.on('message', (msg) => {
    if (msg.type === 'streams') process.send({ type: 'streams', active: hubble.activeFlowStreams });
  });
}

/** Publishes `perSecond` flows a second for `ms` in 10 ms slices, sampling RSS and event-loop lag every 100 ms. */
async function flood(ms) {
  let rssMax = process.memoryUsage.rss();
  let lagMax = 0;
  let last = performance.now();
  const sampler = setInterval(() => {
    const now = performance.now();
    lagMax = Math.max(lagMax, now - last - 100);
    last = now;
    rssMax = Math.max(rssMax, process.memoryUsage.rss());
  }, 100);
  const start = performance.now();
  let published = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    const due = Math.round((perSecond * Math.min(elapsed, ms)) / 1000);
    for (; published < due; published++) bus.publish(makeFlow(published));
    if (elapsed >= ms) break;
    await sleep(10);
  }
  while (bus.size > 0) await yieldLoop();
  clearInterval(sampler);
  rssMax = Math.max(rssMax, process.memoryUsage.rss());
  return { rssMb: rssMax / 2 ** 20, lagMaxMs: lagMax, published };
}

process.on('message', async (msg) => {
  if (msg.type === 'flood') process.send({ type: 'done', ...(await flood(msg.ms)) });
  else if (msg.type === 'stop') {
    await stop();
    process.exit(0);
  }
});
process.send({ type: 'ready', port, idleRssMb: process.memoryUsage.rss() / 2 ** 20 });
