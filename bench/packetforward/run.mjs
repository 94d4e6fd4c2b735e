// packetforward overhead benchmark: UDP packets per second through a veth pair between two network namespaces,
// without and with the packetforward TC programs attached (by the plugin itself), in alternating phases of one
// run. Prints each phase and the ratio with/without (the goal is at least 0.95).
//
// --ends receiver (default): the plugin runs on the receiving end, as on a node's interface: each packet runs one
// program (ingress). --ends both: the plugin also runs on the sending end: each packet runs two (egress, ingress).
//
// usage (root): npm run bench:packetforward -w @retina-ts/bench -- [--seconds 3] [--rounds 5] [--payload 64]
//                                                     [--mode tcx|clsact] [--ends receiver|both] [--cpu 1]
// needs: a built @retina-ts/plugin-packetforward, iproute2, a C compiler (cc), taskset (util-linux).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, promisify } from 'node:util';

const run = promisify(execFile);
const here = fileURLToPath(new URL('.', import.meta.url));

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    payload: { type: 'string', default: '64' },
    mode: { type: 'string', default: 'tcx' },
    ends: { type: 'string', default: 'receiver' },
    cpu: { type: 'string', default: '1' },
  },
});
const phaseMs = Math.round(Number(args.seconds) * 1000);
const rounds = Number(args.rounds);
const payload = Number(args.payload);
if (
  !(phaseMs > 0) ||
  !(rounds >= 1) ||
  !(payload >= 0 && payload <= 1400) ||
  !['tcx', 'clsact'].includes(args.mode) ||
  !['receiver', 'both'].includes(args.ends)
) {
  console.error('bench: --seconds > 0, --rounds >= 1, --payload 0..1400, --mode tcx|clsact, --ends receiver|both');
  process.exit(2);
}
if (process.getuid?.() !== 0) {
  console.error('bench: needs root (network namespaces and BPF)');
  process.exit(2);
}

const tag = `rtsb${process.pid % 100000}`;
const ns = { a: `${tag}a`, b: `${tag}b` };
const dev = { a: `${tag}va`, b: `${tag}vb` };
// The sink address is on B's subnet but not B's own: B receives each frame (its MAC) and, forwarding being off,
// drops it in routing without a reply, so nothing flows back to disturb the measurement.
const addr = { a: '10.251.0.1', b: '10.251.0.2', sink: '10.251.0.99' };
const work = mkdtempSync(join(tmpdir(), 'rts-bench-'));

async function sh(cmd, ...argv) {
  try {
    return (await run(cmd, argv)).stdout;
  } catch (err) {
    throw new Error(`${cmd} ${argv.join(' ')} failed: ${err.stderr || err.message}`);
  }
}
const inNs = (name, cmd, ...argv) => sh('ip', 'netns', 'exec', name, cmd, ...argv);

async function setup() {
  await sh('ip', 'netns', 'add', ns.a);
  await sh('ip', 'netns', 'add', ns.b);
  await sh('ip', 'link', 'add', dev.a, 'netns', ns.a, 'type', 'veth', 'peer', 'name', dev.b, 'netns', ns.b);
  for (const side of ['a', 'b']) {
    await inNs(ns[side], 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv4.conf.all.forwarding=0');
    await sh('ip', '-n', ns[side], 'addr', 'add', `${addr[side]}/24`, 'dev', dev[side]);
    await sh('ip', '-n', ns[side], 'link', 'set', dev[side], 'up');
  }
  const macB = JSON.parse(await sh('ip', '-n', ns.b, '-j', 'link', 'show', dev.b))[0].address;
  await sh('ip', '-n', ns.a, 'neigh', 'replace', addr.sink, 'lladdr', macB, 'dev', dev.a, 'nud', 'permanent');
}

async function teardown() {
  for (const name of [ns.a, ns.b]) await sh('ip', 'netns', 'del', name).catch(() => {});
  rmSync(work, { recursive: true, force: true });
}

async function rxPackets() {
  const [link] = JSON.parse(await sh('ip', '-n', ns.b, '-j', '-s', 'link', 'show', dev.b));
  return link.stats64.rx.packets;
}

/** Starts the plugin in a namespace; resolves with a handle once it reports its attachments. */
function attach(side) {
  const child = spawn('ip', ['netns', 'exec', ns[side], process.execPath, join(here, 'attach-worker.mjs'), dev[side], args.mode], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = [];
  let waiter;
  let buf = '';
  child.stdout.on('data', (chunk) => {
    buf += chunk;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      lines.push(JSON.parse(buf.slice(0, i)));
      buf = buf.slice(i + 1);
      waiter?.();
    }
  });
  const next = () =>
    new Promise((resolve, reject) => {
      const check = () => (lines.length ? resolve(lines.shift()) : undefined);
      waiter = check;
      child.once('exit', (code) => reject(new Error(`attach worker in ${ns[side]} exited with ${code}`)));
      check();
    });
  return next().then((ready) => ({
    attachments: ready.attachments,
    async detach() {
      child.stdin.end();
      const { totals } = await next();
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      return totals;
    },
  }));
}

/** One phase: the sender runs for phaseMs; returns packets per second delivered to B. */
async function phase(sender) {
  const before = await rxPackets();
  const out = await inNs(ns.a, 'taskset', '-c', args.cpu, sender, addr.sink, '9', String(payload), String(phaseMs));
  const after = await rxPackets();
  const m = /sent=(\d+) elapsed_ns=(\d+)/.exec(out);
  if (!m) throw new Error(`sender printed no result: ${out}`);
  const seconds = Number(m[2]) / 1e9;
  return { sent: Number(m[1]), delivered: after - before, pps: (after - before) / seconds };
}

const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
};

async function main() {
  const sender = join(work, 'sender');
  await sh('cc', '-O2', '-o', sender, join(here, 'sender.c'));
  await setup();
  console.log(
    `packetforward overhead: ${rounds} round(s) of ${phaseMs} ms per phase, UDP payload ${payload} B ` +
      `(${payload + 42} B frames), attach mode ${args.mode}, plugin on ${args.ends === 'both' ? 'both ends' : 'the receiving end'}, ` +
      `sender on CPU ${args.cpu}`,
  );
  // Warm-up: ARP-free path, caches and CPU frequency settle before anything is measured.
  await phase(sender);

  const without = [];
  const withPrograms = [];
  let counted = 0;
  let sentWith = 0;
  for (let r = 0; r < rounds; r++) {
    // Alternate the order so a slow drift in the machine does not favour one side.
    const order = r % 2 === 0 ? ['without', 'with'] : ['with', 'without'];
    for (const kind of order) {
      if (kind === 'without') {
        const p = await phase(sender);
        without.push(p.pps);
        console.log(`round ${r + 1} without: ${Math.round(p.pps)} pkt/s`);
      } else {
        const sides = args.ends === 'both' ? ['b', 'a'] : ['b'];
        const handles = [];
        for (const side of sides) handles.push(await attach(side));
        const p = await phase(sender);
        const [tb, ta] = await Promise.all(handles.map((h) => h.detach()));
        withPrograms.push(p.pps);
        sentWith += p.delivered;
        counted += tb.ingress.packets;
        console.log(
          `round ${r + 1} with:    ${Math.round(p.pps)} pkt/s  (counted ingress on B ${tb.ingress.packets}` +
            `${ta ? `, egress on A ${ta.egress.packets}` : ''}; ${handles[0].attachments[0].kind})`,
        );
      }
    }
  }
  const base = median(without);
  const loaded = median(withPrograms);
  console.log(`median without: ${Math.round(base)} pkt/s`);
  console.log(`median with:    ${Math.round(loaded)} pkt/s`);
  console.log(`ratio with/without: ${(loaded / base).toFixed(3)} (goal >= 0.95)`);
  if (counted < sentWith) {
    console.log(`warning: the ingress program counted ${counted} packets but ${sentWith} were delivered`);
  }
}

process.on('SIGINT', () => {
  void teardown().then(() => process.exit(130));
});
try {
  await main();
} finally {
  await teardown();
}
