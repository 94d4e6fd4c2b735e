// `retina-bpf cleanup` after a process died without detaching (SIGKILL): the clsact filters it left and the qdisc it
// created go, while another tool's filter, a running owner's filter and an interface's existing qdisc stay.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import {
  createNetns,
  createVethPair,
  describeKernel,
  programsStillLoaded,
  tcFilters,
  tcQdiscs,
  waitFor,
  type Netns,
  type VethPair,
} from '@retina-ts/testkit';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import { decodeClsactHandle, programIdsHeldBy } from '../src/index.js';
import { addonMissing, openFixture } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/attach-and-exit.mjs', import.meta.url));
const CLI = fileURLToPath(new URL('../bin/retina-bpf.js', import.meta.url));

let ns: Netns;
let peer: Netns;
let veth: VethPair;

interface ChildReport {
  pid: number;
  programIds: number[];
}

/** A child attaching a clsact filter on the egress hook and ending by SIGKILL. */
function killedChild(): ChildReport {
  const r = spawnSync(
    process.execPath,
    [CHILD, JSON.stringify({ netns: ns.path, ifname: veth.name, ending: 'kill', tcMode: 'clsact' })],
    { encoding: 'utf8', timeout: 20_000 },
  );
  expect(r.signal).toBe('SIGKILL');
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`child printed no report: ${r.stderr}`);
  return JSON.parse(line) as ChildReport;
}

/** Runs the real CLI in the test namespace; returns its JSON report. */
function cleanup(...extra: string[]): {
  report: { removed: Array<{ ownerPid: number; ifname: string }>; kept: unknown[]; qdiscsRemoved: unknown[] };
} {
  const r = spawnSync(process.execPath, [CLI, 'cleanup', '--netns', ns.path, '--json', ...extra], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const [one] = JSON.parse(r.stdout) as Array<ReturnType<typeof cleanup>>;
  return one!;
}

const ourFilters = () => tcFilters(veth.name, { netns: ns }).filter((f) => decodeClsactHandle(f.handle ?? 0));
const hasClsact = () => tcQdiscs(veth.name, { netns: ns }).some((q) => q.kind === 'clsact');

describeKernel(
  'retina-bpf cleanup',
  () => {
    beforeAll(() => {
      ns = createNetns('rtC');
      peer = createNetns('rtQ');
      veth = createVethPair({ ns, peerNs: peer });
    });

    afterEach(() => {
      ns.exec('tc', ['qdisc', 'del', 'dev', veth.name, 'clsact'], { allowFailure: true });
    });

    afterAll(() => {
      veth?.destroy();
      ns?.destroy();
      peer?.destroy();
    });

    it('removes the filter and the clsact qdisc a SIGKILLed process left', async () => {
      const child = killedChild();
      expect(ourFilters().map((f) => decodeClsactHandle(f.handle ?? 0)?.pid)).toEqual([child.pid]);
      expect(hasClsact()).toBe(true);

      const dry = cleanup('--dry-run');
      expect(dry.report.removed.map((f) => f.ownerPid)).toEqual([child.pid]);
      expect(ourFilters().length).toBe(1);

      const done = cleanup();
      expect(done.report.removed).toEqual([
        expect.objectContaining({ ownerPid: child.pid, ifname: veth.name }),
      ]);
      expect(done.report.qdiscsRemoved).toEqual([expect.objectContaining({ ifname: veth.name })]);
      expect(tcFilters(veth.name, { netns: ns })).toEqual([]);
      expect(hasClsact()).toBe(false);
      await waitFor(() => programsStillLoaded(child.programIds).length === 0, {
        description: 'the programs of the killed process to be freed',
      });
      // A second run finds nothing.
      expect(cleanup().report.removed).toEqual([]);
    });

    it("keeps another tool's filter and the qdisc it needs", () => {
      ns.exec('tc', ['qdisc', 'add', 'dev', veth.name, 'clsact']);
      const u32 = ['prio', '7', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0'];
      ns.exec('tc', ['filter', 'add', 'dev', veth.name, 'ingress', ...u32]);
      const foreign = tcFilters(veth.name, { netns: ns });
      const child = killedChild();
      const done = cleanup();
      expect(done.report.removed.map((f) => f.ownerPid)).toEqual([child.pid]);
      expect(done.report.qdiscsRemoved).toEqual([]);
      expect(tcFilters(veth.name, { netns: ns })).toEqual(foreign);
      expect(hasClsact()).toBe(true);
    });

    it('keeps the filter of a process that still runs', async () => {
      const child = spawn(
        process.execPath,
        [CHILD, JSON.stringify({ netns: ns.path, ifname: veth.name, ending: 'wait', tcMode: 'clsact' })],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      try {
        const [line] = (await once(createInterface({ input: child.stdout }), 'line')) as [string];
        const report = JSON.parse(line) as ChildReport;
        // The running owner holds its programs through descriptors, which is how cleanup tells it is alive.
        const held = programIdsHeldBy(report.pid);
        expect(report.programIds.every((id) => held?.has(id))).toBe(true);
        const done = cleanup();
        expect(done.report.removed).toEqual([]);
        expect(done.report.kept).toEqual([expect.objectContaining({ ownerPid: report.pid })]);
        expect(ourFilters().length).toBe(1);
      } finally {
        child.stdin.end();
        if (child.exitCode === null) await once(child, 'exit');
      }
      // Its exit handler removed the filter and the qdisc it made.
      expect(tcFilters(veth.name, { netns: ns })).toEqual([]);
      expect(hasClsact()).toBe(false);
    });

    it('programIdsHeldBy sees the programs this process loaded', () => {
      const obj = openFixture().load();
      try {
        const ids = obj.programs.map((n) => obj.program(n).id);
        const held = programIdsHeldBy(process.pid);
        expect(ids.filter((id) => !held?.has(id))).toEqual([]);
      } finally {
        obj.close();
      }
      expect(programIdsHeldBy(2 ** 22 + 12345)).toBeUndefined();
    });
  },
  { requires: addonMissing },
);
