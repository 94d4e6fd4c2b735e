// The layouts decode.ts reads with, checked against the BTF of the compiled tcpretrans.bpf.o: a field moved in the
// C source fails here instead of decoding garbage.
import { objectLayoutMismatches } from '@retina-ts/bpf-runtime';
import { describeLayouts } from '@retina-ts/testkit';
import { TR_EVENT, TR_STATS } from '../src/decode.js';

describeLayouts(
  new URL('../dist/bpf/tcpretrans.bpf.o', import.meta.url),
  { tr_event: TR_EVENT, tr_stats: TR_STATS },
  objectLayoutMismatches,
);
