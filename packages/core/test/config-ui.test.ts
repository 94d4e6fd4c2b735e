import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig } from '../src/index.js';
import { configError, configMapFolder, scratchDir } from './config-fixtures.js';

const root = scratchDir('retina-core-config-ui');
const message = configError;

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
    const dir = configMapFolder(root, 'cm', { ui: 'enabled: true\nport: 10095\n' });
    expect(loadConfig({ dir, env: {} }).config.ui).toEqual({ enabled: true, port: 10095 });
  });
});
