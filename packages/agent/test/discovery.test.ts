import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  InvalidPluginError,
  listInstalledPlugins,
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
