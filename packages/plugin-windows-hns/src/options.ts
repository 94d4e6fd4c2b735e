/** Options of the hnsstats plugin: `plugins.hnsstats` in the agent configuration. */
import { parsePluginOptions, PluginOptionsError, type ParsedPluginOptions } from '@retina-ts/core';
import { z } from 'zod';

/** Schema of `plugins.hnsstats`. */
export const hnsStatsOptionsSchema = z.object({
  /** Read VFP port counters (TCP flags and connections, ACL drops) with vfpctrl in addition to HNS counters. */
  vfpCounters: z.boolean({ error: 'must be true or false' }).default(true),
  /** The vfpctrl executable: a name looked up on PATH (it lives in C:\Windows\System32) or a full path. */
  vfpctrlPath: z
    .string({ error: 'must be a path string' })
    .min(1, { error: 'must not be empty' })
    .default('vfpctrl.exe'),
  /** Longest a single vfpctrl run may take before it is killed. */
  commandTimeoutMs: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(100, { error: 'must be at least 100' })
    .max(600_000, { error: 'must be at most 600000' })
    .default(10_000),
  /** Only endpoints in the AttachedSharing state (running pods); false reads every local endpoint. */
  attachedOnly: z.boolean({ error: 'must be true or false' }).default(true),
  /** How many endpoints are read at the same time. */
  concurrency: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(1, { error: 'must be at least 1' })
    .max(32, { error: 'must be at most 32' })
    .default(4),
  /** Pod-level (`adv_*`) series per endpoint; defaults to the agent's `enablePodLevel`. */
  podLevel: z.boolean({ error: 'must be true or false' }).optional(),
});

/** Validated options, defaults applied. */
export type HnsStatsOptions = z.output<typeof hnsStatsOptionsSchema>;
/** Options as written in the configuration. */
export type HnsStatsOptionsInput = z.input<typeof hnsStatsOptionsSchema>;

/** Names of the accepted option keys. */
export const HNSSTATS_OPTION_KEYS: readonly string[] = Object.keys(hnsStatsOptionsSchema.shape);

/** Invalid `plugins.hnsstats` options; the message names each bad key, its value and what is allowed. */
export class HnsStatsOptionsError extends PluginOptionsError {
  override name = 'HnsStatsOptionsError';
}

/** Validation result: the options, plus keys the plugin does not know (worth a warning, not an error). */
export type ParsedHnsStatsOptions = ParsedPluginOptions<HnsStatsOptions>;

/** Validates raw `plugins.hnsstats` options. Throws HnsStatsOptionsError listing every problem. */
export function parseHnsStatsOptions(raw: unknown): ParsedHnsStatsOptions {
  return parsePluginOptions('hnsstats', hnsStatsOptionsSchema, raw, HnsStatsOptionsError);
}
