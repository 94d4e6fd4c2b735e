import { describe, expect, it } from 'vitest';
import {
  BoundedLabelValues,
  OTHER_LABEL_VALUE,
  answerIps,
  flowQueryName,
  queryLabel,
  queryTypeLabel,
  responseLabel,
  returnCodeLabel,
} from '../src/labels.js';

describe('returnCodeLabel', () => {
  it('writes Retina mnemonics for RCODE 0..5 and the empty string for the rest', () => {
    expect([0, 1, 2, 3, 4, 5].map(returnCodeLabel)).toEqual([
      'NOERROR',
      'FORMERR',
      'SERVFAIL',
      'NXDOMAIN',
      'NOTIMP',
      'REFUSED',
    ]);
    expect([6, 9, 15].map(returnCodeLabel)).toEqual(['', '', '']);
  });
});

describe('query labels', () => {
  const q = [{ name: 'WWW.Example.com', type: 'A' }];

  it('lower-cases the first question name and drops the trailing dot by default', () => {
    expect(queryLabel(q)).toBe('www.example.com');
    expect(queryLabel(q, true)).toBe('www.example.com.');
  });

  it('keeps the root as "." and gives "" without a question', () => {
    expect(queryLabel([{ name: '.', type: 'NS' }], true)).toBe('.');
    expect(queryLabel([{ name: '.', type: 'NS' }])).toBe('.');
    expect(queryLabel([])).toBe('');
    expect(flowQueryName([])).toBe('');
  });

  it('gives flows the name as asked, with its trailing dot', () => {
    expect(flowQueryName(q)).toBe('WWW.Example.com.');
    expect(flowQueryName([{ name: '.', type: 'NS' }])).toBe('.');
  });

  it('joins query types with commas', () => {
    expect(queryTypeLabel(q)).toBe('A');
    expect(queryTypeLabel([...q, { name: 'x', type: 'AAAA' }])).toBe('A,AAAA');
    expect(queryTypeLabel([])).toBe('');
  });
});

describe('response labels', () => {
  it('takes A and AAAA addresses only', () => {
    expect(
      answerIps([
        { name: 'a', type: 'CNAME', ttl: 1, cname: 'b' },
        { name: 'b', type: 'A', ttl: 1, ip: '192.0.2.2' },
        { name: 'b', type: 'AAAA', ttl: 1, ip: '2001:db8::2' },
        { name: 'b', type: 'TXT', ttl: 1 },
      ]),
    ).toEqual(['192.0.2.2', '2001:db8::2']);
  });

  it('sorts addresses so a rotated answer set keeps one value', () => {
    expect(responseLabel(['10.0.0.3', '10.0.0.1', '10.0.0.2'])).toBe('10.0.0.1,10.0.0.2,10.0.0.3');
    expect(responseLabel(['10.0.0.2', '10.0.0.3', '10.0.0.1'])).toBe('10.0.0.1,10.0.0.2,10.0.0.3');
    expect(responseLabel(['10.0.0.9'])).toBe('10.0.0.9');
    expect(responseLabel([])).toBe('');
  });
});

describe('BoundedLabelValues', () => {
  it('keeps the first N values and folds the rest into "other"', () => {
    const b = new BoundedLabelValues(2);
    expect(['a', 'b', 'c', 'a', 'd', 'b'].map((v) => b.label(v))).toEqual([
      'a',
      'b',
      'other',
      'a',
      'other',
      'b',
    ]);
    expect([b.size, b.folded]).toEqual([2, 2]);
    expect(OTHER_LABEL_VALUE).toBe('other');
  });

  it('folds everything with a cap of 0, and forgets on clear()', () => {
    const b = new BoundedLabelValues(0);
    expect(b.label('a')).toBe('other');
    const c = new BoundedLabelValues(1);
    c.label('a');
    c.clear();
    expect([c.label('b'), c.label('a')]).toEqual(['b', 'other']);
  });

  it('refuses a negative or fractional cap', () => {
    expect(() => new BoundedLabelValues(-1)).toThrow(RangeError);
    expect(() => new BoundedLabelValues(1.5)).toThrow(/whole number/);
  });
});
