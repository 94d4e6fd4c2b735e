/**
 * `definePlugin`: validates a plugin definition and brands it so discovery can recognise it.
 */
import type { Platform, PluginDefinition } from './contract.js';

/** Brand shared across copies of this package (Symbol.for), so a plugin built against another copy still matches. */
export const PLUGIN_DEFINITION_BRAND: unique symbol = Symbol.for('@retina-ts/core.PluginDefinition');

/** A plugin name: lower case letter first, then lower case letters, digits and dashes. */
export const PLUGIN_NAME_RE = /^[a-z][a-z0-9-]*$/;

const PLATFORMS: readonly Platform[] = ['linux', 'windows'];
const SEMVER_RE = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/;

/** Thrown by `definePlugin` when a definition is malformed. */
export class InvalidPluginDefinitionError extends Error {
  override name = 'InvalidPluginDefinitionError';
}

/** Validates `def` (name, version, platforms, create) and returns it frozen and branded. */
export function definePlugin<TOptions = Record<string, unknown>>(def: PluginDefinition<TOptions>): PluginDefinition<TOptions> {
  const label = typeof def?.name === 'string' ? `plugin "${def.name}"` : 'plugin';
  if (typeof def !== 'object' || def === null) {
    throw new InvalidPluginDefinitionError('definePlugin: expected an object { name, version, platforms, create }');
  }
  if (typeof def.name !== 'string' || !PLUGIN_NAME_RE.test(def.name)) {
    throw new InvalidPluginDefinitionError(
      `definePlugin: name ${JSON.stringify(def.name)} is invalid (use lower case letters, digits and dashes, starting with a letter, e.g. "dropreason")`,
    );
  }
  if (typeof def.version !== 'string' || !SEMVER_RE.test(def.version)) {
    throw new InvalidPluginDefinitionError(
      `definePlugin: ${label}: version ${JSON.stringify(def.version)} is not a semantic version (e.g. "1.2.3")`,
    );
  }
  if (!Array.isArray(def.platforms) || def.platforms.length === 0) {
    throw new InvalidPluginDefinitionError(
      `definePlugin: ${label}: platforms must be a non-empty list of ${PLATFORMS.join(', ')}`,
    );
  }
  for (const p of def.platforms) {
    if (!PLATFORMS.includes(p)) {
      throw new InvalidPluginDefinitionError(
        `definePlugin: ${label}: platform ${JSON.stringify(p)} is unknown (allowed: ${PLATFORMS.join(', ')})`,
      );
    }
  }
  if (typeof def.create !== 'function') {
    throw new InvalidPluginDefinitionError(`definePlugin: ${label}: create must be a function returning a plugin instance`);
  }
  const branded = Object.defineProperty({ ...def, platforms: Object.freeze([...def.platforms]) }, PLUGIN_DEFINITION_BRAND, {
    value: true,
    enumerable: false,
  });
  return Object.freeze(branded);
}

/** True when `value` was made by `definePlugin` (from any copy of @retina-ts/core). */
export function isPluginDefinition(value: unknown): value is PluginDefinition {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<PropertyKey, unknown>)[PLUGIN_DEFINITION_BRAND] === true
  );
}
