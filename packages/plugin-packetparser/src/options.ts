/**
 * The plugin's own options (`plugins.packetparser` in the agent config), validated with messages that name the
 * offending key and value.
 */
import { isIP } from 'node:net';
import { interfaceNameOption, parsePluginOptions, PhrasedPluginOptionsError } from '@retina-ts/core';
import { z } from 'zod';

/**
 * Default ring size while `packetParserRingBuffer` is disabled: 2 MiB holds about 13,000 events, 13 ms at a
 * million events per second for the native thread that drains it (Retina's perf array holds 128 KiB per CPU).
 */
export const DEFAULT_RING_BUFFER_BYTES = 2 << 20;

/** Linux interface names: 1 to 15 bytes, no slash, colon or white space. */
const interfaceName = interfaceNameOption();

/** Schema of `plugins.packetparser`. */
export const packetParserOptionsSchema = z
  .object({
    /** Host-side ends of pod veths to watch from the start (more come and go through attachInterface). */
    interfaces: z.array(interfaceName).optional(),
    /**
     * The node's interface. Default: the interface of the default route when `dataAggregationLevel` is low, none
     * when it is high. `false` never attaches to it.
     */
    hostInterface: z.union([interfaceName, z.literal(false)]).optional(),
    /** Addresses whose packets are reported (source or destination), unless `bypassLookupIPOfInterest`. */
    ipsOfInterest: z.array(z.string().refine((s) => isIP(s) !== 0, 'not an IPv4 or IPv6 address')).optional(),
    /**
     * Ring buffer size in bytes while `packetParserRingBuffer` is disabled (Retina's default, where Retina reads a
     * perf array of 32 pages per CPU instead). With `packetParserRingBuffer: enabled` the ring is
     * `packetParserRingBufferSize`, as in Retina. Default DEFAULT_RING_BUFFER_BYTES.
     */
    ringBufferBytes: z
      .int()
      .min(4096, 'at least one page (4096)')
      .max(1 << 30, 'at most 1 GiB')
      .refine((n) => (n & (n - 1)) === 0, 'must be a power of two')
      .optional(),
  })
  .strict()
  .superRefine((options, ctx) => {
    const seen = new Set<string>();
    (options.interfaces ?? []).forEach((name, i) => {
      // One interface attached twice would report every packet twice.
      if (seen.has(name) || name === options.hostInterface) {
        ctx.addIssue({
          code: 'custom',
          path: ['interfaces', i],
          message: `"${name}" is listed twice (or is also hostInterface); list each interface once`,
        });
      }
      seen.add(name);
    });
  });

/** Validated options of the packetparser plugin. */
export type PacketParserOptions = z.infer<typeof packetParserOptionsSchema>;

/** Thrown for invalid `plugins.packetparser` options. */
export class PacketParserOptionsError extends PhrasedPluginOptionsError {
  override name = 'PacketParserOptionsError';
}

/** Validates raw options; the error lists every problem as `plugins.packetparser.<path>: <what is wrong>`. */
export function parsePacketParserOptions(raw: unknown): PacketParserOptions {
  return parsePluginOptions('packetparser', packetParserOptionsSchema, raw, PacketParserOptionsError).options;
}

/**
 * Size of the kernel ring buffer: `packetParserRingBufferSize` when Retina's `packetParserRingBuffer` is enabled,
 * else the plugin's `ringBufferBytes`.
 */
export function ringBufferBytes(
  mode: 'enabled' | 'disabled',
  packetParserRingBufferSize: number,
  options: Pick<PacketParserOptions, 'ringBufferBytes'>,
): number {
  return mode === 'enabled'
    ? packetParserRingBufferSize
    : (options.ringBufferBytes ?? DEFAULT_RING_BUFFER_BYTES);
}
