/** Options of the infiniband plugin: `plugins.infiniband` in the agent configuration. */
import { parsePluginOptions, PluginOptionsError, type ParsedPluginOptions } from '@retina-ts/core';
import { z } from 'zod';

/** Default cap on the series one poll may set (both families together). */
export const DEFAULT_MAX_SERIES = 10_000;

/** Schema of `plugins.infiniband`. */
export const infinibandOptionsSchema = z.object({
  /**
   * Where sysfs is mounted; `class/infiniband` and `class/net` below it are read. Tests point it at a fixture
   * tree; a container that mounts the host's sysfs elsewhere may use e.g. `/host/sys`.
   */
  sysfsRoot: z
    .string({ error: 'must be a path string' })
    .min(1, { error: 'must not be empty' })
    .default('/sys'),
  /** At most this many series per poll; what is beyond is left out and logged. */
  maxSeries: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be 1 or more' })
    .max(1_000_000, { error: 'must be at most 1000000' })
    .default(DEFAULT_MAX_SERIES),
});

/** Validated options, defaults applied. */
export type InfinibandOptions = z.output<typeof infinibandOptionsSchema>;
/** Options as written in the configuration. */
export type InfinibandOptionsInput = z.input<typeof infinibandOptionsSchema>;

/** Names of the accepted option keys. */
export const INFINIBAND_OPTION_KEYS: readonly string[] = Object.keys(infinibandOptionsSchema.shape);

/** Invalid `plugins.infiniband` options; the message names each bad key, its value and what is allowed. */
export class InfinibandOptionsError extends PluginOptionsError {
  override name = 'InfinibandOptionsError';
}

/** Validates raw `plugins.infiniband` options. Throws InfinibandOptionsError listing every problem. */
export function parseInfinibandOptions(raw: unknown): ParsedPluginOptions<InfinibandOptions> {
  return parsePluginOptions('infiniband', infinibandOptionsSchema, raw, InfinibandOptionsError);
}
