import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  flagOption,
  interfaceNameOption,
  pathOption,
  PhrasedPluginOptionsError,
  pluginOptions,
  PluginOptionsError,
  wholeNumberOption,
} from '../src/index.js';
import { createTestContext } from '../src/testing.js';

const schema = z.object({
  root: pathOption().default('/proc'),
  max: wholeNumberOption(0, 100, 'must be 0 or more').default(10),
  workers: wholeNumberOption(1, 8).default(2),
  on: flagOption().default(true),
});
const spec = pluginOptions('demo', schema);

const message = (raw: unknown): string => {
  try {
    spec.parse(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(PluginOptionsError);
    return (err as Error).message;
  }
  throw new Error('expected the options to be rejected');
};

describe('option rules', () => {
  it('word each rule the same way wherever it is used', () => {
    expect(message({ root: '' })).toBe('invalid demo options: plugins.demo.root must not be empty (got "")');
    expect(message({ root: 3 })).toContain('plugins.demo.root must be a path string (got 3)');
    expect(message({ max: -1 })).toContain('plugins.demo.max must be 0 or more (got -1)');
    expect(message({ max: 101 })).toContain('plugins.demo.max must be at most 100 (got 101)');
    expect(message({ workers: 0 })).toContain('plugins.demo.workers must be at least 1 (got 0)');
    expect(message({ workers: 1.5 })).toContain('plugins.demo.workers must be a whole number (got 1.5)');
    expect(message({ workers: '2' })).toContain('plugins.demo.workers must be a number (got "2")');
    expect(message({ on: 'yes' })).toContain('plugins.demo.on must be true or false (got "yes")');
  });

  it('check Linux interface names with phrased rules', () => {
    const names = pluginOptions('nics', z.object({ name: interfaceNameOption() }).strict(), PhrasedPluginOptionsError);
    expect(names.parse({ name: 'eth0' }).options).toEqual({ name: 'eth0' });
    expect(() => names.parse({ name: '' })).toThrow('plugins.nics.name: an interface name cannot be empty (got "")');
    expect(() => names.parse({ name: 'a'.repeat(16) })).toThrow('interface names have at most 15 characters');
    expect(() => names.parse({ name: 'eth0:1' })).toThrow('interface names contain no white space, "/" or ":"');
  });
});

describe('pluginOptions', () => {
  it('lists the accepted keys and applies defaults', () => {
    expect(spec.plugin).toBe('demo');
    expect(spec.keys).toEqual(['root', 'max', 'workers', 'on']);
    expect(spec.parse(undefined)).toEqual({
      options: { root: '/proc', max: 10, workers: 2, on: true },
      unknownKeys: [],
    });
  });

  it('read() returns the options and warns once about unknown keys, naming the known ones', () => {
    const t = createTestContext({ name: 'demo', options: { max: 5, mx: 6 } });
    expect(spec.read(t.ctx)).toEqual({ root: '/proc', max: 5, workers: 2, on: true });
    const warnings = t.logs.filter((l) => l.level === 'warn');
    expect(warnings.map((l) => l.msg)).toEqual([
      'plugins.demo: ignoring unknown option(s) mx (known: root, max, workers, on)',
    ]);
  });

  it('read() logs nothing when every key is known, and throws for bad values', () => {
    const ok = createTestContext({ name: 'demo', options: { on: false } });
    expect(spec.read(ok.ctx).on).toBe(false);
    expect(ok.logs.filter((l) => l.level === 'warn')).toEqual([]);
    const bad = createTestContext({ name: 'demo', options: { workers: 9 } });
    expect(() => spec.read(bad.ctx)).toThrow('plugins.demo.workers must be at most 8 (got 9)');
  });
});
