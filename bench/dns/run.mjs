// dns benchmark: DNS packets per second the dns plugin turns into metrics and flows with none lost, next to the
// ring-buffer limit (records per second the reader delivers to JavaScript with none lost when the consumer does
// nothing) measured in the same run, on the same kernel object, ring and reader.
//
// The kernel program is driven with BPF_PROG_TEST_RUN from a worker thread (producer.mjs): each call runs the real
// socket filter `repeat` times on one crafted frame (a query or a response with three answers, 64 distinct ones in
// rotation), and each run writes one record into the ring buffer, exactly as a packet on an interface would. The
// worker offers a target rate; a phase passes when every record produced was decoded and its flow delivered by the
// FlowBus, with nothing lost in the kernel (ring full), in the reader (queue full) or on the bus. The highest passing
// rate is found by doubling, then bisection. Both run on the same machine, so the producer's CPU time counts against
// the consumer's: on a 2-core machine the figures are a floor.
//
// usage (root): npm run bench:dns -w @retina-ts/bench -- [--seconds 2] [--ring-mib 4] [--capture 512] [--batch 4096]
// needs: a built @retina-ts/plugin-dns and @retina-ts/bpf-runtime.
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { BpfObject, RingBufferReader, probes, sumPerCpuU64 } from '@retina-ts/bpf-runtime';
import { FlowBus, createMetricsModule } from '@retina-ts/core';
import {
  DNS_EVENTS_MAP,
  DNS_STATS_MAP,
  DnsEventProcessor,
  KernelStat,
  defaultObjectPath,
  dnsMetrics,
} from '@retina-ts/plugin-dns';

// dns-packet is a dependency of the plugin; resolve it from there.
const dnsPacket = createRequire(import.meta.resolve('@retina-ts/plugin-dns'))('dns-packet');

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '2' },
    'ring-mib': { type: 'string', default: '4' },
    capture: { type: 'string', default: '512' },
    batch: { type: 'string', default: '4096' },
  },
});
const phaseMs = Math.round(Number(args.seconds) * 1000);
const ringBytes = Number(args['ring-mib']) * 1024 * 1024;
const capture = Number(args.capture);
const batchSize = Number(args.batch);
if (
  !(phaseMs > 0) ||
  !(ringBytes >= 4096 && (ringBytes & (ringBytes - 1)) === 0) ||
  !(capture >= 12 && capture <= 2048) ||
  !(Number.isInteger(batchSize) && batchSize > 0)
) {
  console.error('bench: --seconds > 0, --ring-mib a power of two (MiB), --capture 12..2048, --batch > 0');
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('bench: needs root (BPF)');
  process.exit(2);
}

/** An Ethernet/IPv4/UDP frame carrying `dns` from src:sport to dst:dport. */
function frame(dns, src, dst, sport, dport) {
  const udp = Buffer.alloc(8 + dns.length);
  udp.writeUInt16BE(sport, 0);
  udp.writeUInt16BE(dport, 2);
  udp.writeUInt16BE(udp.length, 4);
  dns.copy(udp, 8);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + udp.length, 2);
  ip[8] = 64;
  ip[9] = 17;
  Buffer.from(src.split('.').map(Number)).copy(ip, 12);
  Buffer.from(dst.split('.').map(Number)).copy(ip, 16);
  const eth = Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]);
  return Buffer.concat([eth, ip, udp]);
}

/** 32 queries and their 32 responses (three A answers each), for 32 names. */
function packets() {
  const out = [];
  for (let i = 0; i < 32; i++) {
    const name = `svc-${i}.ns.svc.cluster.local`;
    const id = 1000 + i;
    const q = dnsPacket.encode({
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type: 'A', name }],
    });
    const r = dnsPacket.encode({
      type: 'response',
      id,
      flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
      questions: [{ type: 'A', name }],
      answers: [1, 2, 3].map((k) => ({ type: 'A', name, ttl: 30, data: `10.96.${i}.${k}` })),
    });
    out.push(frame(q, '10.244.1.7', '10.96.0.10', 40000 + i, 53));
    out.push(frame(r, '10.96.0.10', '10.244.1.7', 53, 40000 + i));
  }
  return out;
}

// The producer thread loads its own copy of the object and reuses these two maps through their pins.
probes.ensureBpffs();
const pins = {
  events: `/sys/fs/bpf/rts_dnsb_ev_${process.pid}`,
  stats: `/sys/fs/bpf/rts_dnsb_st_${process.pid}`,
};
const unpin = () => Object.values(pins).forEach((p) => rmSync(p, { force: true }));
const obj = BpfObject.open(defaultObjectPath(), { name: 'rts_dns_bench' });
obj.setConstant('capture_bytes', capture);
// The producer repeats identical frames, which duplicate folding would report once; every run must count.
obj.setConstant('dup_window_ns', 0n);
obj.setMapMaxEntries(DNS_EVENTS_MAP, ringBytes);
obj.setMapPinPath(DNS_EVENTS_MAP, pins.events);
obj.setMapPinPath(DNS_STATS_MAP, pins.stats);
obj.load();
const statsMap = obj.map(DNS_STATS_MAP);
const kernelStat = (index) => {
  const key = Buffer.alloc(4);
  key.writeUInt32LE(index);
  return Number(sumPerCpuU64(statsMap.lookupPerCpu(key) ?? []));
};

// The two consumers. Both see every batch the reader delivers; only the current one does anything with it.
const metrics = createMetricsModule();
const bus = new FlowBus({ capacity: 65536, metrics });
let flowsDelivered = 0;
bus.subscribe((flows) => {
  flowsDelivered += flows.length;
});
const processor = new DnsEventProcessor(
  {
    maxQueries: 500,
    maxQueryTypes: 64,
    maxResponses: 1000,
    queryTrailingDot: false,
    requestTimeoutMs: 10_000,
    maxPendingRequests: 65_536,
  },
  { metrics: dnsMetrics(metrics), emit: (flow) => bus.publish(flow), nodeName: 'bench', monoToEpochNs: 0n },
);
let consumed = 0;
let mode = 'reader';
const reader = new RingBufferReader(obj.map(DNS_EVENTS_MAP), {
  maxBatch: batchSize,
  onBatch: (batch) => {
    consumed += batch.count;
    if (mode === 'plugin') processor.processBatch(batch);
  },
}).start();

const frames = packets();
const producer = new Worker(new URL('./producer.mjs', import.meta.url), {
  workerData: { pins, ringBytes, capture, frames: frames.map((f) => new Uint8Array(f)) },
});
const replies = [];
producer.on('message', (m) => replies.shift()?.(m));
producer.on('error', (err) => {
  console.error(`bench: producer thread failed: ${err.message}`);
  process.exitCode = 1;
});
const ask = (msg) =>
  new Promise((resolve) => {
    replies.push(resolve);
    if (msg) producer.postMessage(msg);
  });
await ask(undefined); // its ready message

/** Offers `rate` records/s (Infinity: as fast as possible) for one phase; returns what happened to them. */
async function phase(rate) {
  const start = {
    matched: kernelStat(KernelStat.MATCHED),
    full: kernelStat(KernelStat.RINGBUF_FULL),
    dropped: reader.stats().dropped,
    consumed,
    flows: flowsDelivered,
    busDropped: bus.dropped,
    errors: Object.values(processor.stats().parseErrors).reduce((a, b) => a + b, 0),
  };
  const { produced, seconds } = await ask({
    type: 'produce',
    rate: rate === Infinity ? 0 : rate,
    ms: phaseMs,
  });
  // Let the reader and the bus catch up with what is already in the ring.
  const written = () => kernelStat(KernelStat.WRITTEN);
  const drainUntil = performance.now() + 3000;
  const startWritten = start.matched - start.full;
  while (performance.now() < drainUntil) {
    const expected = written() - startWritten - (reader.stats().dropped - start.dropped);
    const flowsDone = mode !== 'plugin' || flowsDelivered - start.flows >= consumed - start.consumed;
    if (consumed - start.consumed >= expected && flowsDone) break;
    await sleep(5);
  }
  await sleep(20);
  const r = {
    offered: produced / seconds,
    produced: kernelStat(KernelStat.MATCHED) - start.matched,
    lostKernel: kernelStat(KernelStat.RINGBUF_FULL) - start.full,
    lostReader: reader.stats().dropped - start.dropped,
    consumed: consumed - start.consumed,
    flows: flowsDelivered - start.flows,
    lostBus: bus.dropped - start.busDropped,
    parseErrors: Object.values(processor.stats().parseErrors).reduce((a, b) => a + b, 0) - start.errors,
    seconds,
  };
  r.rate = r.consumed / seconds;
  // Records produced but never consumed (ring full, reader queue full, or not drained) plus flows the bus refused.
  r.lost = r.produced - r.consumed + r.lostBus;
  r.ok =
    r.lost === 0 &&
    r.parseErrors === 0 &&
    (mode !== 'plugin' || r.flows === r.consumed) &&
    (rate === Infinity || r.offered >= rate * 0.95);
  return r;
}

/** The highest rate with nothing lost: doubling from 25k/s, then five bisection steps. */
async function zeroLossRate(label) {
  let good = 0;
  let bad = 0;
  for (let rate = 25_000; rate <= 16_000_000; rate *= 2) {
    const r = await phase(rate);
    log(label, rate, r);
    if (r.ok) good = rate;
    else {
      bad = rate;
      break;
    }
  }
  if (bad === 0) return good;
  for (let i = 0; i < 5; i++) {
    const mid = Math.round((good + bad) / 2);
    const r = await phase(mid);
    log(label, mid, r);
    if (r.ok) good = mid;
    else bad = mid;
  }
  return good;
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');
function log(label, rate, r) {
  const why = r.ok
    ? 'ok'
    : [
        r.lostKernel && `ring full ${fmt(r.lostKernel)}`,
        r.lostReader && `reader queue ${fmt(r.lostReader)}`,
        r.lostBus && `flow bus ${fmt(r.lostBus)}`,
        r.parseErrors && `parse errors ${fmt(r.parseErrors)}`,
        r.offered < rate * 0.95 && `producer reached only ${fmt(r.offered)}/s`,
      ]
        .filter(Boolean)
        .join(', ') || 'incomplete';
  process.stderr.write(
    `  ${label.padEnd(7)} offered ${fmt(rate).padStart(10)}/s  consumed ${fmt(r.rate).padStart(10)}/s  ${why}\n`,
  );
}

try {
  console.log(
    `dns bench: ${frames.length} distinct messages (queries, responses with 3 answers), ring ${args['ring-mib']} MiB, ` +
      `capture ${capture} B, reader batches of ${batchSize}, ${args.seconds} s phases`,
  );
  mode = 'reader';
  const readerLimit = await zeroLossRate('reader');
  mode = 'plugin';
  const pluginRate = await zeroLossRate('plugin');
  mode = 'reader';
  const readerSat = await phase(Infinity);
  mode = 'plugin';
  const pluginSat = await phase(Infinity);
  const sat = (r) => `flat out: ${fmt(r.produced / r.seconds)}/s offered, ${fmt(r.rate)}/s taken`;
  console.log(
    `ring-buffer limit (reader, no work):  ${fmt(readerLimit)} records/s with none lost (${sat(readerSat)})`,
  );
  console.log(
    `dns plugin (decode, metrics, flows):  ${fmt(pluginRate)} packets/s with none lost (${sat(pluginSat)})`,
  );
  console.log(`ratio plugin / ring-buffer limit:     ${(pluginRate / readerLimit).toFixed(2)}`);
} finally {
  producer.postMessage({ type: 'close' });
  await new Promise((resolve) => producer.once('exit', resolve));
  reader.stop();
  bus.close();
  obj.close();
  unpin();
}
