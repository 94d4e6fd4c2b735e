// hubble benchmark: flows per second the Hubble control plane takes into its ring and delivers live to 1, 10 and
// 100 followers over the unix socket, next to the FlowBus alone (the baseline, measured in the same run on the same
// flows); then the heap a full ring holds at 4095 and 65535 flows.
//
// Flows are synthetic TCP flows between two pods (addresses, ports, flags, pod names, namespaces, labels,
// workloads), built before timing and published in FlowBus-sized batches as fast as the event loop allows. The
// followers run in a second process (followers.mjs), each on its own connection, and count every flow and every
// lost event they receive. A follower that cannot keep up loses flows by design (reported as lost events); the
// figures say how many. Publisher, server and followers share the machine: on a 2-core machine they are a floor.
//
// usage: npm run bench:hubble -w @retina-ts/bench -- [--seconds 2]
// needs: a built @retina-ts/core and @retina-ts/hubble.
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setImmediate as yieldLoop, setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { FlowBus } from '@retina-ts/core';
import { protoDir, startHubble } from '@retina-ts/hubble';
import { clusterFlows as makeFlows } from './flows.mjs';

const { values: args } = parseArgs({ options: { seconds: { type: 'string', default: '2' } } });
const seconds = Number(args.seconds);
if (!(seconds > 0)) {
  console.error(`bench: --seconds ${args.seconds} must be a positive number`);
  process.exit(2);
}
if (typeof globalThis.gc !== 'function') {
  console.error(
    'bench: run with node --expose-gc (npm run bench:hubble does) so ring memory can be measured',
  );
  process.exit(2);
}

const BATCH = 4096;
const FOLLOWERS = [1, 10, 100];
const RINGS = [4095, 65535];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'retina-hubble-bench-'));
const socket = path.join(tmp, 'hubble.sock');

/** Publishes flows in batches for `ms`, yielding between batches; returns flows published and elapsed seconds. */
async function publishFor(bus, flows, ms) {
  const start = performance.now();
  const droppedBefore = bus.dropped;
  let published = 0;
  let i = 0;
  while (performance.now() - start < ms) {
    for (let k = 0; k < BATCH; k++) {
      bus.publish(flows[i]);
      i = (i + 1) % flows.length;
    }
    published += BATCH;
    // The bus delivers on setImmediate: waiting one turn lets it hand the batch over before the next one.
    await yieldLoop();
  }
  while (bus.size > 0) await yieldLoop();
  const dropped = bus.dropped - droppedBefore;
  return { published: published - dropped, dropped, secs: (performance.now() - start) / 1000 };
}

/** Publishes `perSecond` flows per second for `ms`, in 10 ms slices. */
async function publishPaced(bus, flows, perSecond, ms) {
  const start = performance.now();
  const droppedBefore = bus.dropped;
  let published = 0;
  let i = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    const due = Math.min(
      Math.round((perSecond * Math.min(elapsed, ms)) / 1000),
      Math.round((perSecond * ms) / 1000),
    );
    for (; published < due; published++) {
      bus.publish(flows[i]);
      i = (i + 1) % flows.length;
    }
    if (elapsed >= ms) break;
    await sleep(10);
  }
  while (bus.size > 0) await yieldLoop();
  const dropped = bus.dropped - droppedBefore;
  return { published: published - dropped, dropped, secs: (performance.now() - start) / 1000 };
}

const rate = (n, secs) => Math.round(n / secs);
const fmt = (n) => n.toLocaleString('en-US');
const flows = makeFlows(65536);

// 1. Into the ring: the FlowBus with a subscriber that does nothing, then with the Hubble observer attached.
async function ingest() {
  const baseBus = new FlowBus({ capacity: 65536 });
  baseBus.subscribe(() => {});
  await publishFor(baseBus, flows, 300); // warm-up
  const base = await publishFor(baseBus, flows, seconds * 1000);
  baseBus.close();

  const bus = new FlowBus({ capacity: 65536 });
  const server = await startHubble({
    flowBus: bus,
    nodeName: 'bench-node',
    options: { unixSocket: false, listenAddress: false, ringCapacity: 4095 },
  });
  await publishFor(bus, flows, 300);
  const hub = await publishFor(bus, flows, seconds * 1000);
  await server.stop();
  bus.close();
  return {
    base: rate(base.published, base.secs),
    hubble: rate(hub.published, hub.secs),
    dropped: hub.dropped,
  };
}

// 2. Live delivery to N followers over the unix socket: first with the publisher at full speed (followers lose
// flows, the publisher must not slow down), then the highest paced rate at which every follower receives every flow.
async function deliver(n) {
  const bus = new FlowBus({ capacity: 65536 });
  const server = await startHubble({
    flowBus: bus,
    nodeName: 'bench-node',
    options: { unixSocket: socket, listenAddress: false, ringCapacity: 4095 },
  });
  const child = fork(new URL('./followers.mjs', import.meta.url), [socket, String(n), protoDir()], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const totals = () =>
    new Promise((resolve) => {
      child.once('message', ({ counts }) =>
        resolve({
          flows: counts.reduce((s, c) => s + c.flows, 0),
          lost: counts.reduce((s, c) => s + c.lost, 0),
          lostRing: counts.reduce((s, c) => s + c.lostRing, 0),
          lostQueue: counts.reduce((s, c) => s + c.lostQueue, 0),
          lastMs: Math.max(...counts.map((c) => c.lastMs)),
        }),
      );
      child.send('report');
    });
  const deadline = Date.now() + 20_000;
  while (server.activeFlowStreams < n) {
    if (Date.now() > deadline)
      throw new Error(`only ${server.activeFlowStreams} of ${n} followers connected`);
    await sleep(20);
  }
  /** Until the bus is empty and so is the observer's intake queue (a turn passes with the ring unchanged). */
  const intakeDrained = async () => {
    for (;;) {
      const end = server.observer.ring.end;
      await yieldLoop();
      await yieldLoop();
      if (bus.size === 0 && server.observer.ring.end === end) return;
    }
  };
  /**
   * Runs one phase. Every published flow is either converted into the ring or reported lost by the intake
   * (OBSERVER_EVENTS_QUEUE, which also covers flows the bus dropped); each follower then receives it, or a lost
   * event for it (any source). A follower that skips ahead over an intake lost notice hears of it as one
   * HUBBLE_RING_BUFFER entry, not as the flows it stood for: `missing` counts those flows.
   */
  const phase = async (publish) => {
    const before = await totals();
    const seenBefore = server.observer.seenFlows;
    const droppedBefore = bus.dropped;
    const startMs = Date.now();
    const pub = await publish();
    await intakeDrained();
    // Flows published, whether the bus took them or dropped them (the intake reports the latter as lost).
    const published = pub.published + (bus.dropped - droppedBefore);
    const intakeLost = published - (server.observer.seenFlows - seenBefore);
    // Followers are done when every flow is accounted for, or when none of them received anything for 500 ms.
    let t = await totals();
    const limit = Date.now() + 30_000;
    while (
      t.flows + t.lost - before.flows - before.lost < published * n &&
      Date.now() - t.lastMs < 500 &&
      Date.now() < limit
    ) {
      await sleep(20);
      t = await totals();
    }
    const received = t.flows - before.flows;
    const lost = t.lost - before.lost;
    return {
      pub,
      published,
      intakeLost,
      received,
      lost,
      lostRing: t.lostRing - before.lostRing,
      lostQueue: t.lostQueue - before.lostQueue,
      secs: (Math.max(t.lastMs, startMs + 1) - startMs) / 1000,
      missing: published * n - received - lost,
    };
  };
  try {
    const full = await phase(() => publishFor(bus, flows, seconds * 1000));
    // Highest paced rate with nothing lost: doubling from 1,000 flows/s, then bisection.
    let ok = 0;
    let bad = 0;
    let target = 1000;
    for (let step = 0; step < 14; step++) {
      const r = await phase(() => publishPaced(bus, flows, target, seconds * 1000));
      if (r.lost === 0 && r.missing === 0) ok = target;
      else bad = target;
      if (bad && ok && bad - ok <= ok * 0.1) break;
      target = bad ? Math.round((ok + bad) / 2) : target * 2;
    }
    return {
      n,
      fullPublishRate: rate(full.published, full.pub.secs),
      fullDelivered: rate(full.received / n, full.secs),
      fullLostPct: (100 * full.lost) / (full.published * n),
      fullLostRingPct: (100 * full.lostRing) / (full.published * n),
      fullLostQueuePct: (100 * full.lostQueue) / (full.published * n),
      fullIntakeLostPct: (100 * full.intakeLost) / full.published,
      fullMissing: full.missing,
      lossless: ok,
    };
  } finally {
    child.send('stop');
    await new Promise((resolve) => child.once('exit', resolve));
    await server.stop();
    bus.close();
  }
}

// 3. Heap held by a full ring, before and after one client read every entry (the encoded response is cached).
async function ringMemory(capacity) {
  const bus = new FlowBus({ capacity: 65536 });
  const server = await startHubble({
    flowBus: bus,
    nodeName: 'bench-node',
    options: { unixSocket: socket, listenAddress: false, ringCapacity: capacity },
  });
  const heap = () => {
    globalThis.gc();
    globalThis.gc();
    return process.memoryUsage().heapUsed;
  };
  const before = heap();
  // Fresh objects, so nothing the ring keeps is shared with the benchmark's own flows.
  for (const f of makeFlows(capacity)) bus.publish(f);
  // The observer converts its intake in turns: wait until the ring holds every flow.
  while (bus.size > 0 || server.observer.ring.end < capacity) await yieldLoop();
  const full = heap() - before;

  const def = protoLoader.loadSync(['observer/observer.proto'], {
    includeDirs: [protoDir()],
    keepCase: true,
  });
  const { observer } = grpc.loadPackageDefinition(def);
  const client = new observer.Observer(`unix://${socket}`, grpc.credentials.createInsecure());
  let read = 0;
  await new Promise((resolve, reject) => {
    const s = client.GetFlows({ number: capacity });
    s.on('data', (r) => r.flow && read++);
    s.on('end', resolve);
    s.on('error', reject);
  });
  client.close();
  if (read !== capacity) throw new Error(`GetFlows returned ${read} flows, expected ${capacity}`);
  await sleep(100);
  const served = heap() - before;
  await server.stop();
  bus.close();
  return { capacity, full, served };
}

const mib = (b) => (b / 1024 / 1024).toFixed(1);
try {
  console.log(`hubble bench: Node ${process.version}, ${os.cpus().length} CPUs, ${seconds} s per phase`);
  const r = await ingest();
  console.log('\ningest (flows/s)');
  console.log(`  FlowBus alone (baseline)        ${fmt(r.base).padStart(12)}`);
  console.log(
    `  FlowBus -> Hubble ring           ${fmt(r.hubble).padStart(12)}   ${(1e6 / r.hubble).toFixed(2)} µs/flow ` +
      `(baseline ${(1e9 / r.base).toFixed(0)} ns/flow)` +
      (r.dropped ? `, ${fmt(r.dropped)} dropped by the bus` : ''),
  );
  console.log('\nlive delivery over the unix socket, per follower (flows/s)');
  console.log(
    '  followers | publisher at full speed: published, delivered, lost by source | highest rate with nothing lost',
  );
  for (const n of FOLLOWERS) {
    const d = await deliver(n);
    console.log(
      `  ${String(n).padStart(9)} | ${fmt(d.fullPublishRate).padStart(9)} ${fmt(d.fullDelivered).padStart(9)} ` +
        `${d.fullLostPct.toFixed(1).padStart(5)}% (ring buffer ${d.fullLostRingPct.toFixed(1)}%, ` +
        `events queue ${d.fullLostQueuePct.toFixed(1)}%; intake dropped ${d.fullIntakeLostPct.toFixed(1)}%)` +
        (d.fullMissing
          ? ` (${fmt(d.fullMissing)} neither delivered nor reported lost: intake losses behind a skip)`
          : '') +
        ` | ${fmt(d.lossless).padStart(8)} per follower, ${fmt(d.lossless * n).padStart(9)} in total`,
    );
  }
  console.log('\nring memory (heap after gc)');
  for (const c of RINGS) {
    const m = await ringMemory(c);
    console.log(
      `  ${fmt(c).padStart(6)} flows: ${mib(m.full)} MiB (${Math.round(m.full / c)} B/flow); ` +
        `after one full read ${mib(m.served)} MiB (${Math.round(m.served / c)} B/flow)`,
    );
  }
  console.log(`\nv8 heap limit ${mib(v8.getHeapStatistics().heap_size_limit)} MiB`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
