// A flood of DNS queries for distinct names (one random label each) from a throwaway namespace, seen by the dns
// plugin with the Hubble control plane and `dns:query` metrics: the agent must stay up and its series bounded.
import { join } from 'node:path';

import { sh, sleep } from '../lib.mjs';

const QUERIES = 3000;

/** Sender run inside the namespace: QUERIES A queries for <random>.flood.test to the peer address. */
const SENDER = `
const dgram = require('node:dgram');
const [to, count] = [process.argv[1], Number(process.argv[2])];
const s = dgram.createSocket('udp4');
let sent = 0;
function query(i) {
  const label = Math.random().toString(36).slice(2, 12) + i;
  const parts = [label, 'flood', 'test'];
  const name = Buffer.concat([...parts.map((p) => Buffer.concat([Buffer.from([p.length]), Buffer.from(p)])), Buffer.from([0])]);
  const header = Buffer.from([i >> 8 & 255, i & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
  return Buffer.concat([header, name, Buffer.from([0, 1, 0, 1])]);
}
(function next() {
  if (sent === count) return s.close();
  s.send(query(sent++), 53, to, next);
})();
`;

export default {
  name: 'dns-label-flood',
  expected: `agent running after ${QUERIES} distinct query names; dns query series bounded (< ${QUERIES})`,
  async run(ctx) {
    const a = ctx.netns('rcda');
    const b = ctx.netns('rcdb');
    const r = sh('ip', [
      'link',
      'add',
      'rcdv0',
      'netns',
      a.name,
      'type',
      'veth',
      'peer',
      'name',
      'rcdv1',
      'netns',
      b.name,
    ]);
    if (r.code !== 0) throw new Error(`veth: ${r.stderr.trim()}`);
    a.ip(['addr', 'add', '10.251.3.1/24', 'dev', 'rcdv0']);
    b.ip(['addr', 'add', '10.251.3.2/24', 'dev', 'rcdv1']);
    a.ip(['link', 'set', 'rcdv0', 'up']);
    b.ip(['link', 'set', 'rcdv1', 'up']);
    const config = ctx.config([
      'apiServer: { host: 127.0.0.1, port: 0 }',
      'enabledPlugin: [dns]',
      'controlPlane: hubble',
      `hubble-socket-path: ${join(ctx.dir, 'hubble.sock')}`,
      'hubble-listen-address: "127.0.0.1:0"',
      'hubble-metrics-server: "127.0.0.1:0"',
      'hubble-metrics: "dns:query"',
      'plugins:',
      `  dns: { netns: ${a.path} }`,
    ]);
    const agent = await ctx.startAgent(['--config', config], {
      ready: (logs) =>
        logs.some((l) => l.msg === 'serving the Hubble API') &&
        logs.some((l) => String(l.msg).includes('plugin dns running')),
    });
    const metricsPort = agent.logs.find((l) => l.msg === 'serving the Hubble API')?.metricsPort;
    const sent = sh(
      'ip',
      ['netns', 'exec', a.name, process.execPath, '-e', SENDER, '10.251.3.2', String(QUERIES)],
      {
        timeoutMs: 30_000,
      },
    );
    if (sent.code !== 0) throw new Error(`sender: ${sent.stderr.trim()}`);
    await sleep(2_000);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const series = text.split('\n').filter((l) => l.startsWith('hubble_dns_queries_total{')).length;
    const rss =
      Number(/^VmRSS:\s*(\d+)/m.exec(sh('cat', [`/proc/${agent.child.pid}/status`]).stdout)?.[1] ?? 0) / 1024;
    const alive = agent.child.exitCode === null;
    return {
      observed: `agent ${alive ? 'running' : 'exited'}; ${series} hubble_dns_queries_total series; RSS ${rss.toFixed(0)} MiB`,
      ok: alive && series > 0 && series < QUERIES,
    };
  },
};
