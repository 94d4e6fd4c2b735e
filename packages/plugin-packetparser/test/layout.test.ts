/**
 * The layouts decode.ts reads with, checked against the structs clang compiled into dist/bpf/packetparser.bpf.o
 * (its BTF, read with libbpf): a field moved in the C source fails here instead of decoding garbage.
 */
import { fileURLToPath } from 'node:url';
import { defineStruct, objectLayoutMismatches, type StructLayout } from '@retina-ts/bpf-runtime';
import { describe, expect, it } from 'vitest';
import { CT_DIR, CT_ENTRY, CT_KEY, PP_ADDR, PP_EVENT } from '../src/decode.js';

const object = fileURLToPath(new URL('../dist/bpf/packetparser.bpf.o', import.meta.url));

describe('layouts against the BTF of packetparser.bpf.o', () => {
  it.each<[string, StructLayout<object>]>([
    ['pp_event', PP_EVENT],
    ['pp_addr', PP_ADDR],
    ['ct_key', CT_KEY],
    ['ct_dir', CT_DIR],
    ['ct_entry', CT_ENTRY],
  ])('struct %s matches its declaration', (name, layout) => {
    expect(objectLayoutMismatches(object, name, layout)).toEqual([]);
  });

  it('reports a declaration in which a field grew and the rest moved', () => {
    const widened = defineStruct(
      Object.fromEntries(PP_EVENT.fields.map((f) => [f.name, f.name === 'bytes' ? { bytes: 8 } : f.type])),
    );
    const problems = objectLayoutMismatches(object, 'pp_event', widened);
    expect(problems).toContain(`pp_event.bytes: size 4 in ${object}, 8 declared`);
    expect(problems).toContain(`pp_event.seq: offset 48 in ${object}, 52 declared`);
    expect(problems).toContain(`struct pp_event: size 152 in ${object}, 160 declared`);
  });
});
