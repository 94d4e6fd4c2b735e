import { describeKernel } from '@retina-ts/testkit';
import { expect, it } from 'vitest';

import { BpfError, libbpfVersion, possibleCpus, probes } from '../src/index.js';
import { addonMissing } from './helpers.js';

describeKernel(
  'probes on this kernel',
  () => {
    it('reports what the test kernel (6.6+ with BTF) supports', () => {
      expect(probes.kernelRelease()).toMatch(/^\d+\.\d+/);
      expect(probes.btfAvailable()).toBe(true);
      for (const t of ['socket_filter', 'sched_cls', 'xdp', 'tracepoint', 'raw_tracepoint', 'cgroup_skb']) {
        expect(probes.programTypeSupported(t)).toBe(true);
      }
      expect(probes.programTypeSupported('BPF_PROG_TYPE_XDP')).toBe(true);
      for (const t of ['hash', 'array', 'percpu_array', 'ringbuf', 'lru_hash', 'lpm_trie']) {
        expect(probes.mapTypeSupported(t)).toBe(true);
      }
      expect(probes.tcxSupported()).toBe(true);
      expect(probes.tpBtfSupported()).toBe(true);
      expect(probes.tpBtfSupported('no_such_tracepoint')).toBe(false);
      // Helper 130 is bpf_ringbuf_output.
      expect(probes.helperSupported('sched_cls', 130)).toBe(true);
      expect(possibleCpus()).toBeGreaterThan(0);
      expect(libbpfVersion()).toMatch(/^v1\./);
    });

    it('reports root capabilities and an empty list of unmet requirements', () => {
      expect(probes.hasCapabilities(['CAP_BPF', 'CAP_NET_ADMIN', 'CAP_PERFMON', 'CAP_SYS_ADMIN'])).toBe(true);
      expect(probes.missingCapabilities(['CAP_NET_RAW'])).toEqual([]);
      expect(
        probes.unmetRequirements({
          programTypes: ['sched_cls', 'raw_tracepoint'],
          mapTypes: ['ringbuf'],
          features: ['btf', 'tcx', 'tp_btf'],
          capabilities: ['CAP_BPF'],
        }),
      ).toEqual([]);
    });

    it('names the known types when asked about an unknown one', () => {
      expect(() => probes.programTypeSupported('sched_clz')).toThrow(BpfError);
      expect(() => probes.mapTypeSupported('ringbuff')).toThrow(
        /unknown map type 'ringbuff'; known: hash, array/,
      );
    });
  },
  { requires: addonMissing },
);
