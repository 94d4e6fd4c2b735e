/** Options of the hnsstats plugin: `plugins.hnsstats` in the agent configuration. */
import {
  flagOption,
  pathOption,
  pluginOptions,
  PluginOptionsError,
  wholeNumberOption,
  type ParsedPluginOptions,
} from '@retina-ts/core';
import { z } from 'zod';

/** Schema of `plugins.hnsstats`. */
export const hnsStatsOptionsSchema = z.object({
  /** Read VFP port counters (TCP flags and connections, ACL drops) with vfpctrl in addition to HNS counters. */
  vfpCounters: flagOption().default(true),
  /** The vfpctrl executable: a name looked up on PATH (it lives in C:\Windows\System32) or a full path. */
  vfpctrlPath: pathOption().default('vfpctrl.exe'),
  /** Longest a single vfpctrl run may take before it is killed. */
  commandTimeoutMs: wholeNumberOption(100, 600_000).default(10_000),
  /** Only endpoints in the AttachedSharing state (running pods); false reads every local endpoint. */
  attachedOnly: flagOption().default(true),
  /** How many endpoints are read at the same time. */
  concurrency: wholeNumberOption(1, 32).default(4),
  /** Pod-level (`adv_*`) series per endpoint; defaults to the agent's `enablePodLevel`. */
  podLevel: flagOption().optional(),
});

/** Validated options, defaults applied. */
export type HnsStatsOptions = z.output<typeof hnsStatsOptionsSchema>;
/** Options as written in the configuration. */
export type HnsStatsOptionsInput = z.input<typeof hnsStatsOptionsSchema>;

/** Invalid `plugins.hnsstats` options; the message names each bad key, its value and what is allowed. */
export class HnsStatsOptionsError extends PluginOptionsError {
  override name = 'HnsStatsOptionsError';
}

/** Validation result: the options, plus keys the plugin does not know (worth a warning, not an error). */
export type ParsedHnsStatsOptions = ParsedPluginOptions<HnsStatsOptions>;

/** Keys, parser and reader of `plugins.hnsstats`. */
export const hnsStatsOptions = pluginOptions('hnsstats', hnsStatsOptionsSchema, HnsStatsOptionsError);

/** Names of the accepted option keys. */
export const HNSSTATS_OPTION_KEYS: readonly string[] = hnsStatsOptions.keys;

/** Validates raw `plugins.hnsstats` options. Throws HnsStatsOptionsError listing every problem. */
export const parseHnsStatsOptions: (raw: unknown) => ParsedHnsStatsOptions = hnsStatsOptions.parse;
