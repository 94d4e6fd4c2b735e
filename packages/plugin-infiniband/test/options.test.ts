import { describe, expect, it } from 'vitest';
import { InfinibandOptionsError, parseInfinibandOptions } from '../src/options.js';

describe('parseInfinibandOptions', () => {
  it('fills defaults from nothing', () => {
    expect(parseInfinibandOptions(undefined)).toEqual({
      options: { sysfsRoot: '/sys', maxSeries: 10_000 },
      unknownKeys: [],
    });
  });

  it('keeps given values and reports unknown keys', () => {
    expect(parseInfinibandOptions({ sysfsRoot: '/host/sys', maxSeries: 5, devices: ['mlx5_0'] })).toEqual({
      options: { sysfsRoot: '/host/sys', maxSeries: 5 },
      unknownKeys: ['devices'],
    });
  });

  it('names the key and the value of a bad option', () => {
    expect(() => parseInfinibandOptions({ sysfsRoot: '' })).toThrow(InfinibandOptionsError);
    expect(() => parseInfinibandOptions({ sysfsRoot: '' })).toThrow(
      'invalid infiniband options: plugins.infiniband.sysfsRoot must not be empty (got "")',
    );
    expect(() => parseInfinibandOptions({ maxSeries: 0 })).toThrow(/plugins\.infiniband\.maxSeries must be 1 or more \(got 0\)/);
    expect(() => parseInfinibandOptions({ maxSeries: 2.5 })).toThrow(/maxSeries must be a whole number \(got 2\.5\)/);
  });
});
