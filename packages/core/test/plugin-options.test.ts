import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parsePluginOptions, PhrasedPluginOptionsError, PluginOptionsError, type PluginOptionProblem } from '../src/index.js';

const schema = z.object({
  port: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .default(53),
  names: z.array(z.string({ error: 'must be a string' })).default([]),
});

const thrown = (fn: () => unknown): PluginOptionsError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PluginOptionsError);
    return err as PluginOptionsError;
  }
  throw new Error('expected a PluginOptionsError');
};

describe('parsePluginOptions', () => {
  it('applies defaults to absent options', () => {
    expect(parsePluginOptions('dns', schema, undefined)).toEqual({ options: { port: 53, names: [] }, unknownKeys: [] });
    expect(parsePluginOptions('dns', schema, null).options).toEqual({ port: 53, names: [] });
  });

  it('returns keys the schema does not know', () => {
    expect(parsePluginOptions('dns', schema, { port: 5353, prot: 1 })).toEqual({
      options: { port: 5353, names: [] },
      unknownKeys: ['prot'],
    });
  });

  it('names every bad key, its value and the rule', () => {
    const err = thrown(() => parsePluginOptions('dns', schema, { port: 0, names: ['a', 7] }));
    expect(err.message).toBe(
      'invalid dns options: plugins.dns.port must be at least 1 (got 0); plugins.dns.names.1 must be a string (got 7)',
    );
    expect(err.plugin).toBe('dns');
    expect(err.problems.map((p) => p.key)).toEqual(['plugins.dns.port', 'plugins.dns.names.1']);
  });

  it('says "nothing" for a missing value and survives values JSON cannot show', () => {
    const required = z.object({ need: z.string({ error: 'must be a string' }) });
    expect(thrown(() => parsePluginOptions('x', required, {})).message).toBe(
      'invalid x options: plugins.x.need must be a string (got nothing)',
    );
    expect(thrown(() => parsePluginOptions('x', required, { need: 10n })).message).toBe(
      'invalid x options: plugins.x.need must be a string (got 10)',
    );
  });

  it('refuses a non-mapping', () => {
    expect(thrown(() => parsePluginOptions('dns', schema, [1])).message).toBe(
      'plugins.dns must be a mapping of options, got [1]',
    );
    expect(thrown(() => parsePluginOptions('dns', schema, 'fast')).message).toBe(
      'plugins.dns must be a mapping of options, got "fast"',
    );
  });

  it('lists the allowed keys when a strict schema meets an unknown one', () => {
    const err = thrown(() => parsePluginOptions('dns', schema.strict(), { prot: 1 }));
    expect(err.message).toBe(
      'invalid dns options: plugins.dns: Unrecognized key: "prot" (allowed: port, names)',
    );
    expect(err.problems[0]?.allowed).toEqual(['port', 'names']);
  });

  it('throws the given subclass, which may keep its own wording', () => {
    class ColonOptionsError extends PluginOptionsError {
      override name = 'ColonOptionsError';
      protected override describe(p: PluginOptionProblem): string {
        return `${p.key}: ${p.rule}`;
      }
    }
    const err = thrown(() => parsePluginOptions('dns', schema, { port: -1 }, ColonOptionsError));
    expect(err).toBeInstanceOf(ColonOptionsError);
    expect(err.name).toBe('ColonOptionsError');
    expect(err.message).toBe('invalid dns options: plugins.dns.port: must be at least 1');
  });

  it('words problems `<key>: <rule> (got <value>)` with PhrasedPluginOptionsError, unknown keys as usual', () => {
    class PhrasedError extends PhrasedPluginOptionsError {
      override name = 'PhrasedError';
    }
    const err = thrown(() => parsePluginOptions('dns', schema, { port: 'x', names: [7] }, PhrasedError));
    expect(err).toBeInstanceOf(PhrasedError);
    expect(err.message).toBe(
      'invalid dns options: plugins.dns.port: must be a number (got "x"); plugins.dns.names.0: must be a string (got 7)',
    );
    const unknown = thrown(() => parsePluginOptions('dns', schema.strict(), { prot: 1 }, PhrasedError));
    expect(unknown.message).toMatch(/^invalid dns options: plugins\.dns: .*"prot".* \(allowed: port, names\)$/);
  });
});
