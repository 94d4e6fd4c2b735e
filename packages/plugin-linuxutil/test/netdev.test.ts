import { describe, expect, it } from 'vitest';
import { parseInterfaceNames } from '../src/proc/netdev.js';
import { malformed, procFile } from './fixtures.js';

describe('parseInterfaceNames', () => {
  it('lists interfaces in file order', () => {
    expect(parseInterfaceNames(procFile('net/dev'), 'net/dev')).toEqual(['lo', 'rluv1', 'rluv0']);
  });

  it('reads names that fill the column (no leading space) and names with dots and dashes', () => {
    const header = procFile('net/dev').split('\n').slice(0, 2).join('\n');
    const text = `${header}\nveth1a2b3c4d5e6: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n  eth0.100:    0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n br-lan:1 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n`;
    expect(parseInterfaceNames(text, 'net/dev')).toEqual(['veth1a2b3c4d5e6', 'eth0.100', 'br-lan']);
  });

  it('rejects a truncated line, garbage and an empty file', () => {
    expect(() => parseInterfaceNames(malformed('dev-truncated'), 'net/dev')).toThrow(
      /^net\/dev line 4: expected "<interface>: <counters>", got "rlu"$/,
    );
    expect(() => parseInterfaceNames(malformed('garbage'), 'net/dev')).toThrow(
      /net\/dev line 1: expected the "Inter-\|" header/,
    );
    expect(() => parseInterfaceNames(malformed('empty'), 'net/dev')).toThrow(/expected two header lines/);
  });
});
