import { describe, expect, it } from 'vitest';

import { describeLayouts, layoutCases, type LayoutChecker, type LayoutShape } from '../src/layouts.js';

// A stand-in for a BPF object's BTF: struct name → size and members.
const BTF: Record<string, LayoutShape> = {
  ev: {
    size: 16,
    fields: [
      { name: 'ts', offset: 0, size: 8 },
      { name: 'pid', offset: 8, size: 4 },
      { name: 'len', offset: 12, size: 2 },
    ],
  },
  key: { size: 4, fields: [{ name: 'ifindex', offset: 0, size: 4 }] },
};

// Compares like bpf-runtime's objectLayoutMismatches, in fewer words.
const faithful: LayoutChecker<LayoutShape> = (objectPath, name, layout) => {
  const s = BTF[name];
  if (!s) return [`struct ${name}: not in ${objectPath}`];
  const problems = s.size === layout.size ? [] : [`struct ${name}: size`];
  for (const m of s.fields) {
    const f = layout.fields.find((d) => d.name === m.name);
    if (!f) problems.push(`${name}.${m.name}: not declared`);
    else if (f.offset !== m.offset || f.size !== m.size) problems.push(`${name}.${m.name}: moved`);
  }
  return problems;
};

function runAll(check: LayoutChecker<LayoutShape>): Map<string, boolean> {
  const passed = new Map<string, boolean>();
  for (const c of layoutCases('/objects/x.bpf.o', { ev: BTF.ev!, key: BTF.key! }, check)) {
    try {
      c.run();
      passed.set(c.title, true);
    } catch {
      passed.set(c.title, false);
    }
  }
  return passed;
}

describe('layoutCases', () => {
  it('has a matching case and three broken declarations per struct, and one absent struct', () => {
    const passed = runAll(faithful);
    expect([...passed.keys()]).toEqual([
      'struct ev matches its declaration',
      'reports a declaration of ev without its last field',
      'reports a declaration of ev with a field one byte off',
      'reports a declaration of ev with the wrong size',
      'struct key matches its declaration',
      'reports a declaration of key without its last field',
      'reports a declaration of key with a field one byte off',
      'reports a declaration of key with the wrong size',
      'reports a struct the object does not have',
    ]);
    expect([...passed.values()].every(Boolean)).toBe(true);
  });

  it('fails every negative case when the checker reports nothing', () => {
    const passed = runAll(() => []);
    expect([...passed].filter(([, ok]) => !ok).map(([title]) => title)).toEqual(
      [...passed.keys()].filter((t) => !t.endsWith('matches its declaration')),
    );
  });

  it('fails the matching cases when the declaration differs from the object', () => {
    const shifted: LayoutChecker<LayoutShape> = (path, name, layout) =>
      faithful(path, name, { ...layout, fields: layout.fields.map((f) => ({ ...f, offset: f.offset + 4 })) });
    const passed = runAll(shifted);
    expect(passed.get('struct ev matches its declaration')).toBe(false);
    expect(passed.get('struct key matches its declaration')).toBe(false);
  });

  it('fails a negative case whose difference names another field', () => {
    const blamesFirst: LayoutChecker<LayoutShape> = (path, name, layout) =>
      faithful(path, name, layout).map(() => `${name}.${BTF[name]?.fields[0]?.name}: moved`);
    expect(runAll(blamesFirst).get('reports a declaration of ev without its last field')).toBe(false);
  });

  it('refuses an empty set of layouts and a layout without fields', () => {
    expect(() => layoutCases('/x.bpf.o', {}, faithful)).toThrow(/no layouts given/);
    expect(() => layoutCases('/x.bpf.o', { empty: { size: 0, fields: [] } }, faithful)).toThrow(
      /layout 'empty' has no fields/,
    );
  });
});

// The helper itself, registering its cases with vitest against the stand-in.
describeLayouts(new URL('file:///objects/x.bpf.o'), { ev: BTF.ev!, key: BTF.key! }, faithful);
