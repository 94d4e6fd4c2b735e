// hubble fan-in benchmark: a Relay-style client following three Hubble servers at once (`GetFlows { follow: true }`
// on each over loopback TCP, merged into one stream as Hubble Relay merges its peers), against one server at the
// same total rate (the baseline, measured in the same run).
//
// Every node is its own process (fanin-node.mjs: a FlowBus, a Hubble server on 127.0.0.1, a paced publisher of the
// synthetic flows run.mjs uses); the merging client runs in this process. Each round publishes each total rate for
// a few seconds, first on the single node, then split evenly over the three. The client counts flows received and
// lost events by source; each node counts the flows its intake converted and those it reported lost, so the bench
// can tell flows neither delivered nor reported lost. Nodes and client share the machine: on a 2-core machine the
// figures are a floor.
//
// usage: npm run bench:hubble-fanin -w @retina-ts/bench -- [--seconds 3] [--rounds 3] [--rates 50000,150000]
// needs: a built @retina-ts/core and @retina-ts/hubble.
import { fork } from 'node:child_process';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoDir } from '@retina-ts/hubble';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    rates: { type: 'string', default: '50000,150000' },
  },
});
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const rates = args.rates.split(',').map(Number);
if (!(seconds > 0) || !(rounds > 0) || !rates.length || !rates.every((r) => r > 0)) {
  console.error('bench: --seconds, --rounds and every --rates value must be positive numbers');
  process.exit(2);
}
const FANIN = 3;

const def = protoLoader.loadSync(['observer/observer.proto'], {
  includeDirs: [protoDir()],
  keepCase: true,
  longs: String,
  enums: String,
});
const { observer } = grpc.loadPackageDefinition(def);

/** Starts a node process and waits for its port. */
function startNode(name) {
  const child = fork(new URL('./fanin-node.mjs', import.meta.url), [name], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`node ${name} exited with ${code}`)));
    child.once('message', (m) => resolve({ name, child, port: m.port }));
  });
}

/** A merged follower of several nodes: one counter for all, as a Relay client sees one stream. */
function follow(nodes) {
  const counts = {
    flows: 0,
    HUBBLE_RING_BUFFER: 0,
    OBSERVER_EVENTS_QUEUE: 0,
    other: 0,
    lastMs: 0,
    perNode: {},
  };
  const clients = [];
  const streams = [];
  for (const node of nodes) {
    counts.perNode[node.name] = 0;
    const client = new observer.Observer(`127.0.0.1:${node.port}`, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
    });
    const stream = client.GetFlows({ follow: true });
    stream.on('data', (r) => {
      if (r.flow) {
        counts.flows++;
        counts.perNode[node.name]++;
      } else if (r.lost_events) {
        const source = r.lost_events.source;
        const n = Number(r.lost_events.num_events_lost);
        if (source in counts && source !== 'flows') counts[source] += n;
        else counts.other += n;
      }
      counts.lastMs = Date.now();
    });
    stream.on('error', (err) => {
      if (err.code !== grpc.status.CANCELLED) console.error(`follower of ${node.name}: ${err.message}`);
    });
    clients.push(client);
    streams.push(stream);
  }
  return {
    counts,
    snapshot: () => ({ ...counts, perNode: { ...counts.perNode } }),
    close() {
      for (const s of streams) s.cancel();
      for (const c of clients) c.close();
    },
  };
}

const lostOf = (c) => c.HUBBLE_RING_BUFFER + c.OBSERVER_EVENTS_QUEUE + c.other;

/** One phase: `total` flows/s split over `nodes` for `seconds`, followed by `f`. */
async function phase(nodes, f, total) {
  const before = f.snapshot();
  const startMs = Date.now();
  const results = await Promise.all(
    nodes.map(
      (node) =>
        new Promise((resolve) => {
          node.child.once('message', resolve);
          node.child.send({ type: 'publish', perSecond: total / nodes.length, ms: seconds * 1000 });
        }),
    ),
  );
  const published = results.reduce((s, r) => s + r.published, 0);
  const queueLost = results.reduce((s, r) => s + r.queueLost, 0);
  // The client has caught up when every flow is accounted for, or when nothing arrived for a second.
  const limit = Date.now() + 15_000;
  for (;;) {
    const c = f.counts;
    const got = c.flows - before.flows + lostOf(c) - lostOf(before);
    if (got >= published || Date.now() > limit || Date.now() - c.lastMs > 1000) break;
    await sleep(20);
  }
  await sleep(50);
  const c = f.snapshot();
  const flows = c.flows - before.flows;
  const ring = c.HUBBLE_RING_BUFFER - before.HUBBLE_RING_BUFFER;
  const queue = c.OBSERVER_EVENTS_QUEUE - before.OBSERVER_EVENTS_QUEUE;
  const other = c.other - before.other;
  return {
    published,
    flowsPerSec: flows / ((Math.max(c.lastMs, startMs + 1) - startMs) / 1000),
    flows,
    ring,
    queue,
    other,
    // Flows the nodes' intake reported lost, as the nodes count them (a follower that skips a lost notice in the
    // ring hears of it only as one ring-buffer entry).
    queueLostAtNodes: queueLost,
    missing: published - flows - ring - queue - other,
  };
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
const range = (xs) => {
  const lo = Math.min(...xs);
  const hi = Math.max(...xs);
  return lo === hi ? fmt(lo) : `${fmt(lo)}–${fmt(hi)}`;
};

const single = [await startNode('bench-single')];
const fanin = await Promise.all(Array.from({ length: FANIN }, (_, i) => startNode(`bench-node-${i + 1}`)));
const all = [...single, ...fanin];
const followSingle = follow(single);
const followFanin = follow(fanin);
try {
  await sleep(300); // streams established
  console.log(
    `hubble fan-in bench: Node ${process.version}, ${os.cpus().length} CPUs, load ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}, ${seconds} s per phase, ${rounds} rounds`,
  );
  const results = new Map(); // `${rate}/${mode}` -> phase results
  for (let round = 0; round < rounds; round++) {
    for (const rate of rates) {
      for (const [mode, nodes, f] of [
        ['single', single, followSingle],
        ['fanin', fanin, followFanin],
      ]) {
        const r = await phase(nodes, f, rate);
        const key = `${rate}/${mode}`;
        if (!results.has(key)) results.set(key, []);
        results.get(key).push(r);
      }
    }
  }
  console.log(
    '\ntotal rate | mode | received by the client (flows/s) | lost: HUBBLE_RING_BUFFER | OBSERVER_EVENTS_QUEUE | ' +
      'neither delivered nor reported lost   (ranges over rounds)',
  );
  for (const rate of rates) {
    for (const [mode, label] of [
      ['single', '1 node (baseline)'],
      ['fanin', `${FANIN} nodes, merged`],
    ]) {
      const rs = results.get(`${rate}/${mode}`);
      const pct = (n, r) => (100 * n) / r.published;
      console.log(
        `  ${fmt(rate).padStart(8)} | ${label.padEnd(17)} | ${range(rs.map((r) => r.flowsPerSec)).padStart(15)} ` +
          `(${range(rs.map((r) => pct(r.flows, r)))}% of published) | ${range(rs.map((r) => r.ring))} | ` +
          `${range(rs.map((r) => r.queue))} (nodes counted ${range(rs.map((r) => r.queueLostAtNodes))}) | ` +
          `${range(rs.map((r) => r.missing))}` +
          (rs.some((r) => r.other) ? ` | other sources ${range(rs.map((r) => r.other))}` : ''),
      );
    }
  }
} finally {
  followSingle.close();
  followFanin.close();
  for (const node of all) {
    node.child.removeAllListeners('exit');
    node.child.send({ type: 'stop' });
  }
  await Promise.all(all.map((n) => new Promise((resolve) => n.child.once('exit', resolve))));
}
