import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_REMOTE_ADDRESSES,
  LinuxUtilOptionsError,
  parseLinuxUtilOptions,
} from '../src/options.js';

describe('parseLinuxUtilOptions', () => {
  it('applies defaults to an empty or absent mapping', () => {
    const defaults = {
      procRoot: '/proc',
      maxRemoteAddresses: DEFAULT_MAX_REMOTE_ADDRESSES,
      interfaceStats: true,
      excludeInterfaces: [],
    };
    expect(parseLinuxUtilOptions({})).toEqual({ options: defaults, unknownKeys: [] });
    expect(parseLinuxUtilOptions(undefined).options).toEqual(defaults);
    expect(parseLinuxUtilOptions(null).options).toEqual(defaults);
  });

  it('accepts every option', () => {
    const raw = {
      procRoot: '/host/proc',
      maxRemoteAddresses: 0,
      interfaceStats: false,
      excludeInterfaces: ['^lxc', '^azv'],
    };
    expect(parseLinuxUtilOptions(raw)).toEqual({ options: raw, unknownKeys: [] });
  });

  it('reports unknown keys without failing', () => {
    expect(parseLinuxUtilOptions({ maxRemoteAddress: 5 }).unknownKeys).toEqual(['maxRemoteAddress']);
  });

  const message = (raw: unknown): string => {
    try {
      parseLinuxUtilOptions(raw);
    } catch (err) {
      expect(err).toBeInstanceOf(LinuxUtilOptionsError);
      return (err as Error).message;
    }
    throw new Error('expected parseLinuxUtilOptions to throw');
  };

  it('names the key, the value and what is allowed', () => {
    expect(message({ maxRemoteAddresses: -5 })).toBe(
      'invalid linuxutil options: plugins.linuxutil.maxRemoteAddresses must be 0 or more (got -5)',
    );
    expect(message({ maxRemoteAddresses: 2.5 })).toMatch(
      /maxRemoteAddresses must be a whole number \(got 2\.5\)/,
    );
    expect(message({ maxRemoteAddresses: '100' })).toMatch(
      /maxRemoteAddresses must be a number \(got "100"\)/,
    );
    expect(message({ maxRemoteAddresses: 1e6 })).toMatch(/must be at most 100000 \(got 1000000\)/);
    expect(message({ procRoot: '' })).toMatch(/plugins\.linuxutil\.procRoot must not be empty \(got ""\)/);
    expect(message({ interfaceStats: 'yes' })).toMatch(/interfaceStats must be true or false \(got "yes"\)/);
    expect(message({ excludeInterfaces: 'lxc' })).toMatch(
      /excludeInterfaces must be a list of regular expressions \(got "lxc"\)/,
    );
    expect(message({ excludeInterfaces: ['ok', '(['] })).toMatch(
      /plugins\.linuxutil\.excludeInterfaces\.1 is not a valid regular expression \(got "\(\["\)/,
    );
  });

  it('lists every problem at once', () => {
    const m = message({ procRoot: 3, maxRemoteAddresses: -1 });
    expect(m).toMatch(/procRoot must be a path string \(got 3\)/);
    expect(m).toMatch(/maxRemoteAddresses must be 0 or more \(got -1\)/);
  });

  it('rejects options that are not a mapping', () => {
    expect(message(['a'])).toBe('plugins.linuxutil must be a mapping of options, got ["a"]');
    expect(message('x')).toBe('plugins.linuxutil must be a mapping of options, got "x"');
  });
});
