import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  closestPluginName,
  defaultSearchPaths,
  InvalidPluginError,
  listInstalledPlugins,
  pluginPathEntry,
  PluginNotFoundError,
  resolvePlugin,
} from '../src/discovery.js';
import { COUNTER_PLUGIN_JS, tempDir, writePackage } from './helpers.js';

const plain = (name: string) =>
  `export default { name: '${name}', version: '1.0.0', platforms: ['linux'], create() { return { init() {}, async start() {}, stop() {} }; } };`;

function fixture(): string[] {
  const root = tempDir('retina-discovery');
  writePackage(root, '@retina-ts/plugin-official', { retina: { plugin: 'official' } }, plain('official'));
  writePackage(root, 'acme-retina-counter', { retina: { plugin: 'acme-counter' } }, COUNTER_PLUGIN_JS);
  writePackage(root, '@acme/by-package-name', {}, plain('@acme/by-package-name'));
  writePackage(root, 'not-a-plugin', {}, 'export default 42;');
  writePackage(root, 'broken-plugin', { retina: { plugin: 'broken' } }, 'export default { name: "broken" };');
  return [join(root, 'node_modules')];
}

describe('plugin discovery', () => {
  const paths = fixture();

  it('lists installed packages that declare a plugin name', () => {
    expect(listInstalledPlugins(paths).map((p) => [p.plugin, p.packageName])).toEqual([
      ['acme-counter', 'acme-retina-counter'],
      ['broken', 'broken-plugin'],
      ['official', '@retina-ts/plugin-official'],
    ]);
  });

  it('resolves @retina-ts/plugin-<name> first', async () => {
    const r = await resolvePlugin('official', paths);
    expect(r.packageName).toBe('@retina-ts/plugin-official');
    expect(r.definition.name).toBe('official');
  });

  it('resolves a third-party package by the plugin name it declares', async () => {
    const r = await resolvePlugin('acme-counter', paths);
    expect(r.packageName).toBe('acme-retina-counter');
    expect(r.definition.version).toBe('1.2.3');
  });

  it('resolves a full package name', async () => {
    const r = await resolvePlugin('@acme/by-package-name', paths);
    expect(r.definition.name).toBe('@acme/by-package-name');
  });

  it('names the installed plugins when a name is unknown', async () => {
    const err = await resolvePlugin('nope', paths).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PluginNotFoundError);
    expect((err as Error).message).toContain('plugin "nope" is not installed');
    expect((err as Error).message).toContain('installed plugins: acme-counter, broken, official');
  });

  it('rejects a package whose default export is not a plugin definition', async () => {
    await expect(resolvePlugin('broken', paths)).rejects.toBeInstanceOf(InvalidPluginError);
    await expect(resolvePlugin('not-a-plugin', paths)).rejects.toThrow(/not a plugin definition/);
  });
});

describe('RETINA_PLUGIN_PATH and typo suggestions', () => {
  it('takes an install folder by its node_modules, and a node_modules folder as given', () => {
    const root = tempDir('retina-plugin-path');
    writePackage(root, 'acme-retina-counter', { retina: { plugin: 'acme-counter' } }, COUNTER_PLUGIN_JS);
    expect(pluginPathEntry(root)).toBe(join(root, 'node_modules'));
    expect(pluginPathEntry(join(root, 'node_modules'))).toBe(join(root, 'node_modules'));
    const before = process.env['RETINA_PLUGIN_PATH'];
    process.env['RETINA_PLUGIN_PATH'] = root;
    try {
      expect(defaultSearchPaths(root)[0]).toBe(join(root, 'node_modules'));
    } finally {
      if (before === undefined) delete process.env['RETINA_PLUGIN_PATH'];
      else process.env['RETINA_PLUGIN_PATH'] = before;
    }
  });

  it('suggests the closest installed name and lists the folders searched', async () => {
    const paths = fixture();
    const err = (await resolvePlugin('acme-countr', paths).catch((e: unknown) => e)) as PluginNotFoundError;
    expect(err).toBeInstanceOf(PluginNotFoundError);
    expect(err.suggestion).toBe('acme-counter');
    expect(err.message).toContain('Did you mean "acme-counter"?');
    expect(err.message).toContain(paths[0]);
    expect(closestPluginName('dns', ['linuxutil', 'packetforward'])).toBeUndefined();
    expect(closestPluginName('packetfoward', ['linuxutil', 'packetforward'])).toBe('packetforward');
  });
});
