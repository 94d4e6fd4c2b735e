import { describe, expect, it } from 'vitest';
import { compareStrings } from '../src/index.js';

describe('compareStrings', () => {
  it('orders by code units, upper case before lower case, whatever the locale', () => {
    expect(['b', 'a', 'B', 'a-b', 'ab', ''].sort(compareStrings)).toEqual(['', 'B', 'a', 'a-b', 'ab', 'b']);
  });
  it('returns 0 only for equal strings', () => {
    expect(compareStrings('dns', 'dns')).toBe(0);
    expect(compareStrings('dns', 'dnS')).toBe(1);
    expect(compareStrings('dnS', 'dns')).toBe(-1);
  });
});
