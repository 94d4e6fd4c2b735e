/**
 * Plugin discovery: turns a name from `enabledPlugin` into a loaded PluginDefinition.
 *
 * Order, for a name N: the package `@retina-ts/plugin-N`; else any installed package whose package.json declares
 * `"retina": { "plugin": "N" }`; else N itself as a package name (so `@acme/retina-http` works). Nothing is
 * registered by import side effects and there is no hand-kept list of plugins.
 *
 * A plugin installed outside the agent's own tree (a `RETINA_PLUGIN_PATH` folder) may carry its own copy of
 * `@retina-ts/core`; before importing such a plugin, a module resolve hook sends its `@retina-ts/core` imports to the
 * agent's copy, so the process holds one core and `instanceof` checks and registries agree.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { register } from 'node:module';
import { basename, delimiter, dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { closest, distance } from 'fastest-levenshtein';
import { exports as resolveExports } from 'resolve.exports';
import { compareStrings, type PluginDefinition } from '@retina-ts/core';

/** An installed package that declares itself a retina-ts plugin. */
export interface InstalledPlugin {
  /** The plugin name it declares (`retina.plugin`). */
  plugin: string;
  packageName: string;
  version: string;
  dir: string;
}

/** A plugin resolved and imported. */
export interface ResolvedPlugin {
  definition: PluginDefinition;
  packageName: string;
  dir: string;
}

/** The installed name closest to a mistyped one, when it is close enough to be a typo (at most a third differs). */
export function closestPluginName(name: string, installed: readonly string[]): string | undefined {
  if (installed.length === 0) return undefined;
  const best = closest(name, [...installed]);
  return distance(name, best) <= Math.max(1, Math.floor(name.length / 3)) ? best : undefined;
}

/** Raised when a name cannot be turned into a plugin; the message lists what is installed and where it looked. */
export class PluginNotFoundError extends Error {
  override readonly name = 'PluginNotFoundError';
  /** The installed plugin name that is probably meant, if one is close. */
  readonly suggestion: string | undefined;
  constructor(
    readonly plugin: string,
    readonly installed: readonly string[],
    /** The node_modules folders searched. */
    readonly searched: readonly string[] = [],
  ) {
    const suggestion = closestPluginName(plugin, installed);
    super(
      `plugin "${plugin}" is not installed (looked for @retina-ts/plugin-${plugin}, a package declaring ` +
        `"retina": { "plugin": "${plugin}" }, and a package named "${plugin}"` +
        (searched.length ? ` in ${searched.join(', ')}` : '') +
        `); installed plugins: ` +
        (installed.length ? installed.join(', ') : 'none') +
        (suggestion
          ? `. Did you mean "${suggestion}"?`
          : `. Install it next to the agent (npm install @retina-ts/plugin-${plugin}) or in a folder named by RETINA_PLUGIN_PATH`),
    );
    this.suggestion = suggestion;
  }
}

/** Raised when a package was found but does not export a valid plugin definition. */
export class InvalidPluginError extends Error {
  override readonly name = 'InvalidPluginError';
}

interface PackageJson {
  name?: string;
  version?: string;
  main?: string;
  exports?: unknown;
  retina?: { plugin?: unknown };
}

function readPackageJson(dir: string): PackageJson | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson;
  } catch {
    return undefined;
  }
}

/** Every `node_modules` folder from `start` up to the file-system root. */
function nodeModulesChain(start: string): string[] {
  const out: string[] = [];
  let dir = resolvePath(start);
  for (;;) {
    const candidate = join(dir, 'node_modules');
    if (existsSync(candidate)) out.push(candidate);
    const parent = dirname(dir);
    if (parent === dir) return out;
    dir = parent;
  }
}

/**
 * The `node_modules` folder a `RETINA_PLUGIN_PATH` entry stands for: a `node_modules` folder as given, an install
 * folder (one holding `node_modules`, where `npm install --prefix <folder>` puts packages) by its `node_modules`.
 */
export function pluginPathEntry(entry: string): string {
  const dir = resolvePath(entry);
  if (basename(dir) === 'node_modules') return dir;
  const nested = join(dir, 'node_modules');
  return existsSync(nested) ? nested : dir;
}

/** The module folders discovery searches, most specific first, without duplicates. */
export function defaultSearchPaths(cwd = process.cwd()): string[] {
  const extra = (process.env['RETINA_PLUGIN_PATH'] ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map(pluginPathEntry);
  const here = dirname(fileURLToPath(import.meta.url));
  const all = [...extra, ...nodeModulesChain(cwd), ...nodeModulesChain(here)];
  const seen = new Set<string>();
  return all.filter((p) => {
    let key: string;
    try {
      key = realpathSync(p);
    } catch {
      return false;
    }
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Package folders directly inside one node_modules folder (scoped packages included). */
function packageDirs(nodeModules: string): string[] {
  const out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(nodeModules);
  } catch {
    return out;
  }
  for (const name of names) {
    if (name.startsWith('.')) continue;
    const full = join(nodeModules, name);
    if (name.startsWith('@')) {
      try {
        for (const sub of readdirSync(full)) out.push(join(full, sub));
      } catch {
        /* unreadable scope folder: nothing to find there */
      }
    } else {
      out.push(full);
    }
  }
  return out;
}

/** Lists every installed package that declares itself a plugin, first occurrence of each plugin name winning. */
export function listInstalledPlugins(searchPaths = defaultSearchPaths()): InstalledPlugin[] {
  const found = new Map<string, InstalledPlugin>();
  for (const nm of searchPaths) {
    for (const dir of packageDirs(nm)) {
      const pkg = readPackageJson(dir);
      const plugin = pkg?.retina?.plugin;
      if (typeof plugin !== 'string' || !pkg?.name || found.has(plugin)) continue;
      found.set(plugin, { plugin, packageName: pkg.name, version: pkg.version ?? '0.0.0', dir });
    }
  }
  return [...found.values()].sort((a, b) => compareStrings(a.plugin, b.plugin));
}

function findPackageDir(packageName: string, searchPaths: readonly string[]): string | undefined {
  for (const nm of searchPaths) {
    const dir = join(nm, ...packageName.split('/'));
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return undefined;
}

/** The ESM entry file of a package folder, honouring its `exports` map. */
export function packageEntry(dir: string): string {
  const pkg = readPackageJson(dir);
  if (!pkg) throw new InvalidPluginError(`${dir}: no readable package.json`);
  let rel: string | undefined;
  if (pkg.exports !== undefined) {
    try {
      rel = resolveExports(pkg as Parameters<typeof resolveExports>[0], '.', {
        conditions: ['node', 'import'],
      })?.[0];
    } catch (err) {
      throw new InvalidPluginError(
        `${pkg.name ?? dir}: package.json "exports" has no "." entry for import (${String(err)})`,
      );
    }
  }
  rel ??= pkg.main ?? 'index.js';
  return join(dir, rel);
}

/** True for an object shaped like a PluginDefinition (branded or plain, so plugins need not share core's copy). */
export function looksLikePluginDefinition(value: unknown): value is PluginDefinition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v['name'] === 'string' &&
    typeof v['version'] === 'string' &&
    Array.isArray(v['platforms']) &&
    typeof v['create'] === 'function'
  );
}

/** The real folder of the `@retina-ts/core` that a module in `start` would import, if any. */
function coreDirSeenFrom(start: string): string | undefined {
  for (const nm of nodeModulesChain(start)) {
    const dir = join(nm, '@retina-ts', 'core');
    if (existsSync(join(dir, 'package.json'))) return realpathSync(dir);
  }
  return undefined;
}

let coreHookRegistered = false;

/** Makes sure a plugin in `dir` imports the agent's `@retina-ts/core`, registering the resolve hook when needed. */
function shareCoreWith(dir: string): void {
  if (coreHookRegistered) return;
  const here = dirname(fileURLToPath(import.meta.url));
  const own = coreDirSeenFrom(here);
  if (own === undefined || coreDirSeenFrom(dir) === own) return;
  const hooks = new URL('./core-hooks.js', import.meta.url);
  // Run from sources (tests), there is no built hook module next to this one; the built package always has it.
  if (!existsSync(fileURLToPath(hooks))) return;
  register(hooks, { data: { parentURL: import.meta.url } });
  coreHookRegistered = true;
}

async function importDefinition(dir: string, expectedName: string): Promise<ResolvedPlugin> {
  const entry = packageEntry(dir);
  const pkg = readPackageJson(dir);
  shareCoreWith(dir);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(entry).href)) as Record<string, unknown>;
  } catch (err) {
    throw new InvalidPluginError(`${pkg?.name ?? dir}: failed to import ${entry}: ${(err as Error).message}`);
  }
  const candidate = mod['default'] ?? mod['plugin'];
  if (!looksLikePluginDefinition(candidate)) {
    throw new InvalidPluginError(
      `${pkg?.name ?? dir}: the default export is not a plugin definition (expected { name, version, platforms, create })`,
    );
  }
  if (candidate.name !== expectedName && pkg?.name !== expectedName) {
    throw new InvalidPluginError(
      `${pkg?.name ?? dir}: declares plugin "${candidate.name}" but was loaded as "${expectedName}"`,
    );
  }
  return { definition: candidate, packageName: pkg?.name ?? dir, dir };
}

/** Resolves one enabled name to a plugin definition, or throws PluginNotFoundError / InvalidPluginError. */
export async function resolvePlugin(
  name: string,
  searchPaths = defaultSearchPaths(),
): Promise<ResolvedPlugin> {
  const official = findPackageDir(`@retina-ts/plugin-${name}`, searchPaths);
  if (official) return importDefinition(official, name);
  const declared = listInstalledPlugins(searchPaths).find((p) => p.plugin === name);
  if (declared) return importDefinition(declared.dir, name);
  if (/^(@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/.test(name)) {
    const direct = findPackageDir(name, searchPaths);
    if (direct) return importDefinition(direct, name);
  }
  throw new PluginNotFoundError(
    name,
    listInstalledPlugins(searchPaths).map((p) => p.plugin),
    searchPaths,
  );
}
