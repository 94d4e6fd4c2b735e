import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../src/index.js';

const root = mkdtempSync(join(tmpdir(), 'retina-core-config-ui-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('the ui block', () => {
  it('is off on port 10094 by default, and when empty', () => {
    expect(parseConfig({}).config.ui).toEqual({ enabled: false, port: 10094 });
    expect(parseConfig({ ui: null }).config.ui).toEqual({ enabled: false, port: 10094 });
  });

  it('takes enabled, port and host', () => {
    expect(parseConfig({ ui: { enabled: 'true', port: '0', host: '127.0.0.1' } }).config.ui).toEqual({
      enabled: true,
      port: 0,
      host: '127.0.0.1',
    });
  });

  it('names the offending key and value', () => {
    expect(message(() => parseConfig({ ui: { enabled: 'sometimes' } }))).toMatch(/ui\.enabled: "sometimes" is not a boolean/);
    expect(message(() => parseConfig({ ui: { port: 70000 } }))).toMatch(/ui\.port: 70000 is out of range/);
    expect(message(() => parseConfig({ ui: { prot: 1 } }))).toMatch(/unknown key ui\.prot/);
    expect(message(() => parseConfig({ ui: 'yes' }))).toMatch(/ui.*"yes" is not a mapping/);
  });

  it('reads a ConfigMap folder key `ui` as YAML', () => {
    const dir = join(root, 'cm');
    mkdirSync(dir);
    writeFileSync(join(dir, 'ui'), 'enabled: true\nport: 10095\n');
    expect(loadConfig({ dir, env: {} }).config.ui).toEqual({ enabled: true, port: 10095 });
  });
});
