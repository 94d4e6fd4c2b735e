import { describe, expect, it } from 'vitest';

import {
  compareKernelVersions,
  explainUnsupported,
  missingFromMask,
  parseEffectiveCapabilities,
} from '../src/probes.js';

const STATUS = `Name:\tnode
Umask:\t0022
CapInh:\t0000000000000000
CapPrm:\t000001ffffffffff
CapEff:\t0000000000003000
CapBnd:\t000001ffffffffff
`;

describe('capabilities', () => {
  it('parses CapEff and reports what is missing', () => {
    const mask = parseEffectiveCapabilities(STATUS);
    expect(mask).toBe(0x3000n);
    expect(missingFromMask(mask, ['CAP_NET_ADMIN', 'CAP_NET_RAW'])).toEqual([]);
    expect(missingFromMask(mask, ['CAP_BPF', 'CAP_NET_ADMIN', 'cap_perfmon'])).toEqual([
      'CAP_BPF',
      'cap_perfmon',
    ]);
  });

  it('rejects unknown capability names and status text without CapEff', () => {
    expect(() => missingFromMask(0n, ['CAP_FLY'])).toThrow(/unknown capability 'CAP_FLY'/);
    expect(() => parseEffectiveCapabilities('Name: x')).toThrow(/no CapEff/);
  });
});

describe('explainUnsupported', () => {
  it('names the minimum kernel', () => {
    expect(explainUnsupported({ programType: 'tracing' }, '5.4.0')).toBe(
      "BPF program type 'tracing' is not supported by kernel 5.4.0; it needs Linux 5.5 or newer with CONFIG_BPF_SYSCALL",
    );
    expect(explainUnsupported({ mapType: 'BPF_MAP_TYPE_RINGBUF' }, '5.4.0')).toMatch(
      /needs Linux 5\.8 or newer/,
    );
    expect(explainUnsupported({ feature: 'tcx' }, '6.1.0')).toMatch(/needs Linux 6\.6 or newer/);
    expect(explainUnsupported({ capabilities: ['CAP_BPF'] })).toMatch(/lacks CAP_BPF/);
  });
});

describe('compareKernelVersions', () => {
  it('compares numerically, ignoring suffixes', () => {
    expect(compareKernelVersions('6.18.44-fc', '6.6')).toBeGreaterThan(0);
    expect(compareKernelVersions('5.10.0', '5.8')).toBeGreaterThan(0);
    expect(compareKernelVersions('4.19', '5.8')).toBeLessThan(0);
    expect(compareKernelVersions('5.8', '5.8.0')).toBe(0);
  });
});
