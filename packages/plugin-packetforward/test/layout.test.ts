/**
 * The counter layout decode.ts sums with, checked against the struct clang compiled into
 * dist/bpf/packetforward.bpf.o (its BTF, read with libbpf): a field moved in the C source fails here.
 */
import { fileURLToPath } from 'node:url';
import { defineStruct, objectLayoutMismatches } from '@retina-ts/bpf-runtime';
import { describe, expect, it } from 'vitest';
import { PF_COUNTERS } from '../src/decode.js';

const object = fileURLToPath(new URL('../dist/bpf/packetforward.bpf.o', import.meta.url));

describe('layouts against the BTF of packetforward.bpf.o', () => {
  it('struct pf_counters matches its declaration', () => {
    expect(objectLayoutMismatches(object, 'pf_counters', PF_COUNTERS)).toEqual([]);
  });

  it('reports fields declared in the wrong order and a struct the object does not have', () => {
    const swapped = defineStruct({ bytes: 'u64', packets: 'u64' });
    expect(objectLayoutMismatches(object, 'pf_counters', swapped)).toEqual([
      `pf_counters.bytes: offset 8 in ${object}, 0 declared`,
      `pf_counters.packets: offset 0 in ${object}, 8 declared`,
    ]);
    expect(objectLayoutMismatches(object, 'pf_totals', PF_COUNTERS)).toEqual([
      `struct pf_totals: not in the BTF of ${object}`,
    ]);
  });
});
