import { describe, expect, it } from 'vitest';
import { fieldValue, parseFieldSelector, parseLabelSelector, SelectorError, type KubeObject } from '../src/selectors.js';

const pod = (labels: Record<string, string>, spec: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'p', namespace: 'ns', labels },
  spec,
  status: { podIP: '10.1.0.1', phase: 'Running' },
});

describe('label selectors', () => {
  it('matches equality, inequality, sets and existence', () => {
    const web = pod({ app: 'web', tier: 'front' });
    const db = pod({ app: 'db' });
    const cases: [string, boolean, boolean][] = [
      ['app=web', true, false],
      ['app==web', true, false],
      ['app!=web', false, true],
      ['app in (web, cache)', true, false],
      ['app notin (web)', false, true],
      ['tier', true, false],
      ['!tier', false, true],
      ['app=web,tier=front', true, false],
      ['app in (web,db),!tier', false, true],
      ['', true, true],
    ];
    for (const [sel, w, d] of cases) {
      const m = parseLabelSelector(sel);
      expect([sel, m(web), m(db)]).toEqual([sel, w, d]);
    }
  });

  it('treats a missing label as not equal and not in a set', () => {
    const none = pod({});
    expect(parseLabelSelector('app!=web')(none)).toBe(true);
    expect(parseLabelSelector('app notin (web)')(none)).toBe(true);
    expect(parseLabelSelector('app in (web)')(none)).toBe(false);
  });

  it('refuses malformed selectors with the offending part', () => {
    expect(() => parseLabelSelector('app=web,=x')).toThrow(SelectorError);
    expect(() => parseLabelSelector('app in ()')).toThrow(/empty value set/);
    expect(() => parseLabelSelector('app >> 3')).toThrow(/"app >> 3"/);
  });
});

describe('field selectors', () => {
  it('compares dotted paths, with absent fields as empty strings', () => {
    const p = pod({}, { nodeName: 'node-a', hostNetwork: true });
    expect(parseFieldSelector('spec.nodeName=node-a')(p)).toBe(true);
    expect(parseFieldSelector('spec.nodeName==node-b')(p)).toBe(false);
    expect(parseFieldSelector('spec.nodeName=node-a,status.podIP!=10.1.0.1')(p)).toBe(false);
    expect(parseFieldSelector('metadata.namespace=ns,metadata.name=p')(p)).toBe(true);
    expect(parseFieldSelector('spec.missing=')(p)).toBe(true);
    expect(fieldValue(p, 'spec.hostNetwork')).toBe('true');
  });

  it('unescapes commas and equals signs in values', () => {
    const p = pod({}, { nodeName: 'a,b=c' });
    expect(parseFieldSelector('spec.nodeName=a\\,b\\=c')(p)).toBe(true);
  });

  it('refuses a term without an operator', () => {
    expect(() => parseFieldSelector('spec.nodeName')).toThrow(/path=value/);
  });
});
