/**
 * Plugin discovery: turns a name from `enabledPlugin` into a loaded PluginDefinition.
 *
 * Order, for a name N: the package `@retina-ts/plugin-N`; else any installed package whose package.json declares
 * `"retina": { "plugin": "N" }`; else N itself as a package name (so `@acme/retina-http` works). Nothing is
 * registered by import side effects and there is no hand-kept list of plugins.
 */
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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

/** Raised when a name cannot be turned into a plugin; the message lists what is installed. */
export class PluginNotFoundError extends Error {
  override readonly name = 'PluginNotFoundError';
  constructor(
    readonly plugin: string,
    readonly installed: readonly string[],
  ) {
    super(
      `plugin "${plugin}" is not installed (looked for @retina-ts/plugin-${plugin}, a package declaring ` +
        `"retina": { "plugin": "${plugin}" }, and a package named "${plugin}"); installed plugins: ` +
        (installed.length ? installed.join(', ') : 'none') +
        `. Install it with: npm install @retina-ts/plugin-${plugin}`,
    );
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

/** The module folders discovery searches, most specific first, without duplicates. */
export function defaultSearchPaths(cwd = process.cwd()): string[] {
  const extra = (process.env['RETINA_PLUGIN_PATH'] ?? '').split(delimiter).filter(Boolean);
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
      rel = resolveExports(pkg as Parameters<typeof resolveExports>[0], '.', { conditions: ['node', 'import'] })?.[0];
    } catch (err) {
      throw new InvalidPluginError(`${pkg.name ?? dir}: package.json "exports" has no "." entry for import (${String(err)})`);
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

async function importDefinition(dir: string, expectedName: string): Promise<ResolvedPlugin> {
  const entry = packageEntry(dir);
  const pkg = readPackageJson(dir);
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
export async function resolvePlugin(name: string, searchPaths = defaultSearchPaths()): Promise<ResolvedPlugin> {
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
  );
}
