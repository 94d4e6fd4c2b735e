/**
 * The record header layout decode.ts reads with, checked against the struct clang compiled into
 * dist/bpf/dns.bpf.o (its BTF, read with libbpf): a field moved in the C source fails here instead of decoding
 * garbage.
 */
import { fileURLToPath } from 'node:url';
import { defineStruct, objectLayoutMismatches } from '@retina-ts/bpf-runtime';
import { describe, expect, it } from 'vitest';
import { RTS_DNS_EVENT } from '../src/decode.js';

const object = fileURLToPath(new URL('../dist/bpf/dns.bpf.o', import.meta.url));

describe('layouts against the BTF of dns.bpf.o', () => {
  it('struct rts_dns_event matches its declaration', () => {
    expect(objectLayoutMismatches(object, 'rts_dns_event', RTS_DNS_EVENT)).toEqual([]);
  });

  it('reports a field whose type changed size', () => {
    const layout = defineStruct(
      Object.fromEntries(RTS_DNS_EVENT.fields.map((f) => [f.name, f.name === 'ifindex' ? 'u16' : f.type])),
    );
    expect(objectLayoutMismatches(object, 'rts_dns_event', layout)).toContain(
      `rts_dns_event.ifindex: size 4 in ${object}, 2 declared`,
    );
  });
});
