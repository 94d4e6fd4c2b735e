// Nothing attached by a process outlives it: the child attaches one program of every kind and ends without
// detaching (process.exit, uncaught exception, SIGTERM). fd-owned attachments (tcx, XDP links, tracepoints,
// cgroup links, sockets) die with the process; clsact filters are removed by the exit handler. After SIGKILL the
// clsact filter stays (nothing can run), and the next clsact attachment on the hook removes it.
import {
  createCgroup,
  createNetnsPair,
  describeKernel,
  tcFilters,
  tcQdiscs,
  xdpProgramId,
  type Cgroup,
  type NetnsPair,
} from '@retina-ts/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { decodeClsactHandle, runInNetns } from '../src/index.js';
import {
  programsFreed,
  runAttachAndExit,
  whileChildRuns,
  type AttachOptions,
  type ChildReport,
} from './attach-children.js';
import { addonMissing, openFixture } from './helpers.js';

let pair: NetnsPair;
let cgroup: Cgroup;

function runChild(ending: AttachOptions['ending'], tcMode: AttachOptions['tcMode'] = 'both') {
  return runAttachAndExit({
    netns: pair.ns.path,
    ifname: pair.veth.name,
    cgroup: cgroup.path,
    ending,
    tcMode,
  });
}

async function expectNothingLeft(report: ChildReport): Promise<void> {
  await programsFreed(report);
  expect(tcFilters(pair.veth.name, { netns: pair.ns })).toEqual([]);
  expect(tcQdiscs(pair.veth.name, { netns: pair.ns }).map((q) => q.kind)).not.toContain('clsact');
  expect(xdpProgramId(pair.veth.name, { netns: pair.ns })).toBeUndefined();
}

describeKernel(
  'no leak after the process ends',
  () => {
    beforeAll(() => {
      pair = createNetnsPair({ prefix: 'rtL', peerPrefix: 'rtP' });
      cgroup = createCgroup();
    });

    afterAll(() => {
      pair?.destroy();
      cgroup?.destroy();
    });

    it('process.exit() without detaching leaves nothing attached', async () => {
      const { report, status } = runChild('exit');
      expect(status).toBe(0);
      expect(report.kinds).toEqual([
        'tcx',
        'clsact',
        'xdp',
        'socket_filter',
        'raw_tracepoint',
        'tp_btf',
        'cgroup',
      ]);
      await expectNothingLeft(report);
    });

    it('an uncaught exception leaves nothing attached', async () => {
      const { report, status, stderr } = runChild('throw');
      expect(status).toBe(1);
      expect(stderr).toMatch(/uncaught on purpose/);
      await expectNothingLeft(report);
    });

    it('SIGTERM (no handler of its own) removes the filters and still ends the process by the signal', async () => {
      const { report, signal } = runChild('signal');
      expect(signal).toBe('SIGTERM');
      await expectNothingLeft(report);
    });

    it('garbage collection of an unreachable object releases its links while the process keeps running', async () => {
      const exitCode = await whileChildRuns(
        { collect: { netns: pair.ns.path, ifname: pair.veth.name } },
        async (report, child) => {
          expect(child.exitCode).toBeNull();
          await expectNothingLeft(report);
        },
      );
      expect(exitCode).toBe(0);
    });

    it('after SIGKILL the clsact filter remains until the next clsact attachment on the hook clears it', async () => {
      const { report, signal } = runChild('kill', 'clsact');
      expect(signal).toBe('SIGKILL');
      const left = tcFilters(pair.veth.name, { netns: pair.ns, direction: 'egress' });
      expect(left.length).toBe(1);
      expect(decodeClsactHandle(left[0]?.handle ?? 0)?.pid).toBe(report.pid);

      const obj = openFixture().load();
      try {
        const link = runInNetns(pair.ns.path, () =>
          obj.program('tc_egress').attachTc({ ifname: pair.veth.name, direction: 'egress', mode: 'clsact' }),
        );
        const now = tcFilters(pair.veth.name, { netns: pair.ns, direction: 'egress' });
        expect(now.map((f) => decodeClsactHandle(f.handle ?? 0)?.pid)).toEqual([process.pid]);
        link.detach();
      } finally {
        obj.close();
      }
      await programsFreed(report);
      expect(tcFilters(pair.veth.name, { netns: pair.ns })).toEqual([]);
    });
  },
  { requires: addonMissing },
);
