/**
 * The plugin's own options (`plugins.tcpretrans` in the agent config), validated with messages that name the
 * offending key and value.
 */
import { parsePluginOptions, PhrasedPluginOptionsError } from '@retina-ts/core';
import { z } from 'zod';

/** Default ring-buffer size: 256 KiB holds about 4,700 records between two reads. */
export const DEFAULT_RING_BUFFER_BYTES = 256 * 1024;
/** Default per-CPU event budget per second. */
export const DEFAULT_MAX_EVENTS_PER_SECOND = 5000;

const powerOfTwo = (n: number) => Number.isInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** Schema of `plugins.tcpretrans`. */
export const tcpRetransOptionsSchema = z
  .object({
    /**
     * Send one flow per retransmitting connection to the FlowBus. Default: on when pod-level metrics
     * (`enablePodLevel`) or the Hubble control plane are on; the basic counter never needs them.
     */
    flows: z.boolean().optional(),
    /** Size of the kernel ring buffer for flow records, in bytes: a power of two from 4096 to 1 GiB. */
    ringBufferBytes: z
      .number()
      .int()
      .min(4096, 'the ring buffer needs at least one page (4096 bytes)')
      .max(2 ** 30, 'the ring buffer can have at most 1 GiB')
      .refine(powerOfTwo, 'the ring buffer size must be a power of two (e.g. 262144)')
      .optional(),
    /** Records each CPU may send per second (the rest are counted as lost); 0 means no limit. */
    maxEventsPerSecondPerCpu: z.number().int().min(0).max(0xffff_ffff).optional(),
    /**
     * Observe only sockets of this network namespace (its inode: `stat -L -c %i /proc/<pid>/ns/net`), e.g. one
     * pod while investigating; default: every namespace of the node.
     */
    netnsInode: z.number().int().min(1).max(0xffff_ffff).optional(),
  })
  .strict();

/** Validated options of the tcpretrans plugin. */
export type TcpRetransOptions = z.infer<typeof tcpRetransOptionsSchema>;

/** Thrown for invalid `plugins.tcpretrans` options. */
export class TcpRetransOptionsError extends PhrasedPluginOptionsError {
  override name = 'TcpRetransOptionsError';
}

/** Validates raw options; the error lists every problem as `plugins.tcpretrans.<key>: <what is wrong>`. */
export function parseTcpRetransOptions(raw: unknown): TcpRetransOptions {
  // The schema is strict, so an unknown key is an error rather than an entry of unknownKeys.
  return parsePluginOptions('tcpretrans', tcpRetransOptionsSchema, raw, TcpRetransOptionsError).options;
}
