/**
 * The capture workload against real traffic: `retina-capture` runs inside one test network namespace (as it runs
 * in a node's namespace in a Job), UDP flows from a peer namespace over a veth pair, and the pcap inside the
 * stored tarball is read back with tshark. Nothing here touches addresses outside the namespaces it creates.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  commandExists,
  createNetns,
  createVethPair,
  describeKernel,
  ping,
  sendUdp,
  waitFor,
  type Netns,
  type VethPair,
} from '@retina-ts/testkit';
import { extract } from 'tar';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const A = '10.247.13.1';
const B = '10.247.13.2';

interface LogLine {
  msg: string;
  [k: string]: unknown;
}

/** A running retina-capture with its parsed log lines. */
interface Workload {
  child: ChildProcess;
  lines: LogLine[];
  waitFor(msg: string, timeoutMs?: number): Promise<LogLine>;
  exited: Promise<number | null>;
}

function startWorkload(ns: Netns, args: string[]): Workload {
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: LogLine[] = [];
  let buf = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    buf += c.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)) as LogLine);
      buf = buf.slice(i + 1);
    }
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return {
    child,
    lines,
    exited,
    async waitFor(msg, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = lines.find((l) => l.msg === msg);
        if (hit) return hit;
        if (child.exitCode !== null || Date.now() > deadline) {
          throw new Error(`retina-capture never logged "${msg}"; logs:\n${lines.map((l) => JSON.stringify(l)).join('\n')}\n${stderr}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Reads a pcap with tshark: one [source, destination, UDP destination port] row per packet. */
function readPcap(file: string): string[][] {
  const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.dstport'], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`tshark could not read ${file}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => l.split('\t'));
}

async function extractTarball(file: string, into: string): Promise<string> {
  await extract({ file, cwd: into });
  const [dir] = await readdir(into);
  return join(into, dir!);
}

describeKernel(
  'retina-capture on real traffic',
  () => {
    let a: Netns;
    let b: Netns;
    let veth: VethPair;
    let root: string;

    beforeAll(async () => {
      if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the package first (npm run build -w @retina-ts/capture)`);
      root = await mkdtemp(join(tmpdir(), 'capture-kernel-'));
      a = createNetns('capA');
      b = createNetns('capB');
      veth = createVethPair({ ns: a, peerNs: b, addresses: { local: `${A}/24`, peer: `${B}/24` } });
    });

    /**
     * retina-capture in `a` on the veth pair, named `name`, writing in `<root>/work-<name>` and storing its tarball
     * in `<root>/base/<name>`; `args` add to that.
     */
    const capture = (name: string, args: string[]): Workload =>
      startWorkload(a, [
        '--name', name,
        '--interfaces', veth.name,
        '--host-path', name,
        '--host-path-base-dir', join(root, 'base'),
        '--work-dir', join(root, `work-${name}`),
        ...args,
      ]);

    /** The directory tcpdump of capture `name` writes in while it runs. */
    const liveDir = async (name: string): Promise<string> => {
      const work = join(root, `work-${name}`);
      return join(work, (await readdir(work))[0]!);
    };

    /** The tarballs capture `name` stored. */
    const stored = (name: string): Promise<string[]> => readdir(join(root, 'base', name));

    /** The one tarball capture `name` stored, extracted: its directory. */
    const extracted = async (name: string): Promise<string> => {
      const [tarball] = await stored(name);
      return extractTarball(join(root, 'base', name, tarball!), await mkdtemp(join(root, `x-${name}-`)));
    };

    afterAll(async () => {
      veth?.destroy();
      a?.destroy();
      b?.destroy();
      if (root) await rm(root, { recursive: true, force: true });
    });

    it('captures exactly the packets the include filter selects, with metadata, into the host path', async () => {
      const w = capture('kt', [
        '--node-name', 'node-a',
        '--duration', '10m',
        '--include-filter', `${B}:5001`,
        // Packets reach the file as they arrive, so the test can see them before stopping the capture.
        '--immediate-mode',
        '--packet-buffered',
      ]);
      await w.waitFor('capture started');
      ping(b, A, { count: 1 }); // resolves neighbours first; ICMP is outside the filter
      sendUdp(b, { address: A, port: 5002, count: 7, payload: 'other' });
      sendUdp(a, { address: B, port: 5003, count: 3, payload: 'reverse' });
      sendUdp(b, { address: A, port: 5001, count: 5, payload: 'selected' });
      // The selected packets were sent last: once all five are in the live file, everything before them was seen.
      const live = await liveDir('kt');
      await waitFor(() => {
        const pcap = readdirSync(live).find((f) => f.endsWith('.pcap'));
        return pcap !== undefined && readPcap(join(live, pcap)).length >= 5;
      }, { timeoutMs: 30_000, intervalMs: 100, description: 'five selected packets in the live capture file' });
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      const done = await w.waitFor('capture finished');
      expect(done.stoppedBy).toBe('signal');

      const tarballs = await stored('kt');
      expect(tarballs).toHaveLength(1);
      expect(tarballs[0]).toMatch(/^kt-node-a-\d{14}UTC\.tar\.gz$/);
      const dir = await extracted('kt');
      const name = tarballs[0]!.replace(/\.tar\.gz$/, '');
      const files = (await readdir(dir)).sort();
      expect(files).toEqual(
        [
          `${name}.pcap`,
          'interface-stats.txt',
          'ip-resources.txt',
          'iptables-rules.txt',
          'nftables-rules.txt',
          'proc-net',
          'proc-sys-net',
          'socket-stats.txt',
          'tcpdump.log',
          ...(commandExists('conntrack') ? ['conntrack-stats.txt'] : []),
          ...files.filter((f) => f === 'metadata-skipped.txt'),
        ].sort(),
      );
      expect(readPcap(join(dir, `${name}.pcap`))).toEqual(Array.from({ length: 5 }, () => [B, A, '5001']));
      // The metadata describes the namespace the workload ran in.
      expect(await readFile(join(dir, 'ip-resources.txt'), 'utf8')).toContain(A);
      expect(await readFile(join(dir, 'proc-net', 'dev'), 'utf8')).toContain(veth.name);
      // Stored on its output, so the work directory is empty again.
      expect(await readdir(join(root, 'work-kt'))).toEqual([]);
    });

    it('stops by itself at the duration', async () => {
      const w = capture('dur', ['--duration', '2s', '--include-metadata=false']);
      expect(await w.exited).toBe(0);
      expect((await w.waitFor('capture finished')).stoppedBy).toBe('duration');
    });

    it('stops by itself once the file passes --max-size', async () => {
      const w = capture('size', [
        '--duration', '10m',
        '--max-size', '1',
        '--include-metadata=false',
        '--include-filter', '5004',
        '--packet-buffered',
      ]);
      await w.waitFor('capture started');
      sendUdp(b, { address: A, port: 5004, count: 1500, payload: 'x'.repeat(1200) });
      expect(await w.exited).toBe(0);
      expect((await w.waitFor('capture finished')).stoppedBy).toBe('max-size');
      const dir = await extracted('size');
      const pcap = (await readdir(dir)).find((f) => f.endsWith('.pcap'))!;
      expect((await stat(join(dir, pcap))).size).toBeGreaterThan(1024 * 1024);
    });

    it('rotates over --file-count files of --max-size each', async () => {
      const w = capture('rot', [
        '--duration', '10m',
        '--max-size', '1',
        '--file-count', '2',
        '--include-metadata=false',
        '--include-filter', '5005',
        '--immediate-mode',
      ]);
      await w.waitFor('capture started');
      sendUdp(b, { address: A, port: 5005, count: 2600, payload: 'y'.repeat(1200) });
      const live = await liveDir('rot');
      // Over 3 MB were sent: tcpdump has rotated once both files exist (or after wrapping back to the first).
      await waitFor(() => readdirSync(live).filter((f) => /\.pcap\d$/.test(f)).length === 2, {
        timeoutMs: 30_000,
        intervalMs: 100,
        description: 'two rotating capture files',
      });
      w.child.kill('SIGTERM');
      expect(await w.exited).toBe(0);
      const dir = await extracted('rot');
      const pcaps = (await readdir(dir)).filter((f) => /\.pcap\d$/.test(f)).sort();
      expect(pcaps.map((f) => f.slice(-6))).toEqual(['.pcap0', '.pcap1']);
      for (const p of pcaps) {
        // tcpdump's -C unit is 1,000,000 bytes; a file ends with the packet that crossed the limit.
        expect((await stat(join(dir, p))).size).toBeLessThan(1_000_000 + 2000);
        expect(readPcap(join(dir, p)).every((row) => row[2] === '5005')).toBe(true);
      }
    });
  },
  {
    requires: () =>
      !commandExists('tcpdump')
        ? 'tcpdump not found (apt-get install -y tcpdump)'
        : !commandExists('tshark')
          ? 'tshark not found (apt-get install -y tshark)'
          : undefined,
  },
);
