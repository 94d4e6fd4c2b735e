/** Options of the infiniband plugin: `plugins.infiniband` in the agent configuration. */
import { pathOption, pluginOptions, PluginOptionsError, wholeNumberOption, type ParsedPluginOptions } from '@retina-ts/core';
import { z } from 'zod';

/** Default cap on the series one poll may set (both families together). */
export const DEFAULT_MAX_SERIES = 10_000;

/** Schema of `plugins.infiniband`. */
export const infinibandOptionsSchema = z.object({
  /**
   * Where sysfs is mounted; `class/infiniband` and `class/net` below it are read. Tests point it at a fixture
   * tree; a container that mounts the host's sysfs elsewhere may use e.g. `/host/sys`.
   */
  sysfsRoot: pathOption().default('/sys'),
  /** At most this many series per poll; what is beyond is left out and logged. */
  maxSeries: wholeNumberOption(1, 1_000_000, 'must be 1 or more').default(DEFAULT_MAX_SERIES),
});

/** Validated options, defaults applied. */
export type InfinibandOptions = z.output<typeof infinibandOptionsSchema>;
/** Options as written in the configuration. */
export type InfinibandOptionsInput = z.input<typeof infinibandOptionsSchema>;

/** Invalid `plugins.infiniband` options; the message names each bad key, its value and what is allowed. */
export class InfinibandOptionsError extends PluginOptionsError {
  override name = 'InfinibandOptionsError';
}

/** Keys, parser and reader of `plugins.infiniband`. */
export const infinibandOptions = pluginOptions('infiniband', infinibandOptionsSchema, InfinibandOptionsError);

/** Names of the accepted option keys. */
export const INFINIBAND_OPTION_KEYS: readonly string[] = infinibandOptions.keys;

/** Validates raw `plugins.infiniband` options. Throws InfinibandOptionsError listing every problem. */
export const parseInfinibandOptions: (raw: unknown) => ParsedPluginOptions<InfinibandOptions> =
  infinibandOptions.parse;
