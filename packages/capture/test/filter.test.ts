import { describe, expect, it } from 'vitest';
import {
  andFilters,
  buildAddressFilter,
  buildSystemFilter,
  CaptureFilterError,
  checkUserFilter,
  parseFilterEntry,
  splitList,
} from '../src/index.js';

describe('parseFilterEntry', () => {
  it.each([
    ['10.0.0.1', { ip: '10.0.0.1' }],
    ['10.0.0.1:80', { ip: '10.0.0.1', port: 80 }],
    ['10.0.0.1:*', { ip: '10.0.0.1' }],
    ['*:443', { port: 443 }],
    ['53', { port: 53 }],
    ['*', {}],
    ['fd00:1::2', { ip: 'fd00:1::2' }],
    ['[fd00:1::2]:8080', { ip: 'fd00:1::2', port: 8080 }],
    [' 10.0.0.1:80 ', { ip: '10.0.0.1', port: 80 }],
  ])('%s', (text, want) => {
    const got = parseFilterEntry(text);
    expect({ ip: got.ip, port: got.port }).toEqual({ ip: undefined, port: undefined, ...want });
  });

  it.each(['10.0.0.300', '10.0.0.1:70000', '10.0.0.1:http', 'abc.def', '', '1.2.3.4:-1'])('rejects %j', (text) => {
    expect(() => parseFilterEntry(text)).toThrow(CaptureFilterError);
  });

  it('names the entry in the error', () => {
    expect(() => parseFilterEntry('10.0.0.1:99999')).toThrow('invalid filter "10.0.0.1:99999"');
  });
});

describe('buildSystemFilter', () => {
  it('is undefined without filters or pods', () => {
    expect(buildSystemFilter({})).toBeUndefined();
  });

  it('ORs include entries, sorted by IP, and ANDs NOT of the excludes', () => {
    expect(
      buildSystemFilter({ include: ['10.0.0.2:80', '10.0.0.1', '*:53'], exclude: ['10.0.0.9:22'] }),
    ).toBe('(((port 53) or (host 10.0.0.1) or (host 10.0.0.2 and port 80)) and not (host 10.0.0.9 and port 22))');
  });

  it('a single include is one term', () => {
    expect(buildSystemFilter({ include: ['10.0.0.1:80'] })).toBe('(host 10.0.0.1 and port 80)');
  });

  it('only excludes', () => {
    expect(buildSystemFilter({ exclude: ['22', '10.1.1.1'] })).toBe('(not ((port 22) or (host 10.1.1.1)))');
  });

  it('a wildcard include means everything', () => {
    expect(buildSystemFilter({ include: ['*', '10.0.0.1'] })).toBeUndefined();
  });

  it('refuses to exclude everything', () => {
    expect(() => buildSystemFilter({ exclude: ['*:*'] })).toThrow(/exclude every packet/);
  });

  it('adds pod IPs as an alternative', () => {
    expect(buildSystemFilter({ include: ['*:53'], podIPs: ['10.244.0.5', 'fd00::5', '10.244.0.5'] })).toBe(
      '(port 53) or (host 10.244.0.5 or host fd00::5)',
    );
    expect(buildSystemFilter({ podIPs: ['10.244.0.5'] })).toBe('(host 10.244.0.5)');
  });

  it('deduplicates equal entries', () => {
    expect(buildSystemFilter({ include: ['80', '*:80'] })).toBe('(port 80)');
  });
});

describe('address and user filters', () => {
  it('source and destination lists', () => {
    expect(buildAddressFilter(['10.0.0.1', '10.0.0.2'], ['10.0.0.3'])).toBe(
      '(src host 10.0.0.1 or src host 10.0.0.2) and (dst host 10.0.0.3)',
    );
    expect(buildAddressFilter([], [])).toBeUndefined();
    expect(() => buildAddressFilter(['nope'])).toThrow('sourceIPs: "nope" is not an IP address');
  });

  it('user filters must be expressions without flags', () => {
    expect(checkUserFilter(' tcp port 443 ')).toBe('tcp port 443');
    expect(() => checkUserFilter('  ')).toThrow(/empty/);
    expect(() => checkUserFilter('port 1 -w /etc/passwd')).toThrow(/flags which are not allowed \("-w"\)/);
  });

  it('andFilters parenthesises each present part', () => {
    expect(andFilters(undefined, 'a', '', 'b or c')).toBe('(a) and (b or c)');
    expect(andFilters('a')).toBe('a');
    expect(andFilters()).toBeUndefined();
  });

  it('splitList trims and drops empties', () => {
    expect(splitList(' a, b ,,c ')).toEqual(['a', 'b', 'c']);
    expect(splitList(undefined)).toEqual([]);
  });
});
