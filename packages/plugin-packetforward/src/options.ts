/**
 * The plugin's own options (`plugins.packetforward` in the agent config), validated with messages that name the
 * offending key and value.
 */
import { interfaceNameOption, parsePluginOptions, PluginOptionsError, type PluginOptionProblem } from '@retina-ts/core';
import { z } from 'zod';

/** Linux interface names: 1 to 15 bytes, no slash, colon or white space. */
const interfaceName = interfaceNameOption();

/** Schema of `plugins.packetforward`. */
export const packetForwardOptionsSchema = z
  .object({
    /** Interfaces to count on; default: the interface(s) of the node's default route(s). */
    interfaces: z
      .array(interfaceName)
      .min(1, 'list at least one interface, or leave the key out')
      // Duplicates would attach the same program twice and count every packet twice.
      .superRefine((names, ctx) => {
        const twice = names.find((name, i) => names.indexOf(name) !== i);
        if (twice !== undefined) {
          ctx.addIssue({ code: 'custom', message: `"${twice}" is listed twice; list each interface once` });
        }
      })
      .optional(),
  })
  .strict();

/** Validated options of the packetforward plugin. */
export type PacketForwardOptions = z.infer<typeof packetForwardOptionsSchema>;

/** Thrown for invalid `plugins.packetforward` options. */
export class PacketForwardOptionsError extends PluginOptionsError {
  override name = 'PacketForwardOptionsError';

  // The rules above are whole phrases, so they follow the key after a colon.
  protected override describe(p: PluginOptionProblem): string {
    return `${p.key}: ${p.rule} ${p.allowed ? `(allowed: ${p.allowed.join(', ')})` : `(got ${p.shown})`}`;
  }
}

/** Validates raw options; the error lists every problem as `plugins.packetforward.<path>: <what is wrong>`. */
export function parsePacketForwardOptions(raw: unknown): PacketForwardOptions {
  // The schema is strict, so an unknown key is an error rather than an entry of unknownKeys.
  return parsePluginOptions('packetforward', packetForwardOptionsSchema, raw, PacketForwardOptionsError).options;
}
