// Node consumer of the ring-buffer benchmark: a RingBufferReader (or, with --perf, a PerfBufferReader) on the
// pinned map, decoding every record into its fields with a defineStruct() layout and checking them, the work
// consumer.c does.
//
// usage: node node-consumer.mjs <pinned map path> [--when-full drop|pause] [--decode reuse|objects]
//          [--ip number|string] [--max-batch N] [--queue N] [--recycle] [--inline] [--perf] [--perf-pages N]
//          [--perf-wakeup N]
//   --inline: the reader's mode 'inline' (the JS thread reads the ring itself; --when-full must be pause).
// protocol: the same as consumer.c ("ready", then "expect <N>" on stdin, then one JSON line).
import { readdirSync, readFileSync } from 'node:fs';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { BpfMap, PerfBufferReader, RingBufferReader, defineStruct } from '@retina-ts/bpf-runtime';

const { positionals, values: args } = parseArgs({
  allowPositionals: true,
  options: {
    'when-full': { type: 'string', default: 'drop' },
    decode: { type: 'string', default: 'reuse' },
    ip: { type: 'string', default: 'number' },
    'max-batch': { type: 'string', default: '4096' },
    queue: { type: 'string', default: '16' },
    perf: { type: 'boolean', default: false },
    recycle: { type: 'boolean', default: false },
    inline: { type: 'boolean', default: false },
    'perf-pages': { type: 'string', default: '1024' },
    'perf-wakeup': { type: 'string', default: '64' },
  },
});
const [pinPath] = positionals;
if (
  !pinPath ||
  !['drop', 'pause'].includes(args['when-full']) ||
  !['reuse', 'objects', 'none'].includes(args.decode) ||
  !['number', 'string'].includes(args.ip)
) {
  console.error(
    'usage: node node-consumer.mjs <pinned map path> [--when-full drop|pause] [--decode reuse|objects] ' +
      '[--ip number|string] [--max-batch N] [--queue N] [--perf] [--perf-pages N] [--perf-wakeup N]',
  );
  process.exit(2);
}

// struct flow_record of bpf/flow_ringbuf.bpf.c. Addresses decode to dotted strings with --ip string, else to
// their 32-bit value (what an aggregation key needs; text can wait until a flow is exported).
const ip = args.ip === 'string' ? 'ipv4' : 'be32';
const FlowRecord = defineStruct(
  {
    tsNs: 'u64',
    seq: 'u64',
    saddr: ip,
    daddr: ip,
    sport: 'be16',
    dport: 'be16',
    proto: 'u8',
    direction: 'u8',
    tcpFlags: 'u8',
    verdict: 'u8',
    bytes: 'u32',
    packets: 'u32',
    ifindex: 'u32',
    mark: 'u32',
    hash: 'u32',
    dropReason: 'u32',
    cookie: 'u64',
  },
  { u64: 'number' },
);
if (FlowRecord.size !== 64) throw new Error(`flow record layout is ${FlowRecord.size} bytes, expected 64`);
const SADDR = args.ip === 'string' ? '10.200.0.1' : 0x0ac80001;
const DADDR = args.ip === 'string' ? '10.200.0.2' : 0x0ac80002;

let records = 0;
let bad = 0;
let outOfOrder = 0;
let bytes = 0;
let lastSeq = -1;
let firstNs = 0n;
let lastNs = 0n;
let expect = Infinity;
let maxGapNs = 0n;
let lastStartNs = 0n;
let consumeNs = 0n;

/** Checks one decoded record: the fields the producer's frame fixes, sequence order, a sum. */
function check(r) {
  if (
    r.saddr !== SADDR ||
    r.daddr !== DADDR ||
    r.sport !== 40000 ||
    r.dport !== 443 ||
    r.proto !== 6 ||
    r.tcpFlags !== 0x10 ||
    r.packets !== 1 ||
    r.tsNs === 0
  ) {
    bad++;
  }
  if (r.seq <= lastSeq) outOfOrder++;
  lastSeq = r.seq;
  bytes += r.bytes;
}

/** Decodes every record of a batch into its fields and checks it: the work measured. */
const consume =
  args.decode === 'none'
    ? () => {}
    : args.decode === 'objects'
      ? (batch) => {
          for (const r of FlowRecord.decodeBatch(batch)) check(r);
        }
      : (batch) => FlowRecord.forEach(batch, check);

/**
 * CPU time in ns of this process's threads so far, by role: the JS thread, the reader's polling thread (named
 * retina-ringbuf / retina-perfbuf by the runtime), and the rest (V8's GC and compiler helpers, libuv).
 */
function threadCpu() {
  const out = { js: 0, reader: 0, other: 0 };
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const ns = Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
      const comm = readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      if (Number(tid) === process.pid) out.js += ns;
      else if (comm.startsWith('retina-')) out.reader += ns;
      else out.other += ns;
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

/** Context switches of every thread of this process so far (voluntary and not). */
function contextSwitches() {
  let total = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const status = readFileSync(`/proc/self/task/${tid}/status`, 'utf8');
      for (const m of status.matchAll(/ctxt_switches:\s+(\d+)/g)) total += Number(m[1]);
    } catch {
      // The thread ended meanwhile.
    }
  }
  return total;
}

const map = BpfMap.fromPinned(pinPath);
const options = {
  maxBatch: Number(args['max-batch']),
  queueCapacity: Number(args.queue),
  whenQueueFull: args['when-full'],
  recycleBatches: args.recycle,
  ...(args.inline ? { mode: 'inline' } : {}),
  onBatch(batch) {
    const start = process.hrtime.bigint();
    // The longest time from one batch's start to the next while records flowed (a batch preempted half-way counts):
    // what the ring must hold meanwhile.
    if (records !== 0 && start - lastStartNs > maxGapNs) maxGapNs = start - lastStartNs;
    lastStartNs = start;
    consume(batch);
    if (records === 0) firstNs = start;
    records += batch.count;
    lastNs = process.hrtime.bigint();
    consumeNs += lastNs - start;
    if (expect !== Infinity) finishIfDone();
  },
};
const reader = args.perf
  ? new PerfBufferReader(map, {
      ...options,
      pageCount: Number(args['perf-pages']),
      wakeupEvents: Number(args['perf-wakeup']),
    })
  : new RingBufferReader(map, options);

/** Ends once every record that reached the kernel buffer was either decoded here or dropped by the reader. */
function finishIfDone() {
  if (records + reader.stats().dropped < expect) return;
  // Measured before stop(): the polling thread's time goes with it when it ends.
  const threads = threadCpu();
  reader.stop();
  const s = reader.stats();
  const cpu = process.cpuUsage(cpuAtReady);
  console.log(
    JSON.stringify({
      records,
      firstNs: String(firstNs),
      lastNs: String(lastNs),
      bad,
      outOfOrder,
      bytes,
      dropped: s.dropped,
      readerLost: s.lost ?? 0,
      batches: s.batches,
      cpuUs: cpu.user + cpu.system,
      switches: contextSwitches() - switchesAtReady,
      userUs: cpu.user,
      systemUs: cpu.system,
      jsUs: (threads.js - threadsAtReady.js) / 1000,
      readerUs: (threads.reader - threadsAtReady.reader) / 1000,
      otherUs: (threads.other - threadsAtReady.other) / 1000,
      minorFaults: process.resourceUsage().minorPageFault - faultsAtReady,
      gcs,
      gcMs,
      maxGapUs: Number(maxGapNs) / 1000,
      consumeUs: Number(consumeNs) / 1000,
      maxRssKb: process.resourceUsage().maxRSS,
    }),
  );
  map.close();
  process.exit(0);
}

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  input += chunk;
  const m = /expect (\d+)\n/.exec(input);
  if (m) {
    expect = Number(m[1]);
    finishIfDone();
    // Records the reader drops arrive in no batch: look again until the count is complete.
    setInterval(finishIfDone, 20).unref();
  }
});

/**
 * Runs the decode-and-check path over synthetic records before the producer starts, so V8 has compiled it (the C
 * consumer is compiled ahead of time): without this, the first hundreds of thousands of records of a flood arrive
 * while it still runs in the interpreter. The counters are reset afterwards.
 */
async function warmUp() {
  if (args.perf) return; // perf batches carry a cpus array: warmed by the first real batches
  const count = 4096;
  const ab = new ArrayBuffer(count * 8 + count * FlowRecord.size);
  const offsets = new Uint32Array(ab, 0, count);
  const lengths = new Uint32Array(ab, count * 4, count);
  const buffer = Buffer.from(ab, count * 8, count * FlowRecord.size);
  for (let i = 0; i < count; i++) {
    offsets[i] = i * FlowRecord.size;
    lengths[i] = FlowRecord.size;
    FlowRecord.encodeInto(
      {
        tsNs: 1,
        seq: i,
        saddr: SADDR,
        daddr: DADDR,
        sport: 40000,
        dport: 443,
        proto: 6,
        tcpFlags: 0x10,
        packets: 1,
      },
      buffer,
      offsets[i],
    );
  }
  const batch = { count, buffer, offsets, lengths };
  for (let round = 0; round < 8; round++) {
    // The warm-up's garbage (and the compiler's) is collected now, not by a full collection in the middle of the
    // flood: the measured phase starts from a settled heap, as in an agent that has been running a while. A full
    // collection also throws away optimized code whose weakly held objects died, so the rounds after it compile
    // the decode loop again, before the flood.
    if (round === 4) globalThis.gc?.();
    for (let i = 0; i < 20; i++) {
      lastSeq = -1;
      consume(batch);
    }
    // Lets the compiler threads finish (they share this process's CPU).
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  if (bad !== 0 || outOfOrder !== 0)
    throw new Error(`warm-up records failed their checks (${bad}, ${outOfOrder})`);
  bytes = 0;
  lastSeq = -1;
}

await warmUp();
// Garbage collections from here on: batch memory is what a reader makes V8 collect.
let gcs = 0;
let gcMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcs++;
    gcMs += e.duration;
  }
}).observe({ entryTypes: ['gc'] });
reader.start();
const cpuAtReady = process.cpuUsage();
const switchesAtReady = contextSwitches();
const threadsAtReady = threadCpu();
const faultsAtReady = process.resourceUsage().minorPageFault;
process.stdout.write('ready\n');
