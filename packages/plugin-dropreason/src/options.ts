/**
 * The plugin's own options: `plugins.dropreason` in the agent config. Every key is optional.
 */
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
    /** Raw BTF file describing the running kernel. */
    btfPath: z.string().min(1).default('/sys/kernel/btf/vmlinux'),
  })
  .strict();

/** Validated options with defaults applied. */
export type DropReasonOptions = z.output<typeof optionsSchema>;
/** What a user may write under `plugins.dropreason`. */
export type DropReasonOptionsInput = z.input<typeof optionsSchema>;

/** Thrown for an invalid option; the message names the key, the value and what is allowed. */
export class DropReasonOptionsError extends Error {
  override readonly name = 'DropReasonOptionsError';
}

/** Validates `plugins.dropreason` and fills defaults. */
export function parseOptions(raw: unknown): DropReasonOptions {
  const result = optionsSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `plugins.dropreason: ${issue.message} (known keys: ${Object.keys(optionsSchema.shape).join(', ')})`;
    }
    const value = issue.path.reduce<unknown>(
      (o, k) =>
        o && typeof o === 'object' ? (o as Record<PropertyKey, unknown>)[k as PropertyKey] : undefined,
      raw,
    );
    const where = ['plugins', 'dropreason', ...issue.path.map(String)].join('.');
    return `${where} = ${JSON.stringify(value)}: ${issue.message}`;
  });
  throw new DropReasonOptionsError(issues.join('; '));
}
