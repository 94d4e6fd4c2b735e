/**
 * BTF through libbpf: struct layouts of a compiled object (the test fixture) against declarations, and enums and
 * structs of the running kernel's BTF.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Btf, kernelEnum, layoutMismatches, moduleEnums, objectLayoutMismatches } from '../src/btf.js';
import { BpfError } from '../src/errors.js';
import { defineStruct } from '../src/struct.js';
import { Event, fixture as fixturePath } from './helpers.js';
import { scratchDir } from './scratch.js';

const fixture = fixturePath('runtime_test');

/** Fields of struct event of runtime_test.bpf.c with the C names. */
const eventC = {
  seq: 'u64',
  cookie: 'u32',
  pkt_len: 'u32',
  marker: 'be32',
  ifindex: 'u16',
  kind: 'u8',
  pad: 'u8',
} as const;

describe('struct layouts of a BPF object', () => {
  it('reads a struct with every member offset and size', () => {
    const btf = Btf.open(fixture);
    try {
      expect(btf.struct('event')).toEqual({
        name: 'event',
        kind: 'struct',
        size: 24,
        members: [
          { name: 'seq', offset: 0, bitOffset: 0, bitSize: 0, size: 8 },
          { name: 'cookie', offset: 8, bitOffset: 64, bitSize: 0, size: 4 },
          { name: 'pkt_len', offset: 12, bitOffset: 96, bitSize: 0, size: 4 },
          { name: 'marker', offset: 16, bitOffset: 128, bitSize: 0, size: 4 },
          { name: 'ifindex', offset: 20, bitOffset: 160, bitSize: 0, size: 2 },
          { name: 'kind', offset: 22, bitOffset: 176, bitSize: 0, size: 1 },
          { name: 'pad', offset: 23, bitOffset: 184, bitSize: 0, size: 1 },
        ],
      });
      expect(btf.struct('no_such_struct')).toBeUndefined();
    } finally {
      btf.close();
    }
  });

  it('finds no difference between a struct and a matching declaration', () => {
    expect(objectLayoutMismatches(fixture, 'event', defineStruct(eventC))).toEqual([]);
  });

  it('reports a shifted declaration field by field, and the size', () => {
    const { seq, cookie, ...after } = eventC;
    const shifted = defineStruct({ seq, cookie, extra: 'u32', ...after });
    expect(objectLayoutMismatches(fixture, 'event', shifted)).toEqual([
      `struct event: size 24 in ${fixture}, 32 declared`,
      `event.extra: declared at offset 12 but the BPF struct has no such member`,
      `event.pkt_len: offset 12 in ${fixture}, 16 declared`,
      `event.marker: offset 16 in ${fixture}, 20 declared`,
      `event.ifindex: offset 20 in ${fixture}, 24 declared`,
      `event.kind: offset 22 in ${fixture}, 26 declared`,
      `event.pad: offset 23 in ${fixture}, 27 declared`,
    ]);
  });

  it('reports names that differ from C and members left undeclared', () => {
    expect(objectLayoutMismatches(fixture, 'event', Event)).toEqual([
      'event.pktLen: declared at offset 12 but the BPF struct has no such member',
      `event.pkt_len: in ${fixture} at offset 12 (size 4) but not declared`,
    ]);
    expect(objectLayoutMismatches(fixture, 'no_such_struct', Event)).toEqual([
      `struct no_such_struct: not in the BTF of ${fixture}`,
    ]);
  });
});

describe('the running kernel', () => {
  it('names enum values as the kernel does', () => {
    const mapTypes = kernelEnum('bpf_map_type');
    expect(mapTypes?.get(0)).toBe('BPF_MAP_TYPE_UNSPEC');
    expect(mapTypes?.get(1)).toBe('BPF_MAP_TYPE_HASH');
    expect(mapTypes?.get(27)).toBe('BPF_MAP_TYPE_RINGBUF');
    expect(kernelEnum('rts_no_such_enum')).toBeUndefined();
  });

  it('describes kernel structs, and a closed Btf refuses further use', () => {
    const btf = Btf.kernel();
    expect(btf.typeCount).toBeGreaterThan(1000);
    const len = btf.struct('sk_buff')?.members.find((m) => m.name === 'len');
    expect(len?.size).toBe(4);
    btf.close();
    expect(() => btf.struct('sk_buff')).toThrow(/the BTF is closed/);
  });

  it('answers layoutMismatches for a kernel struct too', () => {
    const btf = Btf.kernel();
    try {
      const problems = layoutMismatches(btf, 'ethhdr', defineStruct({ h_dest: { bytes: 6 }, h_source: { bytes: 6 }, h_proto: 'be16' }));
      expect(problems).toEqual([]);
    } finally {
      btf.close();
    }
  });
});

describe('bad input', () => {
  const dir = scratchDir('rts-btf-');

  it('names the path that cannot be read or is not BTF', () => {
    expect(() => Btf.open('')).toThrow(TypeError);
    expect(() => Btf.open(join(dir, 'missing'))).toThrow(BpfError);
    expect(() => Btf.open(join(dir, 'missing'))).toThrow(`parse BTF ${join(dir, 'missing')} failed: ENOENT`);
    expect(() => Btf.open(fileURLToPath(import.meta.url))).toThrow(/not valid BTF/);
  });

  it('finds no module enums where there is no BTF directory', () => {
    expect(moduleEnums(() => true, { dir: join(dir, 'none') })).toEqual([]);
  });
});
