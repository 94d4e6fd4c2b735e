import { describe, expect, it } from 'vitest';
import { isPluginDefinition, type PluginContext } from '@retina-ts/core';
import { createTestContext } from '@retina-ts/core/testing';
import definition, { PacketForwardPlugin } from '../src/index.js';
import type { PacketForwardOptions } from '../src/options.js';
import { version } from '../package.json';

function context(options: unknown): PluginContext<PacketForwardOptions> {
  return createTestContext({ name: 'packetforward', options: options as PacketForwardOptions, logLevel: 'silent', nodeName: 'unit' }).ctx;
}

describe('the packetforward definition', () => {
  it('is a Linux plugin named packetforward, versioned like its package', () => {
    expect(isPluginDefinition(definition)).toBe(true);
    expect(definition.name).toBe('packetforward');
    expect(definition.version).toBe(version);
    expect(definition.platforms).toEqual(['linux']);
    expect(definition.requires).toMatchObject({
      capabilities: [['CAP_BPF', 'CAP_SYS_ADMIN'], 'CAP_NET_ADMIN'],
      programTypes: ['sched_cls'],
    });
  });

  it('creates a fresh instance each time', () => {
    const a = definition.create();
    expect(a).toBeInstanceOf(PacketForwardPlugin);
    expect(definition.create()).not.toBe(a);
  });
});

describe('PacketForwardPlugin lifecycle without a kernel', () => {
  it('rejects invalid options in init before touching the kernel, naming the key', async () => {
    const plugin = new PacketForwardPlugin();
    await expect(plugin.init(context({ interfaces: ['bad name'] }))).rejects.toThrow(/plugins\.packetforward\.interfaces\.0/);
    expect(plugin.state).toBe('failed');
    await plugin.stop();
    expect(plugin.state).toBe('stopped');
  });

  it('can be stopped before init, twice', async () => {
    const plugin = new PacketForwardPlugin();
    await plugin.stop();
    await plugin.stop();
    expect(plugin.state).toBe('stopped');
  });

  it('refuses collect() before a successful init', () => {
    expect(() => new PacketForwardPlugin().collect()).toThrow(/needs a successful init/);
  });
});
