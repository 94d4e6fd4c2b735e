/**
 * Pieces that several plugins' option schemas share, so one kind of option is checked and worded alike in every
 * plugin, and `pluginOptions`, which bundles a plugin's key list, parser and the warning about unknown keys.
 */
import { z } from 'zod';
import type { PluginContext } from './contract.js';
import {
  parsePluginOptions,
  PluginOptionsError,
  type ParsedPluginOptions,
  type PluginOptionsErrorClass,
} from './options.js';

/** A whole number from `min` to `max`; `minRule` words the lower bound (default `must be at least <min>`). */
export function wholeNumberOption(min: number, max: number, minRule = `must be at least ${min}`) {
  return z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: minRule })
    .max(max, { error: `must be at most ${max}` });
}

/** A file or directory path: a non-empty string. */
export function pathOption() {
  return z.string({ error: 'must be a path string' }).min(1, { error: 'must not be empty' });
}

/** `true` or `false`. */
export function flagOption() {
  return z.boolean({ error: 'must be true or false' });
}

/**
 * A Linux interface name: 1 to 15 bytes, no white space, `/` or `:`. Its rules are whole phrases, for schemas
 * reported through PhrasedPluginOptionsError (`<key>: <rule> (got <value>)`).
 */
export function interfaceNameOption() {
  return z
    .string()
    .min(1, 'an interface name cannot be empty')
    .max(15, 'interface names have at most 15 characters')
    .regex(/^[^\s/:]+$/, 'interface names contain no white space, "/" or ":"');
}

/** What `pluginOptions` returns: everything a plugin does with its own options. */
export interface PluginOptionsSpec<T> {
  /** The configuration name: the options live at `plugins.<plugin>`. */
  readonly plugin: string;
  /** The keys the schema accepts. */
  readonly keys: readonly string[];
  /** Validates raw options (absent means `{}`); throws the plugin's error class listing every problem. */
  parse(raw: unknown): ParsedPluginOptions<T>;
  /** Validates `ctx.options` and logs keys the schema does not know as a warning (they are ignored). */
  read(ctx: Pick<PluginContext, 'options' | 'logger'>): T;
}

/** The option handling of plugin `plugin` whose options `schema` describes; errors are thrown as `errorClass`. */
export function pluginOptions<S extends z.ZodObject>(
  plugin: string,
  schema: S,
  errorClass: PluginOptionsErrorClass = PluginOptionsError,
): PluginOptionsSpec<z.output<S>> {
  const keys: readonly string[] = Object.freeze(Object.keys(schema.shape));
  const parse = (raw: unknown): ParsedPluginOptions<z.output<S>> => parsePluginOptions(plugin, schema, raw, errorClass);
  return {
    plugin,
    keys,
    parse,
    read(ctx) {
      const { options, unknownKeys } = parse(ctx.options);
      if (unknownKeys.length > 0) {
        ctx.logger.warn(
          { unknownKeys },
          `plugins.${plugin}: ignoring unknown option(s) ${unknownKeys.join(', ')} (known: ${keys.join(', ')})`,
        );
      }
      return options;
    },
  };
}
