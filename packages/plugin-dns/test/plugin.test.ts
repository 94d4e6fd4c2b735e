import { describe, expect, it } from 'vitest';
import { InterfaceNames } from '../src/interfaces.js';
import { flowsWanted } from '../src/plugin.js';

describe('flowsWanted', () => {
  it('emits flows in auto mode only when pod-level metrics or Hubble consume them', () => {
    expect(flowsWanted('auto', { enablePodLevel: false, controlPlane: 'standard' })).toBe(false);
    expect(flowsWanted('auto', { enablePodLevel: true, controlPlane: 'standard' })).toBe(true);
    expect(flowsWanted('auto', { enablePodLevel: false, controlPlane: 'hubble' })).toBe(true);
  });

  it('follows an explicit setting', () => {
    expect(flowsWanted(true, { enablePodLevel: false, controlPlane: 'standard' })).toBe(true);
    expect(flowsWanted(false, { enablePodLevel: true, controlPlane: 'hubble' })).toBe(false);
  });
});

describe('InterfaceNames', () => {
  it('reads the table again for an unknown index, at most once per refresh period', () => {
    let now = 0;
    let reads = 0;
    const tables = [
      new Map([[1, 'lo']]),
      new Map([
        [1, 'lo'],
        [9, 'veth9'],
      ]),
    ];
    const names = new InterfaceNames(
      () => tables[Math.min(reads++, 1)] as Map<number, string>,
      1000,
      () => now,
    );
    expect(names.name(1)).toBe('lo');
    expect(names.name(9)).toBeUndefined();
    expect(reads).toBe(1);
    now = 500;
    expect(names.name(9)).toBeUndefined();
    expect(reads).toBe(1);
    now = 1500;
    expect(names.name(9)).toBe('veth9');
    expect(names.name(1)).toBe('lo');
    expect(reads).toBe(2);
  });
});
