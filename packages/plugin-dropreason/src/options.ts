/**
 * The plugin's own options: `plugins.dropreason` in the agent config. Every key is optional.
 */
import { parsePluginOptions, PluginOptionsError, type PluginOptionProblem } from '@retina-ts/core';
import { z } from 'zod';

/** Which kernel hook to use. `auto` tries tp_btf, then the classic tracepoint. */
export type HookChoice = 'auto' | 'tp_btf' | 'tracepoint';

const optionsSchema = z
  .object({
    hook: z.enum(['auto', 'tp_btf', 'tracepoint']).default('auto'),
    /** Count only drops in this network namespace (inode of /proc/<pid>/ns/net); 0 = all namespaces. */
    netnsInode: z.number().int().min(0).max(0xffffffff).default(0),
    /** Per-flow records to the FlowBus; defaults to the agent's `enablePodLevel`. */
    flowEvents: z.boolean().optional(),
    /** Minimum gap between two records of one flow; drops in between are folded into its next record. 0 = every drop. */
    eventIntervalMs: z.number().min(0).max(3_600_000).default(1000),
    /** Cap on flow records per CPU per second (0 = no cap); the rest are counted as lost. */
    eventsPerCpuPerSecond: z.number().int().min(0).max(10_000_000).default(2000),
    /** Ring buffer size in bytes: a power of two, at least 4096. */
    ringBufferBytes: z
      .number()
      .int()
      .min(4096)
      .max(1 << 30)
      .refine((n) => (n & (n - 1)) === 0, { message: 'must be a power of two (e.g. 1048576)' })
      .default(1 << 20),
    /** Path of the compiled kernel object; defaults to the one shipped in this package. */
    objectPath: z.string().min(1).optional(),
    /** `kernel`: the kernel's reason names; `retina`: Retina's reason values (UNKNOWN_DROP where none fits). */
    reasonNames: z.enum(['kernel', 'retina']).default('kernel'),
    /** Raw BTF file describing the running kernel. */
    btfPath: z.string().min(1).default('/sys/kernel/btf/vmlinux'),
  })
  .strict();

/** Validated options with defaults applied. */
export type DropReasonOptions = z.output<typeof optionsSchema>;
/** What a user may write under `plugins.dropreason`. */
export type DropReasonOptionsInput = z.input<typeof optionsSchema>;

/** Thrown for an invalid option; the message names the key, the value and what is allowed. */
export class DropReasonOptionsError extends PluginOptionsError {
  override readonly name = 'DropReasonOptionsError';

  /** Every problem, `; `-separated, without a heading. */
  protected override compose(): string {
    return this.problems.map((p) => this.describe(p)).join('; ');
  }

  /** `<key> = <value>: <rule>`, or for an unknown key `<key>: <rule> (known keys: ...)`. */
  protected override describe(p: PluginOptionProblem): string {
    if (p.allowed) return `${p.key}: ${p.rule} (known keys: ${p.allowed.join(', ')})`;
    return `${p.key} = ${p.shown}: ${p.rule}`;
  }
}

/** Validates `plugins.dropreason` and fills defaults. */
export function parseOptions(raw: unknown): DropReasonOptions {
  // The schema is strict, so an unknown key is an error rather than an entry of unknownKeys.
  return parsePluginOptions('dropreason', optionsSchema, raw, DropReasonOptionsError).options;
}
