/** Options of the linuxutil plugin: `plugins.linuxutil` in the agent configuration. */
import {
  flagOption,
  pathOption,
  pluginOptions,
  PluginOptionsError,
  wholeNumberOption,
  type ParsedPluginOptions,
} from '@retina-ts/core';
import { z } from 'zod';

/** Default cap on `tcp_connection_remote` series. */
export const DEFAULT_MAX_REMOTE_ADDRESSES = 100;

const isRegExp = (s: string): boolean => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
};

/** Schema of `plugins.linuxutil`. */
export const linuxUtilOptionsSchema = z.object({
  /** Where procfs is mounted; `net/*` below it is read. Tests point it at fixtures; containers may use /host/proc. */
  procRoot: pathOption().default('/proc'),
  /** At most this many `tcp_connection_remote` addresses; the rest are summed into `address="other"`. */
  maxRemoteAddresses: wholeNumberOption(0, 100_000, 'must be 0 or more').default(
    DEFAULT_MAX_REMOTE_ADDRESSES,
  ),
  /** Read ethtool statistics into `interface_stats`. */
  interfaceStats: flagOption().default(true),
  /** Regular expressions; interfaces whose name matches any are left out of `interface_stats` (lo always is). */
  excludeInterfaces: z
    .array(
      z
        .string({ error: 'must be a string' })
        .refine(isRegExp, { error: 'is not a valid regular expression' }),
      {
        error: 'must be a list of regular expressions',
      },
    )
    .default([]),
});

/** Validated options, defaults applied. */
export type LinuxUtilOptions = z.output<typeof linuxUtilOptionsSchema>;
/** Options as written in the configuration. */
export type LinuxUtilOptionsInput = z.input<typeof linuxUtilOptionsSchema>;

/** Invalid `plugins.linuxutil` options; the message names each bad key, its value and what is allowed. */
export class LinuxUtilOptionsError extends PluginOptionsError {
  override name = 'LinuxUtilOptionsError';
}

/** Validation result: the options, plus keys the plugin does not know (worth a warning, not an error). */
export type ParsedLinuxUtilOptions = ParsedPluginOptions<LinuxUtilOptions>;

/** Keys, parser and reader of `plugins.linuxutil`. */
export const linuxUtilOptions = pluginOptions('linuxutil', linuxUtilOptionsSchema, LinuxUtilOptionsError);

/** Names of the accepted option keys. */
export const LINUXUTIL_OPTION_KEYS: readonly string[] = linuxUtilOptions.keys;

/** Validates raw `plugins.linuxutil` options. Throws LinuxUtilOptionsError listing every problem. */
export const parseLinuxUtilOptions: (raw: unknown) => ParsedLinuxUtilOptions = linuxUtilOptions.parse;
