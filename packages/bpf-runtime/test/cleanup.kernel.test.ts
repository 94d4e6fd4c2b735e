// `retina-bpf cleanup` after a process died without detaching (SIGKILL): the clsact filters it left and the qdisc it
// created go, while another tool's filter, a running owner's filter and an interface's existing qdisc stay.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { createNetnsPair, describeKernel, tcFilters, tcQdiscs, type NetnsPair } from '@retina-ts/testkit';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';

import { decodeClsactHandle, programIdsHeldBy } from '../src/index.js';
import { programsFreed, runAttachAndExit, whileChildRuns, type ChildReport } from './attach-children.js';
import { addonMissing, openFixture } from './helpers.js';

const CLI = fileURLToPath(new URL('../bin/retina-bpf.js', import.meta.url));

let pair: NetnsPair;

/** A child attaching a clsact filter on the egress hook and ending by SIGKILL. */
function killedChild(): ChildReport {
  const { report, signal } = runAttachAndExit({
    netns: pair.ns.path,
    ifname: pair.veth.name,
    ending: 'kill',
    tcMode: 'clsact',
  });
  expect(signal).toBe('SIGKILL');
  return report;
}

/** Runs the real CLI in the test namespace; returns its JSON report. */
function cleanup(...extra: string[]): {
  report: { removed: Array<{ ownerPid: number; ifname: string }>; kept: unknown[]; qdiscsRemoved: unknown[] };
} {
  const r = spawnSync(process.execPath, [CLI, 'cleanup', '--netns', pair.ns.path, '--json', ...extra], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const [one] = JSON.parse(r.stdout) as Array<ReturnType<typeof cleanup>>;
  return one!;
}

const ourFilters = () =>
  tcFilters(pair.veth.name, { netns: pair.ns }).filter((f) => decodeClsactHandle(f.handle ?? 0));
const hasClsact = () => tcQdiscs(pair.veth.name, { netns: pair.ns }).some((q) => q.kind === 'clsact');

describeKernel(
  'retina-bpf cleanup',
  () => {
    beforeAll(() => {
      pair = createNetnsPair({ prefix: 'rtC', peerPrefix: 'rtQ' });
    });

    afterEach(() => {
      pair.ns.exec('tc', ['qdisc', 'del', 'dev', pair.veth.name, 'clsact'], { allowFailure: true });
    });

    afterAll(() => pair?.destroy());

    it('removes the filter and the clsact qdisc a SIGKILLed process left', async () => {
      const child = killedChild();
      expect(ourFilters().map((f) => decodeClsactHandle(f.handle ?? 0)?.pid)).toEqual([child.pid]);
      expect(hasClsact()).toBe(true);

      const dry = cleanup('--dry-run');
      expect(dry.report.removed.map((f) => f.ownerPid)).toEqual([child.pid]);
      expect(ourFilters().length).toBe(1);

      const done = cleanup();
      expect(done.report.removed).toEqual([
        expect.objectContaining({ ownerPid: child.pid, ifname: pair.veth.name }),
      ]);
      expect(done.report.qdiscsRemoved).toEqual([expect.objectContaining({ ifname: pair.veth.name })]);
      expect(tcFilters(pair.veth.name, { netns: pair.ns })).toEqual([]);
      expect(hasClsact()).toBe(false);
      await programsFreed(child);
      // A second run finds nothing.
      expect(cleanup().report.removed).toEqual([]);
    });

    it("keeps another tool's filter and the qdisc it needs", () => {
      pair.ns.exec('tc', ['qdisc', 'add', 'dev', pair.veth.name, 'clsact']);
      const u32 = ['prio', '7', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0'];
      pair.ns.exec('tc', ['filter', 'add', 'dev', pair.veth.name, 'ingress', ...u32]);
      const foreign = tcFilters(pair.veth.name, { netns: pair.ns });
      const child = killedChild();
      const done = cleanup();
      expect(done.report.removed.map((f) => f.ownerPid)).toEqual([child.pid]);
      expect(done.report.qdiscsRemoved).toEqual([]);
      expect(tcFilters(pair.veth.name, { netns: pair.ns })).toEqual(foreign);
      expect(hasClsact()).toBe(true);
    });

    it('keeps the filter of a process that still runs', async () => {
      await whileChildRuns(
        { attach: { netns: pair.ns.path, ifname: pair.veth.name, tcMode: 'clsact' } },
        (report) => {
          // The running owner holds its programs through descriptors, which is how cleanup tells it is alive.
          const held = programIdsHeldBy(report.pid);
          expect(report.programIds.every((id) => held?.has(id))).toBe(true);
          const done = cleanup();
          expect(done.report.removed).toEqual([]);
          expect(done.report.kept).toEqual([expect.objectContaining({ ownerPid: report.pid })]);
          expect(ourFilters().length).toBe(1);
        },
      );
      // Its exit handler removed the filter and the qdisc it made.
      expect(tcFilters(pair.veth.name, { netns: pair.ns })).toEqual([]);
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
