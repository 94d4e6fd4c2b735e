// The layouts decode.ts reads with, checked against the BTF of the compiled dropreason.bpf.o: a field moved in the
// C source fails here instead of decoding garbage.
import { objectLayoutMismatches } from '@retina-ts/bpf-runtime';
import { describeLayouts } from '@retina-ts/testkit';
import { DROP_EVENT, METRIC_KEY, METRIC_VAL } from '../src/decode.js';

describeLayouts(
  new URL('../dist/bpf/dropreason.bpf.o', import.meta.url),
  { drop_event: DROP_EVENT, metric_key: METRIC_KEY, metric_val: METRIC_VAL },
  objectLayoutMismatches,
);
