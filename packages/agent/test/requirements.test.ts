/**
 * The requirement checker the agent gives the plugin manager, over scripted probes: capabilities (with
 * alternatives) first, then the kernel probes; features it cannot probe are refused by name.
 */
import { describe, expect, it } from 'vitest';
import { probeRequirementChecker, type RequirementProbes } from '../src/requirements.js';

/** Probes of a host with the given capabilities, where `refused` program/map types and features are unmet. */
function fakeProbes(caps: string[], refused: string[] = []): RequirementProbes & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    hasCapabilities: (wanted) => wanted.every((c) => caps.includes(c)),
    explainUnsupported: ({ capabilities }) => `the process lacks ${capabilities.join(', ')}`,
    unmetRequirements: (req) => {
      calls.push('unmetRequirements');
      return [...(req.programTypes ?? []), ...(req.mapTypes ?? []), ...(req.features ?? [])]
        .filter((x) => refused.includes(x))
        .map((x) => `${x} refused`);
    },
  };
}

describe('probeRequirementChecker', () => {
  it('accepts any one capability of an alternative list', async () => {
    const check = probeRequirementChecker(async () => fakeProbes(['CAP_SYS_ADMIN', 'CAP_NET_RAW']));
    expect(await check({ capabilities: [['CAP_BPF', 'CAP_SYS_ADMIN'], 'CAP_NET_RAW'] }, 'dns')).toEqual([]);
  });

  it('reports missing capabilities alone, without probing a kernel that would refuse the probes', async () => {
    const probes = fakeProbes(['CAP_NET_ADMIN']);
    const check = probeRequirementChecker(async () => probes);
    expect(
      await check({ capabilities: [['CAP_BPF', 'CAP_SYS_ADMIN'], 'CAP_NET_RAW'], programTypes: ['socket_filter'] }, 'dns'),
    ).toEqual(['the process lacks CAP_BPF (or CAP_SYS_ADMIN)', 'the process lacks CAP_NET_RAW']);
    expect(probes.calls).toEqual([]);
  });

  it('then lists every program type, map type and feature the kernel refuses', async () => {
    const check = probeRequirementChecker(async () => fakeProbes(['CAP_BPF'], ['ringbuf', 'btf']));
    expect(
      await check({ capabilities: ['CAP_BPF'], programTypes: ['sched_cls'], mapTypes: ['ringbuf'], features: ['btf'] }, 'x'),
    ).toEqual(['ringbuf refused', 'btf refused']);
  });

  it('refuses a feature it cannot probe, naming it and the known ones', async () => {
    const check = probeRequirementChecker(async () => fakeProbes([]));
    expect(await check({ features: ['quantum entanglement'] }, 'x')).toEqual([
      'requires.features "quantum entanglement" cannot be checked (known: btf, tp_btf, tcx, tracefs, bpffs)',
    ]);
  });

  it('needs no probes for notes and minKernel, and says so when bpf-runtime cannot be loaded', async () => {
    const check = probeRequirementChecker(() => Promise.reject(new Error('Cannot find package @retina-ts/bpf-runtime')));
    expect(await check({ minKernel: '5.8', notes: ['procfs (/proc/net)'] }, 'linuxutil')).toEqual([]);
    expect(await check({ programTypes: ['sched_cls'] }, 'packetforward')).toEqual([
      '@retina-ts/bpf-runtime, which checks the kernel, cannot be loaded: Cannot find package @retina-ts/bpf-runtime',
    ]);
  });

});
