/**
 * Smoke test of the pod-throughput bench (bench/pod-throughput), so it cannot rot: one round of one second per
 * workload at high aggregation, its cluster (node namespace, two pods, the API server double) and the real agent
 * in advanced mode, then the pass with BPF run-time statistics. It checks the bench's results are complete and
 * plausible (every workload measured with and without the agent, packetparser's programs ran, losses counted), not
 * any throughput figure.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { commandExists, describeKernel } from '@retina-ts/testkit';

const BENCH = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'bench',
  'pod-throughput',
  'run.mjs',
);

interface Summary {
  workload: string;
  level: string;
  ratioMin: number;
  ratioMax: number;
  coresMax: number;
  rssMax: number;
  events: number;
  lost: number;
}
interface Cost {
  level: string;
  workload: string;
  programs: { name: string; runs: number; nsPerRun: number }[];
  events: number;
}

function requirements(): string | undefined {
  for (const cmd of ['iperf3', 'bpftool', 'curl', 'unshare']) {
    if (!commandExists(cmd)) return `${cmd} not found (bash tools/system-deps installs it)`;
  }
  return undefined;
}

/** Runs the bench; resolves with its stdout, rejects with its output when it fails. */
function runBench(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BENCH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`bench exited with ${code}:\n${out}\n${err}`)),
    );
  });
}

describeKernel(
  'pod-throughput bench',
  () => {
    it('measures every workload with and without the agent and where the time goes', async () => {
      const out = await runBench(['--rounds', '1', '--seconds', '1', '--levels', 'high', '--json']);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      expect(line, out).toBeDefined();
      const result = JSON.parse(line!.slice('RESULT '.length)) as { summary: Summary[]; costs: Cost[] };

      expect(result.summary.map((s) => `${s.workload}/${s.level}`).sort()).toEqual([
        'conn/high',
        'tcp/high',
        'udp/high',
      ]);
      for (const s of result.summary) {
        expect(s.ratioMin, `${s.workload} ratio`).toBeGreaterThan(0);
        expect(Number.isFinite(s.ratioMax), `${s.workload} ratio`).toBe(true);
        expect(s.coresMax).toBeGreaterThanOrEqual(0);
        expect(s.rssMax, `${s.workload} agent RSS`).toBeGreaterThan(20);
        // Losses are reported, not judged: a flood on a busy machine may lose some.
        expect(Number.isInteger(s.lost) && s.lost >= 0, `${s.workload} events lost: ${s.lost}`).toBe(true);
      }
      // Short connections open and close connections: high aggregation reports each one's control packets.
      expect(result.summary.find((s) => s.workload === 'conn')!.events).toBeGreaterThan(0);
      // The statistics pass saw packetparser's programs on the pod veths run for the bulk TCP traffic.
      const tcp = result.costs.find((c) => c.workload === 'tcp')!;
      const pp = tcp.programs.filter((p) => p.name.startsWith('rts_pp_ep_'));
      expect(pp.map((p) => p.name).sort()).toEqual(['rts_pp_ep_eg', 'rts_pp_ep_in']);
      for (const p of pp) {
        expect(p.runs).toBeGreaterThan(0);
        expect(p.nsPerRun).toBeGreaterThan(0);
      }
      expect(out).toMatch(/^bulk TCP \(Gbit\/s\), without agent: /m);
      expect(out).toMatch(/^ {2}high ratio \d/m);
    }, 180_000);
  },
  { requires: requirements },
);
