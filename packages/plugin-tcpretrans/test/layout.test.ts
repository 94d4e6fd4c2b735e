/**
 * The layouts decode.ts reads with, checked against the structs clang compiled into dist/bpf/tcpretrans.bpf.o
 * (its BTF, read with libbpf): a field moved in the C source fails here instead of decoding garbage.
 */
import { fileURLToPath } from 'node:url';
import { defineStruct, objectLayoutMismatches, type StructLayout } from '@retina-ts/bpf-runtime';
import { describe, expect, it } from 'vitest';
import { TR_EVENT, TR_STATS } from '../src/decode.js';

const object = fileURLToPath(new URL('../dist/bpf/tcpretrans.bpf.o', import.meta.url));

describe('layouts against the BTF of tcpretrans.bpf.o', () => {
  it.each<[string, StructLayout<object>]>([
    ['tr_event', TR_EVENT],
    ['tr_stats', TR_STATS],
  ])('struct %s matches its declaration', (name, layout) => {
    expect(objectLayoutMismatches(object, name, layout)).toEqual([]);
  });

  it('reports two fields declared in the wrong order', () => {
    const order = TR_EVENT.fields.map((f) => f.name);
    const swapped = order.map((n) => (n === 'sport' ? 'dport' : n === 'dport' ? 'sport' : n));
    const byName = new Map(TR_EVENT.fields.map((f) => [f.name, f.type]));
    const layout = defineStruct(Object.fromEntries(swapped.map((n) => [n, byName.get(n)!])));
    expect(objectLayoutMismatches(object, 'tr_event', layout)).toEqual([
      `tr_event.dport: offset 42 in ${object}, 40 declared`,
      `tr_event.sport: offset 40 in ${object}, 42 declared`,
    ]);
  });
});
