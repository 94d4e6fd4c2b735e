import { describe, expect, it } from 'vitest';
import { expectInitFailure, expectPluginDefinition, expectStopBeforeInit } from '../src/index.js';

/** A plugin with the base class's lifecycle states, whose init fails for `{ bad: true }`. */
class Toy {
  state = 'created';
  init(ctx: { bad: boolean }): Promise<void> {
    this.state = ctx.bad ? 'failed' : 'initialized';
    return ctx.bad ? Promise.reject(new Error('plugins.toy.bad is not allowed')) : Promise.resolve();
  }
  stop(): Promise<void> {
    this.state = 'stopped';
    return Promise.resolve();
  }
}

const definition = { name: 'toy', version: '1.2.3', platforms: ['linux'], create: () => new Toy() };
const expected = {
  name: 'toy',
  platforms: ['linux'],
  packageJson: { version: '1.2.3', retina: { plugin: 'toy' } },
  instanceOf: Toy,
};

describe('expectPluginDefinition', () => {
  it('accepts a definition that matches its package', () => {
    expectPluginDefinition(definition, expected);
  });

  it('rejects a wrong name, version, platform list, retina.plugin or instance', () => {
    expect(() => expectPluginDefinition({ ...definition, name: 'other' }, expected)).toThrow();
    expect(() => expectPluginDefinition({ ...definition, version: '1.2.4' }, expected)).toThrow();
    expect(() => expectPluginDefinition({ ...definition, platforms: ['windows'] }, expected)).toThrow();
    const renamed = { ...expected, packageJson: { version: '1.2.3', retina: { plugin: 'other' } } };
    expect(() => expectPluginDefinition(definition, renamed)).toThrow();
    expect(() => expectPluginDefinition({ ...definition, create: () => ({}) }, expected)).toThrow();
  });

  it('rejects a create() that hands out the same instance twice', () => {
    const one = new Toy();
    expect(() => expectPluginDefinition({ ...definition, create: () => one }, expected)).toThrow();
  });
});

describe('lifecycle checks', () => {
  it('expectInitFailure passes for a failing init and fails for a succeeding one', async () => {
    await expectInitFailure(new Toy(), { bad: true }, /plugins\.toy\.bad/);
    await expect(expectInitFailure(new Toy(), { bad: false }, /bad/)).rejects.toThrow();
    await expect(expectInitFailure(new Toy(), { bad: true }, /other/)).rejects.toThrow();
  });

  it('expectStopBeforeInit passes when stop() leaves the plugin stopped', async () => {
    await expectStopBeforeInit(new Toy());
    const stuck = Object.assign(new Toy(), { stop: () => Promise.resolve() });
    await expect(expectStopBeforeInit(stuck)).rejects.toThrow();
  });
});
