import { describe, expect, it } from 'vitest';
import { isPluginDefinition, type PluginContext } from '@retina-ts/core';
import { createTestContext } from '@retina-ts/core/testing';
import { expectInitFailure, expectPluginDefinition, expectStopBeforeInit } from '@retina-ts/testkit';
import definition, { PacketForwardPlugin } from '../src/index.js';
import type { PacketForwardOptions } from '../src/options.js';
import { version } from '../package.json';

function context(options: unknown): PluginContext<PacketForwardOptions> {
  return createTestContext({ name: 'packetforward', options: options as PacketForwardOptions, logLevel: 'silent', nodeName: 'unit' }).ctx;
}

describe('the packetforward definition', () => {
  it('is a Linux plugin named packetforward, versioned like its package, creating a fresh instance each time', () => {
    expect(isPluginDefinition(definition)).toBe(true);
    expectPluginDefinition(definition, {
      name: 'packetforward',
      platforms: ['linux'],
      packageJson: { version },
      instanceOf: PacketForwardPlugin,
    });
    expect(definition.requires).toMatchObject({
      capabilities: [['CAP_BPF', 'CAP_SYS_ADMIN'], 'CAP_NET_ADMIN'],
      programTypes: ['sched_cls'],
    });
  });
});

describe('PacketForwardPlugin lifecycle without a kernel', () => {
  it('rejects invalid options in init before touching the kernel, naming the key', async () => {
    await expectInitFailure(new PacketForwardPlugin(), context({ interfaces: ['bad name'] }), /plugins\.packetforward\.interfaces\.0/);
  });

  it('can be stopped before init, twice', async () => {
    await expectStopBeforeInit(new PacketForwardPlugin());
  });

  it('refuses collect() before a successful init', () => {
    expect(() => new PacketForwardPlugin().collect()).toThrow(/needs a successful init/);
  });
});
