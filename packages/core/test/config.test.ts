import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  effectivePlugins,
  envNamesFor,
  formatDuration,
  loadConfig,
  parseConfig,
  parseDuration,
  selectPlugins,
  toScreamingSnake,
  type ConfigError,
} from '../src/index.js';
import { configError, scratchDir, writeConfig as writeFixture } from './config-fixtures.js';

const dir = scratchDir('retina-core-config');
const writeConfig = (name: string, text: string): string => writeFixture(dir, name, text);


// Retina's standard chart renders this ConfigMap (values from helm-values-standard.yaml).
const STANDARD_CONFIG = `apiServer:
  host: 0.0.0.0
  port: 10093
logLevel: debug
enabledPlugin: ["dropreason","packetforward","linuxutil","dns"]
metricsInterval: 10s
metricsIntervalDuration: 10s
enableTCX: auto
enableTelemetry: false
enablePodLevel: false
enableConntrackMetrics: false
conntrackReportInterval: 30s
remoteContext: false
enableAnnotations: false
bypassLookupIPOfInterest: false
dataAggregationLevel: "low"
telemetryInterval: 15m
dataSamplingRate: 1
packetParserRingBuffer: "disabled"
packetParserRingBufferSize: 8388608
filterMapMaxEntries: 255
`;

describe('loadConfig with Retina files', () => {
  it('reads the standard chart config unchanged', () => {
    const file = writeConfig('standard.yaml', STANDARD_CONFIG);
    const { config, warnings } = loadConfig({ file, env: { NODE_NAME: 'node-a' }, platform: 'linux' });
    expect(warnings).toEqual([]);
    expect(config).toMatchObject({
      apiServer: { host: '0.0.0.0', port: 10093 },
      logLevel: 'debug',
      enabledPlugin: ['dropreason', 'packetforward', 'linuxutil', 'dns'],
      metricsIntervalMs: 10_000,
      enableTCX: 'auto',
      conntrackReportIntervalMs: 30_000,
      dataAggregationLevel: 'low',
      telemetryIntervalMs: 900_000,
      dataSamplingRate: 1,
      packetParserRingBuffer: 'disabled',
      packetParserRingBufferSize: 8_388_608,
      filterMapMaxEntries: 255,
      enableRetinaEndpoint: true,
      controlPlane: 'standard',
      nodeName: 'node-a',
      plugins: {},
      flowBusCapacity: 131_072,
    });
  });

  it('keeps the Hubble chart cilium-style keys as ciliumOptions', () => {
    const file = writeConfig(
      'hubble.yaml',
      `enabledPlugin: [linuxutil, packetforward]
dataAggregationLevel: high
monitorSockPath: /var/run/cilium/monitor1_2.sock
enable-hubble: "true"
cluster-name: default
hubble-listen-address: ":4244"
hubble-event-buffer-capacity: "4095"
`,
    );
    const { config, warnings } = loadConfig({ file, env: {}, platform: 'linux' });
    expect(warnings).toEqual([]);
    expect(config.dataAggregationLevel).toBe('high');
    expect(config.monitorSockPath).toBe('/var/run/cilium/monitor1_2.sock');
    expect(config.ciliumOptions).toEqual({
      'enable-hubble': 'true',
      'cluster-name': 'default',
      'hubble-listen-address': ':4244',
      'hubble-event-buffer-capacity': '4095',
    });
    expect(config.clusterName).toBe('default');
  });

  it('applies defaults with no file', () => {
    const { config, warnings } = loadConfig({ env: {}, platform: 'linux' });
    expect(warnings).toEqual([]);
    expect(config.apiServer).toEqual({ host: '0.0.0.0', port: 10093 });
    expect(config.logLevel).toBe('info');
    expect(config.metricsIntervalMs).toBe(10_000);
    expect(config.enabledPlugin).toBeUndefined();
    expect(effectivePlugins(config, 'linux')).toEqual(['dropreason', 'packetforward', 'linuxutil', 'dns']);
  });

  it('names a missing file', () => {
    const file = join(dir, 'missing.yaml');
    expect(configError(() => loadConfig({ file, env: {} }))).toMatch(
      new RegExp(`^config: cannot read ${file}: ENOENT.* \\(check the --config path and the ConfigMap mount\\)$`),
    );
  });
});

describe('YAML errors', () => {
  it('names file, line and column', () => {
    const file = writeConfig('bad-indent.yaml', 'logLevel: info\nenabledPlugin:\n  - dns\n bad: 1\n');
    expect(configError(() => loadConfig({ file, env: {} }))).toBe(
      `config: ${file}:4:1: All mapping items must start at the same column`,
    );
  });

  it('reports duplicate keys', () => {
    const file = writeConfig('dup.yaml', 'logLevel: info\nlogLevel: debug\n');
    expect(configError(() => loadConfig({ file, env: {} }))).toBe(`config: ${file}:2:1: Map keys must be unique`);
  });

  it('refuses a top level that is not a mapping', () => {
    const file = writeConfig('list.yaml', '- a\n- b\n');
    expect(configError(() => loadConfig({ file, env: {} }))).toBe(
      `config: ${file}: the top level must be a mapping of keys, got ["a","b"]`,
    );
  });
});

describe('parseConfig validation messages', () => {
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['bad duration', { metricsIntervalDuration: 'ten seconds' }, 'config: metricsIntervalDuration: "ten seconds" is not a duration (examples: 10s, 1m30s)'],
    ['number as duration', { conntrackReportInterval: 30 }, 'config: conntrackReportInterval: 30 is not a duration (examples: 10s, 1m30s)'],
    ['negative duration', { telemetryInterval: '-5m' }, 'config: telemetryInterval: "-5m" is negative (a duration such as 10s is expected)'],
    ['bad legacy interval', { metricsInterval: 'often' }, 'config: metricsInterval: "often" is not a number of seconds or a duration (examples: 10, 10s)'],
    ['bad log level', { logLevel: 'loud' }, 'config: logLevel: "loud" is not allowed (allowed: trace, debug, info, warn, error, dpanic, panic, fatal, silent)'],
    ['bad aggregation level', { dataAggregationLevel: 'medium' }, 'config: dataAggregationLevel: "medium" is not allowed (allowed: low, high)'],
    ['bad control plane', { controlPlane: 'cilium' }, 'config: controlPlane: "cilium" is not allowed (allowed: standard, hubble)'],
    ['bad enableTCX', { enableTCX: 'on' }, 'config: enableTCX: "on" is not allowed (allowed: auto, off)'],
    ['boolean enableTCX', { enableTCX: true }, 'config: enableTCX: true is not allowed (allowed: auto, off)'],
    ['ring buffer auto', { packetParserRingBuffer: 'auto' }, 'config: packetParserRingBuffer: "auto" is not supported yet (allowed: enabled, disabled)'],
    ['ring buffer bool', { packetParserRingBuffer: true }, 'config: packetParserRingBuffer: true is not allowed (allowed: enabled, disabled)'],
    ['ring buffer size', { packetParserRingBufferSize: 3000000 }, 'config: packetParserRingBufferSize: 3000000 is not a power of two between 4096 and 1073741824'],
    ['port type', { apiServer: { port: 'http' } }, 'config: apiServer.port: "http" is not an integer'],
    ['port range', { apiServer: { port: 70000 } }, 'config: apiServer.port: 70000 is out of range (allowed: 0 to 65535)'],
    ['apiServer type', { apiServer: 'localhost:10093' }, 'config: apiServer: "localhost:10093" is not a mapping (expected host and port)'],
    ['boolean type', { enablePodLevel: 'yes' }, 'config: enablePodLevel: "yes" is not a boolean (use true or false)'],
    ['sampling rate', { dataSamplingRate: 0 }, 'config: dataSamplingRate: 0 is out of range (allowed: 1 to 4294967295)'],
    ['sampling rate type', { dataSamplingRate: 1.5 }, 'config: dataSamplingRate: 1.5 is not an integer'],
    ['plugin list type', { enabledPlugin: 42 }, 'config: enabledPlugin: 42 is not a list of plugin names (use a YAML list or a comma-separated string)'],
    ['plugin name', { enabledPlugin: ['dns', 'Drop Reason'] }, 'config: enabledPlugin: "Drop Reason" is not a valid plugin name (lower case letters, digits and dashes, or an npm package name)'],
    ['plugins map', { plugins: ['linuxutil'] }, 'config: plugins: ["linuxutil"] is not a mapping of plugin name to options'],
    ['plugin options', { plugins: { linuxutil: 5 } }, 'config: plugins: linuxutil: 5 is not a mapping of options'],
    ['telemetry minimum', { telemetryInterval: '1m' }, 'config: telemetryInterval: "1m" is out of range (allowed: 2m0s to 24h0m0s, or 0 for the default)'],
    ['host type', { apiServer: { host: true } }, 'config: apiServer.host: true is not a string'],
  ];
  for (const [what, input, message] of cases) {
    it(what, () => {
      expect(configError(() => parseConfig(input, { platform: 'linux' }))).toBe(message);
    });
  }

  it('lists every bad key, one per line', () => {
    expect(configError(() => parseConfig({ logLevel: 'x', enableTCX: 'y' }))).toBe(
      'config: logLevel: "x" is not allowed (allowed: trace, debug, info, warn, error, dpanic, panic, fatal, silent)\n' +
        'config: enableTCX: "y" is not allowed (allowed: auto, off)',
    );
  });

  it('exposes the issues as data', () => {
    try {
      parseConfig({ apiServer: { port: -1 } });
      expect.unreachable();
    } catch (err) {
      expect((err as ConfigError).issues).toEqual([{ path: 'apiServer.port', message: '-1 is out of range (allowed: 0 to 65535)' }]);
    }
  });
});

describe('parseConfig values', () => {
  it('warns about unknown keys, listing them', () => {
    const { warnings } = parseConfig({ logLevel: 'info', colour: 'blue', apiServer: { port: 10093, tls: true } }, { platform: 'linux' });
    expect(warnings).toEqual(['config: unknown key "colour" ignored', 'config: unknown key "apiServer.tls" ignored']);
  });

  it('accepts a comma-separated plugin list', () => {
    const { config } = parseConfig({ enabledPlugin: 'dropreason, packetforward,dns,,dns' });
    expect(config.enabledPlugin).toEqual(['dropreason', 'packetforward', 'dns']);
  });

  it('accepts a JSON array string as Helm values write it, and npm package names', () => {
    const { config } = parseConfig({ enabledPlugin_linux: '["linuxutil","dns", "@acme/retina-http"]' });
    expect(config.enabledPlugin_linux).toEqual(['linuxutil', 'dns', '@acme/retina-http']);
  });

  it('prefers metricsIntervalDuration over metricsInterval', () => {
    expect(parseConfig({ metricsInterval: 30, metricsIntervalDuration: '1m30s' }).config.metricsIntervalMs).toBe(90_000);
  });

  it('reads metricsInterval as seconds when it is the only one (with a deprecation warning)', () => {
    const { config, warnings } = parseConfig({ metricsInterval: 30 });
    expect(config.metricsIntervalMs).toBe(30_000);
    expect(warnings).toEqual(['config: metricsInterval is deprecated; use metricsIntervalDuration (e.g. 10s)']);
    expect(parseConfig({ metricsInterval: '45s' }).config.metricsIntervalMs).toBe(45_000);
    expect(parseConfig({ metricsInterval: '15' }).config.metricsIntervalMs).toBe(15_000);
  });

  it('falls back to 10s for zero intervals', () => {
    expect(parseConfig({ metricsIntervalDuration: '0s', metricsInterval: 0 }).config.metricsIntervalMs).toBe(10_000);
  });

  it('normalises like Retina: conntrack interval below 1s, filter map 0, case of enums', () => {
    const { config, warnings } = parseConfig({
      conntrackReportInterval: '500ms',
      filterMapMaxEntries: 0,
      dataAggregationLevel: 'HIGH',
      logLevel: 'Warn',
      packetParserRingBuffer: ' Enabled ',
    });
    expect(config.conntrackReportIntervalMs).toBe(30_000);
    expect(config.filterMapMaxEntries).toBe(255);
    expect(config.dataAggregationLevel).toBe('high');
    expect(config.logLevel).toBe('warn');
    expect(config.packetParserRingBuffer).toBe('enabled');
    expect(warnings).toEqual(['config: conntrackReportInterval: 500ms is below 1s; using 30s']);
  });

  it('keeps plugin options, treating an empty entry as no options', () => {
    const { config } = parseConfig({ plugins: { linuxutil: { maxRemoteAddresses: 50 }, dns: null } });
    expect(config.plugins).toEqual({ linuxutil: { maxRemoteAddresses: 50 }, dns: {} });
  });
});

describe('environment overrides', () => {
  it('overrides top-level keys with RETINA_<SCREAMING_SNAKE>', () => {
    const { config } = parseConfig(
      { logLevel: 'info', apiServer: { host: '127.0.0.1', port: 10093 }, enabledPlugin: ['dns'] },
      {
        env: {
          RETINA_LOG_LEVEL: 'debug',
          RETINA_ENABLED_PLUGIN: 'linuxutil,dns',
          RETINA_API_SERVER_PORT: '10094',
          RETINA_ENABLE_POD_LEVEL: 'true',
          RETINA_BYPASS_LOOKUP_IP_OF_INTEREST: '1',
          RETINA_METRICS_INTERVAL_DURATION: '30s',
          RETINA_PLUGINS: '{"linuxutil":{"maxRemoteAddresses":10}}',
        },
      },
    );
    expect(config.logLevel).toBe('debug');
    expect(config.enabledPlugin).toEqual(['linuxutil', 'dns']);
    expect(config.apiServer).toEqual({ host: '127.0.0.1', port: 10094 });
    expect(config.enablePodLevel).toBe(true);
    expect(config.bypassLookupIPOfInterest).toBe(true);
    expect(config.metricsIntervalMs).toBe(30_000);
    expect(config.plugins).toEqual({ linuxutil: { maxRemoteAddresses: 10 } });
  });

  it('also accepts viper-style upper-cased names', () => {
    const { config } = parseConfig({}, { env: { RETINA_LOGLEVEL: 'error', RETINA_ENABLEDPLUGIN: 'dns' } });
    expect(config.logLevel).toBe('error');
    expect(config.enabledPlugin).toEqual(['dns']);
  });

  it('takes NODE_NAME, CLUSTER_NAME and NODE_IP, with RETINA_* winning', () => {
    const env = { NODE_NAME: 'node-b', CLUSTER_NAME: 'prod', NODE_IP: '10.0.0.4' };
    expect(parseConfig({ nodeName: 'from-file' }, { env }).config).toMatchObject({
      nodeName: 'node-b',
      clusterName: 'prod',
      nodeIp: '10.0.0.4',
    });
    expect(parseConfig({}, { env: { ...env, RETINA_NODE_NAME: 'node-c' } }).config.nodeName).toBe('node-c');
  });

  it('names the variable a bad value came from', () => {
    expect(configError(() => parseConfig({}, { env: { RETINA_API_SERVER_PORT: 'ninety' } }))).toBe(
      'config: apiServer.port (from RETINA_API_SERVER_PORT): "ninety" is not an integer',
    );
    expect(configError(() => parseConfig({}, { env: { RETINA_PLUGINS: '{oops' } }))).toMatch(
      /^config: plugins \(from RETINA_PLUGINS\): "\{oops" is not valid JSON \(/,
    );
  });

  it('ignores empty variables', () => {
    expect(parseConfig({ logLevel: 'warn' }, { env: { RETINA_LOG_LEVEL: '' } }).config.logLevel).toBe('warn');
  });

  it('maps key names', () => {
    expect(toScreamingSnake('bypassLookupIPOfInterest')).toBe('BYPASS_LOOKUP_IP_OF_INTEREST');
    expect(toScreamingSnake('enableTCX')).toBe('ENABLE_TCX');
    expect(toScreamingSnake('enabledPlugin_linux')).toBe('ENABLED_PLUGIN_LINUX');
    expect(envNamesFor('apiServer.port')).toEqual(['RETINA_API_SERVER_PORT', 'RETINA_APISERVER_PORT']);
  });
});

describe('effectivePlugins', () => {
  const base = parseConfig({}).config;
  it('uses enabledPlugin first', () => {
    expect(effectivePlugins({ ...base, enabledPlugin: ['dns'], enabledPlugin_linux: ['x'] }, 'linux')).toEqual(['dns']);
  });
  it('respects an explicitly empty enabledPlugin', () => {
    expect(effectivePlugins({ ...base, enabledPlugin: [] }, 'linux')).toEqual([]);
  });
  it('then the OS list', () => {
    const c = { ...base, enabledPlugin_linux: ['dropreason'], enabledPlugin_win: ['hnsstats'] };
    expect(effectivePlugins(c, 'linux')).toEqual(['dropreason']);
    expect(effectivePlugins(c, 'win32')).toEqual(['hnsstats']);
  });
  it('then the standalone default', () => {
    expect(effectivePlugins(base, 'linux')).toEqual(['dropreason', 'packetforward', 'linuxutil', 'dns']);
    expect(effectivePlugins(base, 'win32')).toEqual(['hnsstats']);
    expect(effectivePlugins(base, 'darwin')).toEqual([]);
  });
  it('says where the list came from', () => {
    expect(selectPlugins(base, 'linux')).toEqual({ names: ['dropreason', 'packetforward', 'linuxutil', 'dns'], source: 'default', fromDefaults: true });
    expect(selectPlugins({ ...base, enabledPlugin_linux: ['dns'] }, 'linux')).toEqual({
      names: ['dns'],
      source: 'enabledPlugin_linux',
      fromDefaults: false,
    });
    expect(selectPlugins({ ...base, enabledPlugin: ['dns'] }, 'win32').source).toBe('enabledPlugin');
  });
  it('warns when only the other OS list is set', () => {
    expect(parseConfig({ enabledPlugin_win: ['hnsstats'] }, { platform: 'linux' }).warnings).toEqual([
      'config: enabledPlugin_win is set but this node runs linux; using the default plugins [dropreason, packetforward, linuxutil, dns]',
    ]);
  });
});

describe('durations', () => {
  it('parses Go durations', () => {
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('2h45m')).toBe(9_900_000);
    expect(parseDuration('100us')).toBe(0.1);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration('-1s')).toBe(-1000);
  });
  it('rejects what Go rejects', () => {
    for (const bad of ['', '10', 's', '10 s', '1d', 'ten seconds', '1m30', '--1s']) expect(parseDuration(bad), bad).toBeUndefined();
  });
  it('formats like Go', () => {
    expect(formatDuration(120_000)).toBe('2m0s');
    expect(formatDuration(90_000)).toBe('1m30s');
    expect(formatDuration(500)).toBe('500ms');
    expect(formatDuration(3_600_000)).toBe('1h0m0s');
  });
});

describe("the control plane of Retina's hubble ConfigMap", () => {
  it('is hubble when enable-hubble is "true" and controlPlane is not given', () => {
    expect(parseConfig({ 'enable-hubble': 'true' }).config.controlPlane).toBe('hubble');
    expect(parseConfig({ 'enable-hubble': true }).config.controlPlane).toBe('hubble');
    expect(parseConfig({ 'enable-hubble': 'true', controlPlane: null }).config.controlPlane).toBe('hubble');
  });
  it('follows controlPlane when given, and stays standard without enable-hubble', () => {
    expect(parseConfig({ 'enable-hubble': 'true', controlPlane: 'standard' }).config.controlPlane).toBe('standard');
    expect(parseConfig({ 'enable-hubble': 'false' }).config.controlPlane).toBe('standard');
    expect(parseConfig({}).config.controlPlane).toBe('standard');
  });
});
