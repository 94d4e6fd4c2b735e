// The layouts decode.ts reads with, checked against the BTF of the compiled packetforward.bpf.o: a field moved in the
// C source fails here instead of decoding garbage.
import { objectLayoutMismatches } from '@retina-ts/bpf-runtime';
import { describeLayouts } from '@retina-ts/testkit';
import { PF_COUNTERS } from '../src/decode.js';

describeLayouts(
  new URL('../dist/bpf/packetforward.bpf.o', import.meta.url),
  { pf_counters: PF_COUNTERS },
  objectLayoutMismatches,
);
