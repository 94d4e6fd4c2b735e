import { describe, expect, it } from 'vitest';
import { definePlugin, InvalidPluginDefinitionError, isPluginDefinition, type PluginDefinition } from '../src/index.js';

const plugin = { init() {}, start: () => Promise.resolve(), stop() {} };
const valid: PluginDefinition = { name: 'dropreason', version: '0.1.0', platforms: ['linux'], create: () => plugin };

describe('definePlugin', () => {
  it('brands a valid definition so discovery recognises it', () => {
    const def = definePlugin(valid);
    expect(isPluginDefinition(def)).toBe(true);
    expect(isPluginDefinition(valid)).toBe(false);
    expect(isPluginDefinition({ ...def })).toBe(false);
    expect(isPluginDefinition(null)).toBe(false);
    expect(def.name).toBe('dropreason');
    expect(def.create()).toBe(plugin);
    expect(Object.isFrozen(def)).toBe(true);
    expect(Object.keys(def)).toEqual(['name', 'version', 'platforms', 'create']);
  });

  const bad: Array<[string, Partial<PluginDefinition> & Record<string, unknown>, string]> = [
    ['upper-case name', { name: 'DropReason' }, 'definePlugin: name "DropReason" is invalid (use lower case letters, digits and dashes, starting with a letter, e.g. "dropreason")'],
    ['name starting with a digit', { name: '1x' }, 'definePlugin: name "1x" is invalid'],
    ['missing version', { version: undefined }, 'definePlugin: plugin "dropreason": version undefined is not a semantic version (e.g. "1.2.3")'],
    ['bad version', { version: 'v1' }, 'definePlugin: plugin "dropreason": version "v1" is not a semantic version (e.g. "1.2.3")'],
    ['empty platforms', { platforms: [] }, 'definePlugin: plugin "dropreason": platforms must be a non-empty list of linux, windows'],
    ['unknown platform', { platforms: ['darwin' as never] }, 'definePlugin: plugin "dropreason": platform "darwin" is unknown (allowed: linux, windows)'],
    ['no create', { create: undefined }, 'definePlugin: plugin "dropreason": create must be a function returning a plugin instance'],
  ];
  for (const [what, patch, message] of bad) {
    it(`rejects ${what}`, () => {
      const fn = () => definePlugin({ ...valid, ...patch } as PluginDefinition);
      expect(fn).toThrow(InvalidPluginDefinitionError);
      expect(fn).toThrow(message);
    });
  }

  it('accepts prerelease versions and both platforms', () => {
    expect(definePlugin({ ...valid, name: 'acme-http2', version: '1.0.0-rc.1', platforms: ['linux', 'windows'] }).platforms).toEqual([
      'linux',
      'windows',
    ]);
  });
});
