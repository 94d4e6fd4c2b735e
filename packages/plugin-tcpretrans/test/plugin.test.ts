import { describe, expect, it } from 'vitest';
import { isPluginDefinition, type PluginContext } from '@retina-ts/core';
import { createTestContext } from '@retina-ts/core/testing';
import { expectInitFailure, expectPluginDefinition, expectStopBeforeInit } from '@retina-ts/testkit';
import definition, { TcpRetransPlugin } from '../src/index.js';
import type { TcpRetransOptions } from '../src/options.js';
import { version } from '../package.json';

function context(options: unknown): PluginContext<TcpRetransOptions> {
  return createTestContext({ name: 'tcpretrans', options: options as TcpRetransOptions, logLevel: 'silent', nodeName: 'unit' }).ctx;
}

describe('the tcpretrans definition', () => {
  it('is a Linux plugin named tcpretrans, versioned like its package, creating a fresh instance each time', () => {
    expect(isPluginDefinition(definition)).toBe(true);
    expectPluginDefinition(definition, {
      name: 'tcpretrans',
      platforms: ['linux'],
      packageJson: { version },
      instanceOf: TcpRetransPlugin,
    });
    expect(definition.requires?.minKernel).toBe('5.8');
  });
});

describe('TcpRetransPlugin lifecycle without a kernel', () => {
  it('rejects invalid options in init before touching the kernel, naming the key', async () => {
    await expectInitFailure(
      new TcpRetransPlugin(),
      context({ maxEventsPerSecondPerCpu: -5 }),
      /plugins\.tcpretrans\.maxEventsPerSecondPerCpu/,
    );
  });

  it('can be stopped before init, twice', async () => {
    await expectStopBeforeInit(new TcpRetransPlugin());
  });

  it('refuses collect() before a successful init', () => {
    expect(() => new TcpRetransPlugin().collect()).toThrow(/needs a successful init/);
  });
});
