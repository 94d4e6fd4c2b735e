/**
 * The layouts decode.ts reads with, checked against the structs clang compiled into dist/bpf/dropreason.bpf.o
 * (its BTF, read with libbpf): a field moved in the C source fails here instead of decoding garbage.
 */
import { fileURLToPath } from 'node:url';
import { defineStruct, objectLayoutMismatches, type StructLayout } from '@retina-ts/bpf-runtime';
import { describe, expect, it } from 'vitest';
import { DROP_EVENT, METRIC_KEY, METRIC_VAL } from '../src/decode.js';

const object = fileURLToPath(new URL('../dist/bpf/dropreason.bpf.o', import.meta.url));

describe('layouts against the BTF of dropreason.bpf.o', () => {
  it.each<[string, StructLayout<object>]>([
    ['drop_event', DROP_EVENT],
    ['metric_key', METRIC_KEY],
    ['metric_val', METRIC_VAL],
  ])('struct %s matches its declaration', (name, layout) => {
    expect(objectLayoutMismatches(object, name, layout)).toEqual([]);
  });

  it('reports a declaration that lost a field', () => {
    const short = defineStruct(Object.fromEntries(DROP_EVENT.fields.filter((f) => f.name !== 'skb_len').map((f) => [f.name, f.type])));
    expect(objectLayoutMismatches(object, 'drop_event', short)).toContain(
      `drop_event.skb_len: in ${object} at offset 12 (size 4) but not declared`,
    );
  });
});
