// The layouts decode.ts reads with, checked against the BTF of the compiled packetparser.bpf.o: a field moved in the
// C source fails here instead of decoding garbage.
import { objectLayoutMismatches } from '@retina-ts/bpf-runtime';
import { describeLayouts } from '@retina-ts/testkit';
import { CT_DIR, CT_ENTRY, CT_KEY, PP_ADDR, PP_EVENT } from '../src/decode.js';

describeLayouts(
  new URL('../dist/bpf/packetparser.bpf.o', import.meta.url),
  { pp_event: PP_EVENT, pp_addr: PP_ADDR, ct_key: CT_KEY, ct_dir: CT_DIR, ct_entry: CT_ENTRY },
  objectLayoutMismatches,
);
