import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseConfig, parseConfigYaml } from '../src/index.js';
import { configError, configMapFolder, scratchDir } from './config-fixtures.js';

const root = scratchDir('retina-core-config-empty');


const defaults = parseConfig({}, { platform: 'linux' }).config;

describe('empty values take the default, as in Retina', () => {
  it('reads `key:` with nothing after it as the default of every kind of key', () => {
    const object = parseConfigYaml(
      [
        'apiServer:',
        '  host:',
        '  port:',
        'logLevel:',
        'enableTCX: ',
        'enableConntrackMetrics: ',
        'enablePodLevel:',
        'packetParserRingBuffer:',
        'packetParserRingBufferSize:',
        'metricsIntervalDuration:',
        'metricsInterval:',
        'conntrackReportInterval:',
        'telemetryInterval:',
        'dataSamplingRate:',
        'filterMapMaxEntries:',
        'dataAggregationLevel:',
        'monitorSockPath:',
        'plugins:',
        'hubble-listen-address:',
        '',
      ].join('\n'),
    );
    const { config, warnings } = parseConfig(object, { platform: 'linux' });
    expect(warnings).toEqual([]);
    expect(config).toEqual({ ...defaults, ciliumOptions: { 'hubble-listen-address': '' } });
    expect(config.enableTCX).toBe('auto');
    expect(config.enableConntrackMetrics).toBe(false);
    expect(config.packetParserRingBuffer).toBe('disabled');
  });

  it('treats blank strings like empty values', () => {
    const { config } = parseConfig({ enableTCX: '', enablePodLevel: '  ', metricsIntervalDuration: '' });
    expect(config.enableTCX).toBe('auto');
    expect(config.enablePodLevel).toBe(false);
    expect(config.metricsIntervalMs).toBe(10_000);
  });

  it('reads an empty plugin list as the empty list', () => {
    const { config } = parseConfig({ enabledPlugin: null, enabledPlugin_linux: ['dns'] }, { platform: 'linux' });
    expect(config.enabledPlugin).toEqual([]);
  });

  it('still reports a typo next to empty values', () => {
    const { warnings } = parseConfig({ enableTCX: null, enabelPodLevel: null });
    expect(warnings).toEqual(['config: unknown key "enabelPodLevel" ignored']);
  });

  it('ignores empty environment variables and takes set ones', () => {
    const { config } = parseConfig({ enableTCX: null }, { env: { RETINA_ENABLE_TCX: '', RETINA_LOG_LEVEL: 'warn' } });
    expect(config.enableTCX).toBe('auto');
    expect(config.logLevel).toBe('warn');
  });
});

describe('ranges of durations and numbers', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['interval too long', { metricsIntervalDuration: '100000h' }, 'config: metricsIntervalDuration: "100000h" is out of range (allowed: 1s to 24h0m0s, or 0 for the default)'],
    ['interval too short', { metricsIntervalDuration: '1ns' }, 'config: metricsIntervalDuration: "1ns" is out of range (allowed: 1s to 24h0m0s, or 0 for the default)'],
    ['legacy interval overflows', { metricsInterval: 1e308 }, 'config: metricsInterval: 1e+308 is out of range (allowed: 1s to 24h0m0s, or 0 for the default)'],
    ['legacy interval as text', { metricsInterval: '90000' }, 'config: metricsInterval: "90000" is out of range (allowed: 1s to 24h0m0s, or 0 for the default)'],
    ['legacy interval too short', { metricsInterval: 0.0001 }, 'config: metricsInterval: 0.0001 is out of range (allowed: 1s to 24h0m0s, or 0 for the default)'],
    ['huge duration digits', { metricsIntervalDuration: `${'9'.repeat(400)}h` }, `config: metricsIntervalDuration: "${'9'.repeat(400)}h" is out of range (allowed: 1s to 24h0m0s, or 0 for the default)`],
    ['telemetry too long', { telemetryInterval: '1000h' }, 'config: telemetryInterval: "1000h" is out of range (allowed: 2m0s to 24h0m0s, or 0 for the default)'],
    ['conntrack too long', { conntrackReportInterval: '25h' }, 'config: conntrackReportInterval: "25h" is out of range (allowed: up to 24h0m0s, or 0 for the default)'],
    ['filter map too big', { filterMapMaxEntries: 4294967295 }, 'config: filterMapMaxEntries: 4294967295 is out of range (allowed: 0 to 1048576)'],
    ['bus too big', { flowBusCapacity: 1 << 30 }, 'config: flowBusCapacity: 1073741824 is out of range (allowed: 1 to 16777216)'],
  ];
  for (const [what, input, message] of cases) {
    it(what, () => {
      expect(configError(() => parseConfig(input, { platform: 'linux' }))).toBe(message);
    });
  }

  it('names the variable an out-of-range value came from', () => {
    expect(configError(() => parseConfig({}, { env: { RETINA_METRICS_INTERVAL_DURATION: '1ms' } }))).toBe(
      'config: metricsIntervalDuration (from RETINA_METRICS_INTERVAL_DURATION): "1ms" is out of range (allowed: 1s to 24h0m0s, or 0 for the default)',
    );
  });

  it('accepts the ends of each range', () => {
    const { config } = parseConfig({
      metricsIntervalDuration: '24h',
      telemetryInterval: '2m',
      conntrackReportInterval: '24h',
      filterMapMaxEntries: 1 << 20,
    });
    expect(config.metricsIntervalMs).toBe(86_400_000);
    expect(config.telemetryIntervalMs).toBe(120_000);
    expect(config.conntrackReportIntervalMs).toBe(86_400_000);
    expect(config.filterMapMaxEntries).toBe(1 << 20);
    expect(parseConfig({ metricsInterval: 1 }).config.metricsIntervalMs).toBe(1000);
  });
});

describe('a config folder, one file per key (--config-dir)', () => {
  const folder = (name: string, files: Record<string, string>): string => configMapFolder(root, name, files);

  it('reads config.yaml and each key file, skipping the ConfigMap links', () => {
    const dir = folder('hubble', {
      'config.yaml': 'logLevel: debug\nenableConntrackMetrics: \nenabledPlugin: ["dns"]\n',
      'enable-hubble': 'true',
      'enable-hubble-open-metrics': 'false',
      'hubble-listen-address': ':4244\n',
      'hubble-metrics': 'flow:sourceContext=pod\ndns:query\n',
      'cluster-name': 'default',
      enableTCX: '',
    });
    // What a ConfigMap volume looks like: timestamped data folder, ..data link, key links into it.
    mkdirSync(join(dir, '..2024_01_01_00_00_00.000000000'));
    symlinkSync('..2024_01_01_00_00_00.000000000', join(dir, '..data'));
    symlinkSync('missing-target', join(dir, 'dangling'));
    const { config, warnings } = loadConfig({ dir, env: {}, platform: 'linux' });
    expect(warnings).toEqual([]);
    expect(config.logLevel).toBe('debug');
    expect(config.enableConntrackMetrics).toBe(false);
    expect(config.enableTCX).toBe('auto');
    expect(config.enabledPlugin).toEqual(['dns']);
    expect(config.clusterName).toBe('default');
    expect(config.ciliumOptions).toEqual({
      'cluster-name': 'default',
      'enable-hubble': 'true',
      'enable-hubble-open-metrics': 'false',
      'hubble-listen-address': ':4244',
      'hubble-metrics': 'flow:sourceContext=pod\ndns:query',
    });
  });

  it('names a bad value of a key file and warns about unknown files', () => {
    const dir = folder('bad', { dataSamplingRate: 'often', colour: 'blue' });
    expect(configError(() => loadConfig({ dir, env: {} }))).toBe('config: dataSamplingRate: "often" is not an integer');
    const ok = folder('unknown', { colour: 'blue' });
    expect(loadConfig({ dir: ok, env: {} }).warnings).toEqual([`config: ${ok}: unknown key "colour" ignored`]);
  });

  it('keeps config.yaml when a key is set both ways, with a warning', () => {
    const dir = folder('both', { 'config.yaml': 'logLevel: warn\n', logLevel: 'debug' });
    const { config, warnings } = loadConfig({ dir, env: {} });
    expect(config.logLevel).toBe('warn');
    expect(warnings).toEqual([`config: ${dir}: "logLevel" is set in config.yaml and as a file; using config.yaml`]);
  });

  it('names a folder it cannot read', () => {
    expect(configError(() => loadConfig({ dir: join(root, 'nope'), env: {} }))).toMatch(
      /^config: cannot read the folder .*nope: ENOENT.*\(check --config-dir and the ConfigMap mount\)$/,
    );
  });

  it('refuses a file larger than a ConfigMap can hold', () => {
    const dir = folder('big', { 'hubble-metrics': 'x'.repeat((1 << 20) + 1) });
    expect(configError(() => loadConfig({ dir, env: {} }))).toMatch(/is 1048577 bytes, more than the 1048576/);
  });
});
