// The layouts decode.ts reads with, checked against the BTF of the compiled dns.bpf.o: a field moved in the
// C source fails here instead of decoding garbage.
import { objectLayoutMismatches } from '@retina-ts/bpf-runtime';
import { describeLayouts } from '@retina-ts/testkit';
import { RTS_DNS_EVENT } from '../src/decode.js';

describeLayouts(
  new URL('../dist/bpf/dns.bpf.o', import.meta.url),
  { rts_dns_event: RTS_DNS_EVENT },
  objectLayoutMismatches,
);
