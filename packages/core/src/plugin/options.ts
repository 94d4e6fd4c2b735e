/** Validation of a plugin's own options (`plugins.<name>` in the agent configuration) against a zod schema. */
import type { z } from 'zod';

/** One thing wrong with a plugin's options. */
export interface PluginOptionProblem {
  /** Dotted path from the configuration root, e.g. `plugins.dns.port`; `plugins.dns` for the whole mapping. */
  key: string;
  /** What is wrong or what is allowed, as the schema words it (e.g. `must be at least 1`). */
  rule: string;
  /** The value found at `key` (undefined when absent). */
  value: unknown;
  /** The value as shown in messages: JSON where possible, `nothing` when absent. */
  shown: string;
  /** Set when the problem is an unknown key of a strict schema: the keys that are accepted. */
  allowed?: readonly string[];
}

/**
 * Invalid plugin options; the message names each bad key, its value and what is allowed. A plugin may subclass it
 * to keep its own error name and, by overriding `describe`/`compose`, an established wording.
 */
export class PluginOptionsError extends Error {
  override name = 'PluginOptionsError';
  /** Every problem found, in schema order. */
  readonly problems: readonly PluginOptionProblem[];

  constructor(
    /** The plugin's configuration name (`plugins.<plugin>`). */
    readonly plugin: string,
    problems: readonly PluginOptionProblem[],
  ) {
    super();
    this.problems = problems;
    // Subclass fields are not set yet, but compose/describe are prototype methods, so overrides already apply.
    this.message = this.compose();
  }

  /** The whole message: a wrong mapping on its own, otherwise every problem after `invalid <plugin> options:`. */
  protected compose(): string {
    const whole = this.problems.find((p) => p.key === `plugins.${this.plugin}` && p.allowed === undefined);
    if (whole) return `${whole.key} ${whole.rule}, got ${whole.shown}`;
    return `invalid ${this.plugin} options: ${this.problems.map((p) => this.describe(p)).join('; ')}`;
  }

  /** One problem: `<key> <rule> (got <value>)`, or for an unknown key `<key>: <rule> (allowed: <keys>)`. */
  protected describe(p: PluginOptionProblem): string {
    if (p.allowed) return `${p.key}: ${p.rule} (allowed: ${p.allowed.join(', ')})`;
    return `${p.key} ${p.rule} (got ${p.shown})`;
  }
}

/**
 * The same error worded `<key>: <rule> (got <value>)`, for schemas whose rules are whole phrases
 * (`'interface names have at most 15 characters'` rather than `'must be at most 15'`).
 */
export class PhrasedPluginOptionsError extends PluginOptionsError {
  override name = 'PhrasedPluginOptionsError';

  protected override describe(p: PluginOptionProblem): string {
    return p.allowed ? super.describe(p) : `${p.key}: ${p.rule} (got ${p.shown})`;
  }
}

/** A PluginOptionsError class (or subclass) that parsePluginOptions throws. */
export type PluginOptionsErrorClass = new (
  plugin: string,
  problems: readonly PluginOptionProblem[],
) => PluginOptionsError;

/** Validated options, plus keys the schema does not know (a non-strict schema lets them through for a warning). */
export interface ParsedPluginOptions<T> {
  options: T;
  unknownKeys: string[];
}

/**
 * Validates raw `plugins.<plugin>` options (absent means `{}`) against `schema` and applies its defaults.
 * Throws `errorClass` (default PluginOptionsError) listing every problem at once.
 */
export function parsePluginOptions<S extends z.ZodObject>(
  plugin: string,
  schema: S,
  raw: unknown,
  errorClass: PluginOptionsErrorClass = PluginOptionsError,
): ParsedPluginOptions<z.output<S>> {
  const input = raw ?? {};
  const root = `plugins.${plugin}`;
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new errorClass(plugin, [problem(root, 'must be a mapping of options', input)]);
  }
  const known = Object.keys(schema.shape);
  const result = schema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const path = issue.path.map(String);
      const found = problem([root, ...path].join('.'), issue.message, valueAt(input, path));
      return issue.code === 'unrecognized_keys' ? { ...found, allowed: known } : found;
    });
    throw new errorClass(plugin, problems);
  }
  const unknownKeys = Object.keys(input).filter((k) => !known.includes(k));
  return { options: result.data, unknownKeys };
}

function problem(key: string, rule: string, value: unknown): PluginOptionProblem {
  return { key, rule, value, shown: show(value) };
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const p of path)
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    // BigInt and cyclic values cannot be JSON.
    return String(v);
  }
}
