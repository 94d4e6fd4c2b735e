/** Options of the linuxutil plugin: `plugins.linuxutil` in the agent configuration. */
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
  procRoot: z
    .string({ error: 'must be a path string' })
    .min(1, { error: 'must not be empty' })
    .default('/proc'),
  /** At most this many `tcp_connection_remote` addresses; the rest are summed into `address="other"`. */
  maxRemoteAddresses: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(0, { error: 'must be 0 or more' })
    .max(100_000, { error: 'must be at most 100000' })
    .default(DEFAULT_MAX_REMOTE_ADDRESSES),
  /** Read ethtool statistics into `interface_stats`. */
  interfaceStats: z.boolean({ error: 'must be true or false' }).default(true),
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

/** Names of the accepted option keys. */
export const LINUXUTIL_OPTION_KEYS: readonly string[] = Object.keys(linuxUtilOptionsSchema.shape);

/** Invalid `plugins.linuxutil` options; the message names each bad key, its value and what is allowed. */
export class LinuxUtilOptionsError extends Error {
  override name = 'LinuxUtilOptionsError';
}

/** Validation result: the options, plus keys the plugin does not know (worth a warning, not an error). */
export interface ParsedLinuxUtilOptions {
  options: LinuxUtilOptions;
  unknownKeys: string[];
}

/** Validates raw `plugins.linuxutil` options. Throws LinuxUtilOptionsError listing every problem. */
export function parseLinuxUtilOptions(raw: unknown): ParsedLinuxUtilOptions {
  const input = raw ?? {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new LinuxUtilOptionsError(`plugins.linuxutil must be a mapping of options, got ${describe(input)}`);
  }
  const result = linuxUtilOptionsSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const path = issue.path.map(String);
      const key = ['plugins', 'linuxutil', ...path].join('.');
      return `${key} ${issue.message} (got ${describe(valueAt(input, path))})`;
    });
    throw new LinuxUtilOptionsError(`invalid linuxutil options: ${problems.join('; ')}`);
  }
  const unknownKeys = Object.keys(input).filter((k) => !LINUXUTIL_OPTION_KEYS.includes(k));
  return { options: result.data, unknownKeys };
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const p of path)
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}
