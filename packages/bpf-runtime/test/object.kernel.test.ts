import { readFileSync, rmSync } from 'node:fs';

import { describeKernel, uniqueName } from '@retina-ts/testkit';
import { afterAll, expect, it } from 'vitest';

import {
  BpfError,
  BpfMap,
  BpfObject,
  BpfVerifierError,
  ensureBpffs,
  possibleCpus,
  sumPerCpuStruct,
  sumPerCpuU64,
} from '../src/index.js';
import { defineStruct } from '../src/struct.js';
import { addonMissing, ConstEcho, fixture, markedPacket, openFixture, u32Key, u64Value } from './helpers.js';

const opened: BpfObject[] = [];
function open(...args: Parameters<typeof openFixture>): BpfObject {
  const obj = openFixture(...args);
  opened.push(obj);
  return obj;
}

afterAll(() => {
  for (const obj of opened) obj.close();
});

describeKernel(
  'BpfObject in the kernel',
  () => {
    it('opens from a path and from a Buffer and lists programs, maps and constants', () => {
      const fromPath = open();
      // A plugin bundles its object and may open it from bytes.
      const fromBuffer = BpfObject.open(readFileSync(fixture('runtime_test')), { name: 'rt_mem' });
      opened.push(fromBuffer);
      for (const obj of [fromPath, fromBuffer]) {
        expect(obj.programs).toEqual([
          'tp_getppid',
          'rtp_sys_enter',
          'btf_sys_enter',
          'btf_rx_skb',
          'tc_ingress',
          'tc_egress',
          'tc_ringbuf',
          'tc_perf',
          'tc_consts',
          'tc_data',
          'xdp_count',
          'sock_count',
          'cg_egress',
          'rtp_perf',
        ]);
        expect(obj.maps.sort()).toEqual([
          'const_out',
          'counts',
          'events',
          'kv',
          'percpu_hits',
          'percpu_kv',
          'perf_events',
        ]);
      }
      expect(fromPath.name).toBe('runtime_test');
      expect(fromBuffer.name).toBe('rt_mem');
      expect(
        fromPath.constants.map((c) => `${c.name}:${c.size}:${c.kind}${c.signed ? ':signed' : ''}`),
      ).toEqual([
        'target_tgid:4:int',
        'udp_port:2:int',
        'ret_value:4:int:signed',
        'big_value:8:int',
        'flag_value:1:bool',
        'tag_value:4:bytes',
        'record_cookie:4:int',
        'rx_ifindex:4:int',
        'rx_ifname:16:bytes',
        'rx_len:4:int',
      ]);
      const prog = fromPath.program('tc_consts');
      expect(prog.type).toBe('sched_cls');
      expect(prog.sectionName).toBe('tc');
      expect(prog.fd).toBe(-1);
    });

    it('reports open failures with the path and errno', () => {
      expect(() => BpfObject.open('/nonexistent/x.bpf.o')).toThrow(
        /open \/nonexistent\/x\.bpf\.o failed: ENOENT/,
      );
      expect(() => BpfObject.open(Buffer.from('not an ELF file'), { name: 'junk' })).toThrow(BpfError);
    });

    it('applies constants set before load: the program sees them and its return value follows', () => {
      const a = open();
      a.setConstant('ret_value', 7)
        .setConstant('big_value', 2n ** 40n + 5n)
        .setConstant('flag_value', true)
        .setConstant('tag_value', Buffer.from('abcd'))
        .load();
      const b = open();
      b.setConstant('ret_value', -3).load();

      expect(a.program('tc_consts').testRun(markedPacket(1)).retval).toBe(7);
      expect(b.program('tc_consts').testRun(markedPacket(1)).retval).toBe(-3);
      const echoed = ConstEcho.decode(a.map('const_out').lookup(u32Key(0)) ?? Buffer.alloc(0));
      expect(echoed).toEqual({ big: 2n ** 40n + 5n, ret: 7, flag: 1, tag: Buffer.from('abcd') });
    });

    it('names the available constants when one does not exist, and refuses constants after load', () => {
      const obj = open();
      expect(() => obj.setConstant('no_such', 1)).toThrow(
        /has no constant 'no_such'; its constants are: target_tgid, udp_port, ret_value, big_value, flag_value, tag_value, record_cookie, rx_ifindex, rx_ifname, rx_len/,
      );
      expect(() => obj.setConstant('udp_port', 70000)).toThrow(/2-byte unsigned integer/);
      obj.load();
      expect(() => obj.setConstant('udp_port', 53)).toThrow(/already loaded/);
    });

    it('reads and writes .data and .bss globals, before load (initial value) and after (live)', () => {
      const obj = open();
      expect(obj.globals.filter((g) => !g.section.startsWith('.rodata'))).toEqual([
        { name: 'event_seq', section: '.bss', size: 8, kind: 'int', signed: false },
        { name: 'perf_seq', section: '.bss', size: 8, kind: 'int', signed: false },
        { name: 'data_marker', section: '.data', size: 4, kind: 'int', signed: false },
      ]);
      expect(obj.readGlobal('data_marker')).toBe(0x5eed);
      obj.writeGlobal('data_marker', 7).setConstant('record_cookie', 0xc0de).load();
      const data = obj.program('tc_data');
      expect(data.testRun(markedPacket(1)).retval).toBe(7);
      // After load a write goes to the map's memory: the next run sees it.
      obj.writeGlobal('data_marker', 9);
      expect(data.testRun(markedPacket(1)).retval).toBe(9);
      expect(obj.readGlobal('data_marker')).toBe(9);

      // .bss: a counter the program advances, read and reset from user space.
      obj.program('tc_ringbuf').testRun(markedPacket(1), { repeat: 5 });
      expect(obj.readGlobal('event_seq')).toBe(5n);
      obj.writeGlobal('event_seq', 100n);
      obj.program('tc_ringbuf').testRun(markedPacket(1));
      expect(obj.readGlobal('event_seq')).toBe(101n);

      // .rodata is readable but frozen after load.
      expect(obj.readGlobal('record_cookie')).toBe(0xc0de);
      expect(() => obj.writeGlobal('record_cookie', 1)).toThrow(/\.rodata is read-only after load/);
      expect(() => obj.readGlobal('nope')).toThrow(/has no global 'nope'; its globals are: .*data_marker/);
      expect(() => obj.writeGlobal('data_marker', 2 ** 32)).toThrow(/4-byte unsigned integer/);
    });

    it('raises BpfVerifierError with errno, program and the verifier log', () => {
      const obj = open('verifier_reject');
      let caught: unknown;
      try {
        obj.load();
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(BpfVerifierError);
      const err = caught as BpfVerifierError;
      expect(err.program).toBe('bad_access');
      expect(err.errno).toBe(13);
      expect(err.code).toBe('EACCES');
      expect(err.log).toMatch(/invalid access to packet/);
      expect(err.fullLog.split('\n').length).toBeGreaterThan(3);
      expect(err.message).toMatch(/verifier refused program 'bad_access'/);
    });

    it('loads without the programs whose autoload is off', () => {
      const obj = open('verifier_reject');
      obj.setProgramAutoload('bad_access', false).load();
      expect(obj.program('bad_access').fd).toBe(-1);
      expect(obj.program('good_prog').fd).toBeGreaterThan(0);
      expect(obj.program('good_prog').id).toBeGreaterThan(0);
      expect(obj.program('good_prog').testRun(markedPacket(0)).retval).toBe(0);
      expect(() => obj.setProgramAutoload('missing', true)).toThrow(/already loaded/);
    });

    it('names available programs and maps on a typo', () => {
      const obj = open();
      expect(() => obj.program('tc_ingres')).toThrow(
        /no program 'tc_ingres'; its programs are: tp_getppid, /,
      );
      expect(() => obj.setMapMaxEntries('kvv', 4)).toThrow(/no map 'kvv'; its maps are: /);
      expect(() => obj.map('kv')).toThrow(/exists only after load/);
    });

    it('resizes maps before load', () => {
      const obj = open();
      obj.setMapMaxEntries('kv', 16).load();
      const kv = obj.map('kv');
      expect(kv.maxEntries).toBe(16);
      for (let i = 0; i < 16; i++) kv.update(u32Key(i), u64Value(i));
      expect(() => kv.update(u32Key(99), u64Value(1))).toThrow(BpfError);
    });

    it('looks up, updates, deletes and iterates a hash map', () => {
      const obj = open();
      obj.load();
      const kv = obj.map('kv');
      expect(kv.type).toBe('hash');
      expect([kv.keySize, kv.valueSize, kv.maxEntries]).toEqual([4, 8, 1024]);
      expect(kv.lookup(u32Key(1))).toBeUndefined();
      kv.update(u32Key(1), u64Value(10));
      kv.update(u32Key(2), u64Value(20), 'noexist');
      expect(kv.lookup(u32Key(1))).toEqual(u64Value(10));
      expect(() => kv.update(u32Key(2), u64Value(21), 'noexist')).toThrow(/EEXIST/);
      expect(() => kv.update(u32Key(3), u64Value(30), 'exist')).toThrow(/ENOENT/);
      kv.update(u32Key(2), u64Value(22), 'exist');
      const keys = [...kv.keys()].map((k) => k.readUInt32LE(0)).sort();
      expect(keys).toEqual([1, 2]);
      const entries = Object.fromEntries(
        [...kv.entries()].map(([k, v]) => [k.readUInt32LE(0), v.readBigUInt64LE(0)]),
      );
      expect(entries).toEqual({ 1: 10n, 2: 22n });
      expect(kv.delete(u32Key(1))).toBe(true);
      expect(kv.delete(u32Key(1))).toBe(false);
      expect(() => kv.lookup(Buffer.alloc(3))).toThrow(/needs a key of 4 bytes, got 3 bytes/);
      expect(() => kv.update(u32Key(5), Buffer.alloc(4))).toThrow(/needs a value of 8 bytes/);
    });

    it('reads and drains maps in batches', () => {
      const obj = open();
      obj.load();
      const kv = obj.map('kv');
      for (let i = 0; i < 300; i++) kv.update(u32Key(i), u64Value(i * 3));
      const all = kv.lookupBatch({ batchSize: 64 });
      expect(all.length).toBe(300);
      for (const [k, v] of all) expect(v.readBigUInt64LE(0)).toBe(BigInt(k.readUInt32LE(0) * 3));
      const drained = kv.lookupAndDeleteBatch({ batchSize: 50 });
      expect(new Set(drained.map(([k]) => k.readUInt32LE(0))).size).toBe(300);
      expect([...kv.keys()]).toEqual([]);
      const counts = obj.map('counts').lookupBatch();
      expect(counts.length).toBe(16);
    });

    it('returns per-CPU values one per possible CPU and sums them', () => {
      const obj = open();
      obj.load();
      obj.program('tc_consts').testRun(markedPacket(0), { repeat: 10 });
      const hits = obj.map('percpu_hits');
      expect(hits.perCpu).toBe(true);
      const values = hits.lookupPerCpu(u32Key(0)) ?? [];
      expect(values.length).toBe(possibleCpus());
      expect(values.every((v) => v.length === 8)).toBe(true);
      expect(sumPerCpuU64(values)).toBe(10n);

      const pkv = obj.map('percpu_kv');
      const perCpu = Array.from({ length: possibleCpus() }, (_, i) => u64Value(100 + i));
      pkv.updatePerCpu(u32Key(7), perCpu);
      const back = pkv.lookupPerCpu(u32Key(7)) ?? [];
      expect(back.map((v) => v.readBigUInt64LE(0))).toEqual(perCpu.map((v) => v.readBigUInt64LE(0)));
      const Counter = defineStruct({ n: 'u64' });
      const expected = perCpu.reduce((acc, v) => acc + v.readBigUInt64LE(0), 0n);
      expect(sumPerCpuStruct(back, Counter)).toEqual({ n: expected });
      expect(() => obj.map('kv').lookupPerCpu(u32Key(0))).toThrow(/not a per-CPU map/);
    });

    it('pins a map to bpffs, reopens it, and shares it between objects through a pin path', () => {
      ensureBpffs();
      const path = `/sys/fs/bpf/${uniqueName('rtkv', 40)}`;
      try {
        const obj = open();
        obj.load();
        const kv = obj.map('kv');
        kv.update(u32Key(42), u64Value(4242));
        kv.pin(path);
        const pinned = BpfMap.fromPinned(path);
        expect(pinned.id).toBe(kv.id);
        expect([pinned.type, pinned.keySize, pinned.valueSize]).toEqual(['hash', 4, 8]);
        expect(pinned.lookup(u32Key(42))).toEqual(u64Value(4242));
        pinned.close();
        expect(() => pinned.lookup(u32Key(42))).toThrow(/closed/);

        const other = open();
        other.setMapPinPath('kv', path).load();
        expect(other.map('kv').id).toBe(kv.id);
        expect(other.map('kv').lookup(u32Key(42))).toEqual(u64Value(4242));
      } finally {
        rmSync(path, { force: true });
      }
    });

    it('runs BPF_PROG_TEST_RUN off the event loop and returns the packet', async () => {
      const obj = open();
      obj.setConstant('ret_value', 2).load();
      const result = await obj
        .program('tc_consts')
        .testRunAsync(markedPacket(9), { repeat: 1000, dataOutSize: 128 });
      expect(result.retval).toBe(2);
      expect(result.dataOut?.subarray(0, 64)).toEqual(markedPacket(9));
    });

    it('close() is idempotent and makes programs and maps refuse use', () => {
      const obj = openFixture();
      obj.load();
      const kv = obj.map('kv');
      const prog = obj.program('tc_consts');
      obj.close();
      obj.close();
      expect(obj.closed).toBe(true);
      expect(() => kv.lookup(u32Key(1))).toThrow(/is closed/);
      expect(() => prog.testRun(markedPacket(1))).toThrow(/is closed/);
      expect(prog.fd).toBe(-1);
    });
  },
  { requires: addonMissing },
);
