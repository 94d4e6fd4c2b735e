import { describe, expect, it } from 'vitest';

import { decodeClsactHandle, encodeClsactHandle, isStaleClsactFilter, type StaleContext } from '../src/tc.js';

describe('clsact handles', () => {
  it('encode the owner pid and a sequence under a fixed tag', () => {
    const h = encodeClsactHandle(4194303, 63);
    expect(h >>> 28).toBe(0xb);
    expect(decodeClsactHandle(h)).toEqual({ pid: 4194303, seq: 63 });
    expect(decodeClsactHandle(encodeClsactHandle(1, 64))).toEqual({ pid: 1, seq: 0 });
  });

  it('do not claim handles of other tools', () => {
    expect(decodeClsactHandle(1)).toBeUndefined();
    expect(decodeClsactHandle(0x80000000)).toBeUndefined();
  });
});

describe('stale filter detection', () => {
  const ctx = (live: number[], alive: number[]): StaleContext => ({
    ownPid: 100,
    isLive: (h) => live.includes(h),
    pidAlive: (p) => alive.includes(p),
  });

  it('flags our filters whose owner process is gone', () => {
    const f = { kind: 'bpf', handle: encodeClsactHandle(200, 1) };
    expect(isStaleClsactFilter(f, ctx([], []))).toBe(true);
    expect(isStaleClsactFilter(f, ctx([], [200]))).toBe(false);
  });

  it('flags filters carrying our own pid that this process does not track (restarted container)', () => {
    const h = encodeClsactHandle(100, 3);
    expect(isStaleClsactFilter({ kind: 'bpf', handle: h }, ctx([], [100]))).toBe(true);
    expect(isStaleClsactFilter({ kind: 'bpf', handle: h }, ctx([h], [100]))).toBe(false);
  });

  it('never touches foreign filters', () => {
    expect(isStaleClsactFilter({ kind: 'bpf', handle: 1 }, ctx([], []))).toBe(false);
    expect(isStaleClsactFilter({ kind: 'u32', handle: encodeClsactHandle(200, 1) }, ctx([], []))).toBe(false);
    expect(isStaleClsactFilter({ kind: 'bpf', handle: 0 }, ctx([], []))).toBe(false);
  });

  it('flags a filter whose pid now belongs to a process that does not hold its program (pid reused)', () => {
    const f = { kind: 'bpf', handle: encodeClsactHandle(200, 1), progId: 42 };
    const holding = (held: number[]) => ({
      ...ctx([], [200]),
      holdsProgram: (_pid: number, id: number) => held.includes(id),
    });
    expect(isStaleClsactFilter(f, holding([]))).toBe(true);
    expect(isStaleClsactFilter(f, holding([42]))).toBe(false);
    // Unreadable /proc (another pid namespace without access): a live pid keeps its filter.
    expect(isStaleClsactFilter(f, { ...ctx([], [200]), holdsProgram: () => undefined })).toBe(false);
  });
});
