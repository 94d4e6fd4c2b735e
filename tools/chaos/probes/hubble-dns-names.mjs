// Hubble with the dns plugin in a throwaway namespace pair, and a sender of DNS queries for distinct names: 100,000
// names with `dns:query` metrics must leave the hubble_dns_* series capped and the folds counted. Also exports the
// set-up the other hubble-* probes share (an agent with the Hubble control plane and a gRPC client on its socket).
import { join } from 'node:path';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoDir } from '@retina-ts/hubble';

import { sh, sleep } from '../lib.mjs';

/** Sender run inside the namespace: `count` A queries for names made by `kind` ('distinct' or 'long'). */
const SENDER = `
const dgram = require('node:dgram');
const [to, count, kind] = [process.argv[1], Number(process.argv[2]), process.argv[3]];
const s = dgram.createSocket('udp4');
let sent = 0;
function labels(i) {
  // 'long': four 60-letter labels of 'a' and a last label 'b' (a name a backtracking ^(a+)+$ chokes on).
  if (kind === 'long') return ['a'.repeat(60), 'a'.repeat(60), 'a'.repeat(60), 'a'.repeat(60), 'b'];
  return ['n' + i.toString(36), 'names', 'test'];
}
function query(i) {
  const name = Buffer.concat([...labels(i).map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])), Buffer.from([0])]);
  const header = Buffer.from([(i >> 8) & 255, i & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, name, Buffer.from([0, 1, 0, 1])]);
}
(function next() {
  if (sent === count) return s.close();
  // About 10,000 queries a second, a rate the dns plugin's reader keeps up with.
  const i = sent++;
  s.send(query(i), 53, to, () => (i % 500 === 499 ? setTimeout(next, 50) : next()));
})();
`;

/**
 * A veth pair between two namespaces, the agent with the dns plugin watching the first and the Hubble control plane
 * (metrics `metrics`, loopback only), and a sender of DNS queries from the first namespace.
 */
export async function hubbleDnsAgent(ctx, tag, metrics = 'dns:query') {
  const a = ctx.netns(`rh${tag}a`);
  const b = ctx.netns(`rh${tag}b`);
  const [va, vb] = [`rh${tag}0`, `rh${tag}1`];
  const r = sh('ip', ['link', 'add', va, 'netns', a.name, 'type', 'veth', 'peer', 'name', vb, 'netns', b.name]);
  if (r.code !== 0) throw new Error(`veth: ${r.stderr.trim()}`);
  a.ip(['addr', 'add', '10.251.9.1/24', 'dev', va]);
  b.ip(['addr', 'add', '10.251.9.2/24', 'dev', vb]);
  a.ip(['link', 'set', va, 'up']);
  b.ip(['link', 'set', vb, 'up']);
  const socket = join(ctx.dir, 'hubble.sock');
  const config = ctx.config([
    'apiServer: { host: 127.0.0.1, port: 0 }',
    'enabledPlugin: [dns]',
    'controlPlane: hubble',
    `hubble-socket-path: ${socket}`,
    'hubble-listen-address: "127.0.0.1:0"',
    'hubble-metrics-server: "127.0.0.1:0"',
    `hubble-metrics: "${metrics}"`,
    'plugins:',
    `  dns: { netns: ${a.path} }`,
  ]);
  const agent = await ctx.startAgent(['--config', config], {
    ready: (logs) =>
      logs.some((l) => l.msg === 'serving the Hubble API') &&
      logs.some((l) => String(l.msg).includes('plugin dns running')),
  });
  const metricsPort = agent.logs.find((l) => l.msg === 'serving the Hubble API')?.metricsPort;
  const send = (count, kind = 'distinct') => {
    const sent = sh(
      'ip',
      ['netns', 'exec', a.name, process.execPath, '-e', SENDER, '10.251.9.2', String(count), kind],
      { timeoutMs: 40_000 },
    );
    if (sent.code !== 0) throw new Error(`sender: ${sent.stderr.trim() || sent.signal}`);
  };
  return { agent, socket, metricsPort, send };
}

/** An Observer client on the agent's unix socket (closed with the probe). */
export function observerClient(ctx, socket, options = {}) {
  const def = protoLoader.loadSync(['observer/observer.proto'], {
    includeDirs: [protoDir()],
    keepCase: true,
    longs: String,
  });
  const { observer } = grpc.loadPackageDefinition(def);
  const client = new observer.Observer(`unix://${socket}`, grpc.credentials.createInsecure(), options);
  ctx.defer(() => client.close());
  return client;
}

/** Runs GetFlows to its end: flows received, the final status and the time it took. */
export function getFlows(client, request, timeoutMs = 10_000) {
  return new Promise((resolve) => {
    const start = performance.now();
    let flows = 0;
    const call = client.GetFlows(request, { deadline: Date.now() + timeoutMs });
    call.on('data', (r) => {
      if (r.flow) flows++;
    });
    call.on('error', (err) =>
      resolve({ flows, code: grpc.status[err.code] ?? err.code, details: err.details, ms: performance.now() - start }),
    );
    call.on('end', () => resolve({ flows, code: 'OK', details: '', ms: performance.now() - start }));
  });
}

export { grpc, sleep };

const NAMES = 100_000;

export default {
  name: 'hubble-dns-names',
  expected: `${NAMES.toLocaleString('en-US')} distinct DNS names with dns:query: hubble_dns_queries_total series capped (<= 10,000 + folded), folds counted, agent running`,
  async run(ctx) {
    const { agent, metricsPort, send } = await hubbleDnsAgent(ctx, 'n');
    const start = performance.now();
    send(NAMES);
    const sendMs = performance.now() - start;
    await sleep(3_000);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const series = text.split('\n').filter((l) => l.startsWith('hubble_dns_queries_total{')).length;
    const folded = text
      .split('\n')
      .filter((l) => l.startsWith('hubble_metrics_cardinality_folded_total{metric="hubble_dns_queries_total"}'))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    const otherSeries = text.split('\n').filter((l) => l.startsWith('hubble_dns_queries_total{') && l.includes('query="other"')).length;
    const rss =
      Number(/^VmRSS:\s*(\d+)/m.exec(sh('cat', [`/proc/${agent.child.pid}/status`]).stdout)?.[1] ?? 0) / 1024;
    const alive = agent.child.exitCode === null;
    return {
      observed:
        `sent in ${(sendMs / 1000).toFixed(1)} s; ${series} hubble_dns_queries_total series (${otherSeries} of them query="other"); ` +
        `${folded} folds counted; RSS ${rss.toFixed(0)} MiB; agent ${alive ? 'running' : 'exited'}`,
      ok: alive && series > 0 && series <= 10_000 + 10 && (series < 10_000 || folded > 0),
    };
  },
};
