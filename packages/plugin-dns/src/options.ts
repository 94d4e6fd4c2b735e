/** Options of the dns plugin: `plugins.dns` in the agent configuration. */
import {
  flagOption,
  pathOption,
  pluginOptions,
  PluginOptionsError,
  wholeNumberOption,
  type ParsedPluginOptions,
} from '@retina-ts/core';
import { endianness } from 'node:os';
import { z } from 'zod';
import { DNS_HEADER_SIZE, DNS_MAX_CAPTURE } from './decode.js';

/** Default cap on distinct `query` label values. */
export const DEFAULT_MAX_QUERIES = 500;
/** Default cap on distinct `query_type` label values (queries name a few dozen types in practice). */
export const DEFAULT_MAX_QUERY_TYPES = 64;
/** Default cap on distinct `response` label values. */
export const DEFAULT_MAX_RESPONSES = 1000;

const isPowerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** Ports watched when neither `ports` nor `port` is set: DNS and multicast DNS, as Retina's filter watches. */
export const DEFAULT_DNS_PORTS: readonly number[] = [53, 5353];
/** At most this many ports (the kernel program has this many slots: MAX_DNS_PORTS in bpf/dns.bpf.c). */
export const MAX_DNS_PORTS = 8;

/** Schema of `plugins.dns`. */
export const dnsOptionsSchema = z
  .object({
    /** DNS server ports, each matched as the source or destination port of UDP and TCP packets. */
    ports: z
      .array(wholeNumberOption(1, 65535), { error: 'must be a list of port numbers' })
      .min(1, { error: 'must list at least one port' })
      .max(MAX_DNS_PORTS, { error: `must list at most ${MAX_DNS_PORTS} ports` })
      .refine((a) => new Set(a).size === a.length, { error: 'must not list a port twice' })
      .optional(),
    /** One DNS server port: shorthand for `ports: [port]`. */
    port: wholeNumberOption(1, 65535).optional(),
    /** Bytes of each DNS message copied from the kernel: enough for the question and typical answers. */
    captureBytes: wholeNumberOption(DNS_HEADER_SIZE, DNS_MAX_CAPTURE).default(512),
    /** Size of the kernel ring buffer in bytes: a power of two, at least one page. */
    ringBufferBytes: wholeNumberOption(4096, 1 << 30)
      .refine(isPowerOfTwo, { error: 'must be a power of two' })
      .default(1 << 20),
    /** At most this many distinct `query` values; later names are counted under `query="other"`. */
    maxQueries: wholeNumberOption(0, 1_000_000).default(DEFAULT_MAX_QUERIES),
    /** At most this many distinct `query_type` values; later ones are counted under `query_type="other"`. */
    maxQueryTypes: wholeNumberOption(0, 65_536).default(DEFAULT_MAX_QUERY_TYPES),
    /** At most this many distinct `response` values; later answer sets are counted under `response="other"`. */
    maxResponses: wholeNumberOption(0, 1_000_000).default(DEFAULT_MAX_RESPONSES),
    /** Write `query` with its trailing dot (`example.com.`), as Retina's advanced metrics do. */
    queryTrailingDot: flagOption().default(false),
    /** Put DNS flows on the FlowBus: `auto` when pod-level metrics or the Hubble control plane are on. */
    emitFlows: z
      .union([z.boolean(), z.literal('auto')], { error: 'must be true, false or "auto"' })
      .default('auto'),
    /**
     * Copies of one message seen within this window (a bridge port and the bridge, a VLAN and its parent) count
     * once; folded in the kernel. 0 counts every copy.
     */
    duplicateWindowMs: z
      .number({ error: 'must be a number' })
      .min(0, { error: 'must be 0 or more' })
      .max(1000, { error: 'must be at most 1000' })
      .default(5),
    /** A request without a response after this long is forgotten (no latency is recorded for it). */
    requestTimeoutMs: wholeNumberOption(1, 3_600_000).default(10_000),
    /** Requests waiting for a response, at most; the oldest is forgotten first. */
    maxPendingRequests: wholeNumberOption(1, 10_000_000).default(65_536),
    /** Observe this network namespace (a name under /var/run/netns or a path) instead of the agent's own. */
    netns: z
      .string({ error: 'must be a namespace name or path' })
      .min(1, { error: 'must not be empty' })
      .optional(),
    /** Path of the compiled kernel object (default: the one shipped in this package). */
    objectPath: pathOption().optional(),
  })
  .superRefine((o, ctx) => {
    if (o.port !== undefined && o.ports !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['port'],
        message: 'cannot be set together with ports; list every port in ports',
      });
    }
  });

/** The ports to watch: `ports`, else `[port]`, else DEFAULT_DNS_PORTS. */
export function dnsPorts(options: Pick<DnsOptions, 'port' | 'ports'>): readonly number[] {
  return options.ports ?? (options.port !== undefined ? [options.port] : DEFAULT_DNS_PORTS);
}

/** Validated options, defaults applied. */
export type DnsOptions = z.output<typeof dnsOptionsSchema>;
/** Options as written in the configuration. */
export type DnsOptionsInput = z.input<typeof dnsOptionsSchema>;

/** Invalid `plugins.dns` options; the message names each bad key, its value and what is allowed. */
export class DnsOptionsError extends PluginOptionsError {
  override name = 'DnsOptionsError';
}

/** Validation result: the options, plus keys the plugin does not know (worth a warning, not an error). */
export type ParsedDnsOptions = ParsedPluginOptions<DnsOptions>;

/** Keys, parser and reader of `plugins.dns`. */
export const dnsOptions = pluginOptions('dns', dnsOptionsSchema, DnsOptionsError);

/** Names of the accepted option keys. */
export const DNS_OPTION_KEYS: readonly string[] = dnsOptions.keys;

/** Validates raw `plugins.dns` options. Throws DnsOptionsError listing every problem. */
export const parseDnsOptions: (raw: unknown) => ParsedDnsOptions = dnsOptions.parse;

/** The kernel program's `dns_ports` constant: MAX_DNS_PORTS u16 slots in host byte order, unused ones 0. */
export function dnsPortsConstant(ports: readonly number[]): Buffer {
  if (ports.length > MAX_DNS_PORTS) throw new RangeError(`at most ${MAX_DNS_PORTS} DNS ports, got ${ports.length}`);
  const buf = Buffer.alloc(MAX_DNS_PORTS * 2);
  ports.forEach((p, i) => (endianness() === 'LE' ? buf.writeUInt16LE(p, i * 2) : buf.writeUInt16BE(p, i * 2)));
  return buf;
}
