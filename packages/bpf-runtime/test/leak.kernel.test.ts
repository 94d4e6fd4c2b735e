// Nothing attached by a process outlives it: the child attaches one program of every kind and ends without
// detaching (process.exit, uncaught exception, SIGTERM). fd-owned attachments (tcx, XDP links, tracepoints,
// cgroup links, sockets) die with the process; clsact filters are removed by the exit handler. After SIGKILL the
// clsact filter stays (nothing can run), and the next clsact attachment on the hook removes it.
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import {
  createCgroup,
  createNetns,
  createVethPair,
  describeKernel,
  programsStillLoaded,
  tcFilters,
  tcQdiscs,
  waitFor,
  xdpProgramId,
  type Cgroup,
  type Netns,
  type VethPair,
} from '@retina-ts/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { decodeClsactHandle, runInNetns } from '../src/index.js';
import { addonMissing, openFixture } from './helpers.js';

const CHILD = fileURLToPath(new URL('./fixtures/attach-and-exit.mjs', import.meta.url));
const GC_CHILD = fileURLToPath(new URL('./fixtures/attach-and-collect.mjs', import.meta.url));

let ns: Netns;
let peer: Netns;
let veth: VethPair;
let cgroup: Cgroup;

interface ChildReport {
  pid: number;
  kinds: string[];
  programIds: number[];
}

function runChild(ending: 'exit' | 'throw' | 'signal' | 'kill', tcMode: 'both' | 'clsact' = 'both') {
  const r = spawnSync(
    process.execPath,
    [CHILD, JSON.stringify({ netns: ns.path, ifname: veth.name, cgroup: cgroup.path, ending, tcMode })],
    { encoding: 'utf8', timeout: 20_000 },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`child printed no report (status ${r.status}, signal ${r.signal}): ${r.stderr}`);
  return { report: JSON.parse(line) as ChildReport, status: r.status, signal: r.signal, stderr: r.stderr };
}

async function expectNothingLeft(report: ChildReport): Promise<void> {
  await waitFor(() => programsStillLoaded(report.programIds).length === 0, {
    description: `programs ${report.programIds.join(', ')} to be freed`,
  });
  expect(tcFilters(veth.name, { netns: ns })).toEqual([]);
  expect(tcQdiscs(veth.name, { netns: ns }).map((q) => q.kind)).not.toContain('clsact');
  expect(xdpProgramId(veth.name, { netns: ns })).toBeUndefined();
}

describeKernel(
  'no leak after the process ends',
  () => {
    beforeAll(() => {
      ns = createNetns('rtL');
      peer = createNetns('rtP');
      veth = createVethPair({ ns, peerNs: peer });
      cgroup = createCgroup();
    });

    afterAll(() => {
      veth?.destroy();
      ns?.destroy();
      peer?.destroy();
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
      const child = spawn(
        process.execPath,
        ['--expose-gc', GC_CHILD, JSON.stringify({ netns: ns.path, ifname: veth.name })],
        {
          stdio: ['pipe', 'pipe', 'inherit'],
        },
      );
      try {
        const lines = createInterface({ input: child.stdout });
        const [line] = (await once(lines, 'line')) as [string];
        const report = JSON.parse(line) as ChildReport;
        expect(child.exitCode).toBeNull();
        await expectNothingLeft(report);
      } finally {
        child.stdin.end();
        if (child.exitCode === null) await once(child, 'exit');
      }
      expect(child.exitCode).toBe(0);
    });

    it('after SIGKILL the clsact filter remains until the next clsact attachment on the hook clears it', async () => {
      const { report, signal } = runChild('kill', 'clsact');
      expect(signal).toBe('SIGKILL');
      const left = tcFilters(veth.name, { netns: ns, direction: 'egress' });
      expect(left.length).toBe(1);
      expect(decodeClsactHandle(left[0]?.handle ?? 0)?.pid).toBe(report.pid);

      const obj = openFixture().load();
      try {
        const link = runInNetns(ns.path, () =>
          obj.program('tc_egress').attachTc({ ifname: veth.name, direction: 'egress', mode: 'clsact' }),
        );
        const now = tcFilters(veth.name, { netns: ns, direction: 'egress' });
        expect(now.map((f) => decodeClsactHandle(f.handle ?? 0)?.pid)).toEqual([process.pid]);
        link.detach();
      } finally {
        obj.close();
      }
      await waitFor(() => programsStillLoaded(report.programIds).length === 0, {
        description: 'the killed process to release its programs',
      });
      expect(tcFilters(veth.name, { netns: ns })).toEqual([]);
    });
  },
  { requires: addonMissing },
);
