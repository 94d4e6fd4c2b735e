// Checks every plugin package's tests make of its definition and of the lifecycle rules the plugin base class
// promises. Typed by shape, so the kit does not depend on @retina-ts/core.
import { expect } from 'vitest';

/** What the checks read of a plugin definition (core's PluginDefinition has it). */
export interface PluginDefinitionLike {
  readonly name: string;
  readonly version: string;
  readonly platforms: readonly string[];
  create(): unknown;
}

/** What the checks read of a plugin instance (core's PluginBase has it). */
export interface PluginLifecycleLike {
  readonly state: string;
  init(ctx: never): Promise<void>;
  stop(): Promise<void>;
}

/** What a definition must say, from its package.json and the plugin's class. */
export interface ExpectedDefinition {
  name: string;
  platforms: readonly string[];
  /** The package.json of the plugin package: `version` and, where it is set, `retina.plugin` must match. */
  packageJson: { version: string; retina?: { plugin?: string } };
  /** The class `create()` instantiates. */
  instanceOf: abstract new (...args: never[]) => unknown;
}

/**
 * Checks a definition's name, version, platforms and `retina.plugin` against `expected`, and that `create()` makes
 * a fresh instance of the plugin's class on every call.
 */
export function expectPluginDefinition(definition: PluginDefinitionLike, expected: ExpectedDefinition): void {
  expect(definition.name).toBe(expected.name);
  expect(definition.version).toBe(expected.packageJson.version);
  expect(definition.platforms).toEqual(expected.platforms);
  if (expected.packageJson.retina) expect(expected.packageJson.retina.plugin).toBe(definition.name);
  const a = definition.create();
  expect(a).toBeInstanceOf(expected.instanceOf);
  expect(definition.create()).not.toBe(a);
}

/** Checks that `init(ctx)` rejects with `error`, leaves the plugin `failed`, and that `stop()` then stops it. */
export async function expectInitFailure<C>(
  plugin: PluginLifecycleLike & { init(ctx: C): Promise<void> },
  ctx: C,
  error: RegExp | string | (abstract new (...args: never[]) => Error),
): Promise<void> {
  await expect(plugin.init(ctx)).rejects.toThrow(error);
  expect(plugin.state).toBe('failed');
  await plugin.stop();
  expect(plugin.state).toBe('stopped');
}

/** Checks that a plugin never initialised can be stopped, twice. */
export async function expectStopBeforeInit(plugin: PluginLifecycleLike): Promise<void> {
  await plugin.stop();
  await plugin.stop();
  expect(plugin.state).toBe('stopped');
}
