import { describe, expect, it } from 'vitest';
import { isPluginDefinition, type PluginContext } from '@retina-ts/core';
import { createTestContext } from '@retina-ts/core/testing';
import definition, { TcpRetransPlugin } from '../src/index.js';
import type { TcpRetransOptions } from '../src/options.js';
import { version } from '../package.json';

function context(options: unknown): PluginContext<TcpRetransOptions> {
  return createTestContext({ name: 'tcpretrans', options: options as TcpRetransOptions, logLevel: 'silent', nodeName: 'unit' }).ctx;
}

describe('the tcpretrans definition', () => {
  it('is a Linux plugin named tcpretrans, versioned like its package', () => {
    expect(isPluginDefinition(definition)).toBe(true);
    expect(definition.name).toBe('tcpretrans');
    expect(definition.version).toBe(version);
    expect(definition.platforms).toEqual(['linux']);
    expect(definition.requires?.minKernel).toBe('5.8');
  });

  it('creates a fresh instance each time', () => {
    const a = definition.create();
    expect(a).toBeInstanceOf(TcpRetransPlugin);
    expect(definition.create()).not.toBe(a);
  });
});

describe('TcpRetransPlugin lifecycle without a kernel', () => {
  it('rejects invalid options in init before touching the kernel, naming the key', async () => {
    const plugin = new TcpRetransPlugin();
    await expect(plugin.init(context({ maxEventsPerSecondPerCpu: -5 }))).rejects.toThrow(
      /plugins\.tcpretrans\.maxEventsPerSecondPerCpu/,
    );
    expect(plugin.state).toBe('failed');
    await plugin.stop();
    expect(plugin.state).toBe('stopped');
  });

  it('can be stopped before init, twice', async () => {
    const plugin = new TcpRetransPlugin();
    await plugin.stop();
    await plugin.stop();
    expect(plugin.state).toBe('stopped');
  });

  it('refuses collect() before a successful init', () => {
    expect(() => new TcpRetransPlugin().collect()).toThrow(/needs a successful init/);
  });
});
