/**
 * The plugin's own options (`plugins.packetforward` in the agent config), validated with messages that name the
 * offending key and value.
 */
import { z } from 'zod';

/** Linux interface names: 1 to 15 bytes, no slash, colon or white space. */
const interfaceName = z
  .string()
  .min(1, 'an interface name cannot be empty')
  .max(15, 'interface names have at most 15 characters')
  .regex(/^[^\s/:]+$/, 'interface names contain no white space, "/" or ":"');

/** Schema of `plugins.packetforward`. */
export const packetForwardOptionsSchema = z
  .object({
    /** Interfaces to count on; default: the interface(s) of the node's default route(s). */
    interfaces: z.array(interfaceName).min(1, 'list at least one interface, or leave the key out').optional(),
  })
  .strict();

/** Validated options of the packetforward plugin. */
export type PacketForwardOptions = z.infer<typeof packetForwardOptionsSchema>;

/** Thrown for invalid `plugins.packetforward` options. */
export class PacketForwardOptionsError extends Error {
  override name = 'PacketForwardOptionsError';
}

/** Validates raw options; the error lists every problem as `plugins.packetforward.<path>: <what is wrong>`. */
export function parsePacketForwardOptions(raw: unknown): PacketForwardOptions {
  const result = packetForwardOptionsSchema.safeParse(raw ?? {});
  if (result.success) {
    // Duplicates would attach the same program twice and count every packet twice.
    const seen = new Set<string>();
    for (const name of result.data.interfaces ?? []) {
      if (seen.has(name)) {
        throw new PacketForwardOptionsError(`plugins.packetforward.interfaces: "${name}" is listed twice; list each interface once`);
      }
      seen.add(name);
    }
    return result.data;
  }
  const problems = result.error.issues.map((issue) => {
    const path = ['plugins', 'packetforward', ...issue.path.map(String)].join('.');
    const value = issue.path.reduce<unknown>(
      (v, key) => (v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[key] : undefined),
      raw,
    );
    const shown =
      issue.code === 'unrecognized_keys'
        ? ` (allowed: ${Object.keys(packetForwardOptionsSchema.shape).join(', ')})`
        : ` (got ${JSON.stringify(value)})`;
    return `${path}: ${issue.message}${shown}`;
  });
  throw new PacketForwardOptionsError(`invalid packetforward options: ${problems.join('; ')}`);
}
