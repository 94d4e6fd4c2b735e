// Node consumer of the ring-buffer benchmark: a RingBufferReader (or, with --perf, a PerfBufferReader) on the
// pinned map, decoding every record into its fields with a defineStruct() layout and checking them, the work
// consumer.c does.
//
// usage: node node-consumer.mjs <pinned map path> [--when-full drop|pause] [--decode reuse|objects]
//          [--ip number|string] [--max-batch N] [--queue N] [--perf] [--perf-pages N] [--perf-wakeup N]
// protocol: the same as consumer.c ("ready", then "expect <N>" on stdin, then one JSON line).
import { readdirSync, readFileSync } from 'node:fs';
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
    'perf-pages': { type: 'string', default: '1024' },
    'perf-wakeup': { type: 'string', default: '64' },
  },
});
const [pinPath] = positionals;
if (
  !pinPath ||
  !['drop', 'pause'].includes(args['when-full']) ||
  !['reuse', 'objects'].includes(args.decode) ||
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
  args.decode === 'objects'
    ? (batch) => {
        for (const r of FlowRecord.decodeBatch(batch)) check(r);
      }
    : (batch) => FlowRecord.forEach(batch, check);

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
  onBatch(batch) {
    consume(batch);
    if (records === 0) firstNs = process.hrtime.bigint();
    records += batch.count;
    lastNs = process.hrtime.bigint();
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

reader.start();
const cpuAtReady = process.cpuUsage();
const switchesAtReady = contextSwitches();
process.stdout.write('ready\n');
