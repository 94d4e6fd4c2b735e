// Producer thread of the dns benchmark: its own copy of the kernel object, whose ring buffer and counters are the
// main thread's (reused through their bpffs pins), runs the socket filter on crafted frames with BPF_PROG_TEST_RUN
// at the rate the main thread asks for. Running here keeps the producer off the JavaScript thread that decodes.
import { parentPort, workerData } from 'node:worker_threads';
import { BpfObject } from '@retina-ts/bpf-runtime';
import { DNS_EVENTS_MAP, DNS_PROGRAM, DNS_STATS_MAP, defaultObjectPath } from '@retina-ts/plugin-dns';

const { pins, ringBytes, capture, frames } = workerData;
const obj = BpfObject.open(defaultObjectPath(), { name: 'rts_dns_benchp' });
obj.setConstant('capture_bytes', capture);
obj.setConstant('dup_window_ns', 0n);
obj.setMapMaxEntries(DNS_EVENTS_MAP, ringBytes);
obj.setMapPinPath(DNS_EVENTS_MAP, pins.events);
obj.setMapPinPath(DNS_STATS_MAP, pins.stats);
obj.load();
const program = obj.program(DNS_PROGRAM);
const packets = frames.map((f) => Buffer.from(f));

/** Offers `rate` runs per second (0: as fast as possible) for `ms` milliseconds; returns how many it made. */
function produce(rate, ms) {
  const t0 = performance.now();
  let produced = 0;
  let next = 0;
  for (;;) {
    const elapsed = performance.now() - t0;
    if (elapsed >= ms) break;
    const due = rate === 0 ? 256 : Math.floor((rate * elapsed) / 1000) - produced;
    if (due <= 0) {
      // Busy-waiting would take the CPU the consumer needs; a short sleep keeps bursts small (at most ~1 ms worth).
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 0.2);
      continue;
    }
    const repeat = Math.min(due, 256);
    program.testRun(packets[next++ % packets.length], { repeat });
    produced += repeat;
  }
  return { produced, seconds: (performance.now() - t0) / 1000 };
}

parentPort.on('message', (msg) => {
  if (msg.type === 'produce') parentPort.postMessage(produce(msg.rate, msg.ms));
  else if (msg.type === 'close') {
    obj.close();
    parentPort.close();
  }
});
parentPort.postMessage({ ready: true });
