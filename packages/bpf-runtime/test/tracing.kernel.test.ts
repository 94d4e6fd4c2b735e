import { createCgroup, describeKernel, type Cgroup } from '@retina-ts/testkit';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { BpfError, ensureTracefs, unmount, type BpfObject } from '../src/index.js';
import { addonMissing, count, openFixture, Slot } from './helpers.js';

// process.ppid calls getppid(2) every time it is read: a syscall this process triggers on demand.
function callGetppid(times: number): void {
  for (let i = 0; i < times; i++) void process.ppid;
}

const objects: BpfObject[] = [];
let mountedTracefs: string | undefined;

function loadForThisProcess(configure?: (obj: BpfObject) => void): BpfObject {
  const obj = openFixture();
  objects.push(obj);
  obj.setConstant('target_tgid', process.pid);
  configure?.(obj);
  return obj.load();
}

describeKernel(
  'tracepoint, raw tracepoint and tp_btf programs',
  () => {
    beforeAll(() => {
      const r = ensureTracefs();
      if (r.mounted) mountedTracefs = r.path;
    });

    afterAll(() => {
      for (const obj of objects) obj.close();
      if (mountedTracefs) unmount(mountedTracefs);
    });

    it('counts exactly the syscalls this process makes while attached, and nothing after detach', () => {
      const obj = loadForThisProcess();
      const links = [
        obj.program('tp_getppid').attachTracepoint('syscalls', 'sys_enter_getppid'),
        obj.program('rtp_sys_enter').attachRawTracepoint('sys_enter'),
        obj.program('btf_sys_enter').attachBtfTracepoint(),
      ];
      expect(links.map((l) => l.kind)).toEqual(['tracepoint', 'raw_tracepoint', 'tp_btf']);
      expect(links.every((l) => l.id > 0 && l.fd >= 0)).toBe(true);

      callGetppid(25);
      expect([count(obj, Slot.tracepoint), count(obj, Slot.rawTracepoint), count(obj, Slot.tpBtf)]).toEqual([
        25n,
        25n,
        25n,
      ]);

      for (const l of links) l.detach();
      for (const l of links) l.detach(); // idempotent
      expect(links.every((l) => !l.attached && l.fd === -1)).toBe(true);
      callGetppid(10);
      expect([count(obj, Slot.tracepoint), count(obj, Slot.rawTracepoint), count(obj, Slot.tpBtf)]).toEqual([
        25n,
        25n,
        25n,
      ]);
    });

    it('derives targets from section names (attach() and the argument-less forms)', () => {
      const obj = loadForThisProcess();
      const auto = ['tp_getppid', 'rtp_sys_enter', 'btf_sys_enter'].map((name) => obj.program(name).attach());
      expect(auto.map((l) => l.kind)).toEqual(['tracepoint', 'raw_tracepoint', 'tp_btf']);
      callGetppid(4);
      expect(count(obj, Slot.tracepoint)).toBe(4n);
      expect(count(obj, Slot.tpBtf)).toBe(4n);
      for (const l of auto) l.detach();

      const implicit = obj.program('tp_getppid').attachTracepoint();
      callGetppid(3);
      expect(count(obj, Slot.tracepoint)).toBe(7n);
      implicit.detach();
    });

    it('ignores other processes (target_tgid constant)', () => {
      const obj = loadForThisProcess((o) => o.setConstant('target_tgid', 1));
      const link = obj.program('rtp_sys_enter').attachRawTracepoint();
      callGetppid(5);
      expect(count(obj, Slot.rawTracepoint)).toBe(0n);
      link.detach();
    });

    it('explains attach errors: wrong program kind and unknown tracepoints', () => {
      const obj = loadForThisProcess();
      expect(() => obj.program('tc_ingress').attach()).toThrow(/needs a target; use attachTc\(\)/);
      expect(() => obj.program('tc_ingress').attachTracepoint('syscalls', 'x')).toThrow(
        /needs a tracepoint program/,
      );
      let err: unknown;
      try {
        obj.program('tp_getppid').attachTracepoint('syscalls', 'sys_enter_no_such_call');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(BpfError);
      expect((err as BpfError).code).toBe('ENOENT');
      expect((err as BpfError).message).toMatch(/attach tracepoint tp_getppid failed: ENOENT/);
    });

    it('closing the object detaches its links', () => {
      const obj = loadForThisProcess();
      const link = obj.program('btf_sys_enter').attachBtfTracepoint();
      obj.close();
      expect(link.attached).toBe(false);
    });
  },
  { requires: addonMissing },
);

describeKernel(
  'cgroup skb programs',
  () => {
    let cgroup: Cgroup | undefined;
    let obj: BpfObject | undefined;

    afterAll(() => {
      obj?.close();
      cgroup?.destroy();
    });

    it('counts UDP datagrams sent by processes of the cgroup, until detached', () => {
      cgroup = createCgroup();
      const port = 40000 + (process.pid % 20000);
      obj = openFixture().setConstant('udp_port', port).load();
      const link = obj.program('cg_egress').attachCgroup({ path: cgroup.path });
      expect(link.kind).toBe('cgroup');
      expect(() =>
        obj?.program('cg_egress').attachCgroup({ path: cgroup?.path ?? '', attachType: 'ingress' }),
      ).toThrow(/loaded for egress/);

      const send = (n: number): void => {
        const script = `const s=require('node:dgram').createSocket('udp4');let n=${n};const go=()=>n--===0?s.close():s.send('x',${port},'127.0.0.1',go);go();`;
        cgroup?.run(process.execPath, ['-e', script]);
      };
      send(4);
      expect(count(obj, Slot.cgroupUdp)).toBe(4n);
      link.detach();
      send(3);
      expect(count(obj, Slot.cgroupUdp)).toBe(4n);
    });
  },
  { requires: addonMissing },
);
