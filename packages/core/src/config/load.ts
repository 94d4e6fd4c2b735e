/**
 * Loads the agent configuration: Retina's config.yaml (unchanged), then environment overrides, then cross-field
 * rules. Bad values throw ConfigError naming the key, the value and what is allowed; unknown keys are warnings.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { Platform } from '../plugin/contract.js';
import { formatDuration } from './duration.js';
import {
  CILIUM_OPTION_RE,
  DEFAULTS,
  KNOWN_KEYS,
  isPlainObject,
  rawConfigSchema,
  showValue,
  type AgentConfig,
} from './schema.js';
import { unsupportedKeyWarnings } from './unsupported.js';

/** One problem in the configuration. */
export interface ConfigIssue {
  /** Key path, e.g. `apiServer.port`. */
  path: string;
  /** What is wrong, naming the value and what is allowed. */
  message: string;
  /** The environment variable the value came from, when it did. */
  env?: string;
}

/** A configuration that cannot be used. The message lists every issue, one per line. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    message: string,
    readonly issues: readonly ConfigIssue[] = [],
  ) {
    super(message);
  }
}

/** Options shared by `loadConfig` and `parseConfig`. */
export interface ParseConfigOptions {
  /** Environment for overrides (default: none for parseConfig, process.env for loadConfig). */
  env?: NodeJS.ProcessEnv;
  /** OS the agent runs on (default process.platform); used for plugin-list warnings. */
  platform?: NodeJS.Platform;
  /** Where the object came from, for messages (e.g. the file path). */
  source?: string;
}

/** Options of `loadConfig`. */
export interface LoadConfigOptions extends ParseConfigOptions {
  /** Path of config.yaml; without it only defaults and the environment apply. */
  file?: string;
  /**
   * A mounted ConfigMap folder, one file per key (Retina's Hubble chart, `--config-dir`): `config.yaml` in it is
   * read as the file, every other file is one key whose value is the file's text. Not together with `file`.
   */
  dir?: string;
}

/** Largest config.yaml or per-key file read (a ConfigMap holds at most 1 MiB). */
export const MAX_CONFIG_BYTES = 1 << 20;
/** Most per-key files read from a config folder. */
export const MAX_CONFIG_DIR_ENTRIES = 1000;

/** The loaded configuration and the warnings to log. */
export interface LoadedConfig {
  config: AgentConfig;
  warnings: string[];
}

/** Maps a Node.js platform to a plugin platform (undefined for OSes no plugin targets). */
export function toPluginPlatform(platform: NodeJS.Platform | Platform): Platform | undefined {
  if (platform === 'linux') return 'linux';
  if (platform === 'win32' || platform === 'windows') return 'windows';
  return undefined;
}

const DEFAULT_PLUGINS: Readonly<Record<Platform, readonly string[]>> = {
  linux: ['dropreason', 'packetforward', 'linuxutil', 'dns'],
  windows: ['hnsstats'],
};

/** Which plugins run on this OS, and which key chose them. */
export interface PluginSelection {
  names: string[];
  /** The key the list came from, or `default` when no key was set. */
  source: 'enabledPlugin' | 'enabledPlugin_linux' | 'enabledPlugin_win' | 'default';
  /** True when no key was set and the standalone default applies (a missing default plugin is not an error). */
  fromDefaults: boolean;
}

/** Like `effectivePlugins`, but also says where the list came from. */
export function selectPlugins(config: AgentConfig, platform: NodeJS.Platform | Platform = process.platform): PluginSelection {
  if (config.enabledPlugin) return { names: [...config.enabledPlugin], source: 'enabledPlugin', fromDefaults: false };
  const os = toPluginPlatform(platform);
  if (os === 'linux' && config.enabledPlugin_linux) {
    return { names: [...config.enabledPlugin_linux], source: 'enabledPlugin_linux', fromDefaults: false };
  }
  if (os === 'windows' && config.enabledPlugin_win) {
    return { names: [...config.enabledPlugin_win], source: 'enabledPlugin_win', fromDefaults: false };
  }
  return { names: os ? [...DEFAULT_PLUGINS[os]] : [], source: 'default', fromDefaults: true };
}

/**
 * The plugins to run on this OS: `enabledPlugin` when set, else `enabledPlugin_linux` / `enabledPlugin_win`,
 * else the standalone default (`linuxutil` on Linux, `hnsstats` on Windows).
 */
export function effectivePlugins(config: AgentConfig, platform: NodeJS.Platform | Platform = process.platform): string[] {
  return selectPlugins(config, platform).names;
}

/** `logLevel` → `LOG_LEVEL`, `bypassLookupIPOfInterest` → `BYPASS_LOOKUP_IP_OF_INTEREST`. */
export function toScreamingSnake(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toUpperCase();
}

/** Environment variables that may override a key: `RETINA_<SCREAMING_SNAKE>` first, then viper's `RETINA_<UPPER>`. */
export function envNamesFor(path: string): string[] {
  const parts = path.split('.');
  const snake = `RETINA_${parts.map(toScreamingSnake).join('_')}`;
  const upper = `RETINA_${parts.map((p) => p.toUpperCase()).join('_')}`;
  return snake === upper ? [snake] : [snake, upper];
}

const OBJECT_KEYS = new Set(['plugins', 'exporters']);

/** Reads overrides from the environment into a copy of `raw`; remembers which env var set which key. */
function applyEnv(
  raw: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  fromEnv: Map<string, string>,
  issues: ConfigIssue[],
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  const apiServer: Record<string, unknown> = isPlainObject(raw['apiServer']) ? { ...raw['apiServer'] } : {};
  let apiServerTouched = false;

  const take = (path: string): [string, string] | undefined => {
    for (const name of envNamesFor(path)) {
      const v = env[name];
      if (v !== undefined && v !== '') return [name, v];
    }
    return undefined;
  };

  // Kubernetes injects these through the downward API; RETINA_* still wins below.
  const direct: Array<[string, string]> = [
    ['NODE_NAME', 'nodeName'],
    ['CLUSTER_NAME', 'clusterName'],
    ['NODE_IP', 'nodeIp'],
  ];
  for (const [name, key] of direct) {
    const v = env[name];
    if (v !== undefined && v !== '') {
      out[key] = v;
      fromEnv.set(key, name);
    }
  }

  for (const key of KNOWN_KEYS) {
    if (key === 'apiServer') {
      for (const sub of ['host', 'port']) {
        const hit = take(`apiServer.${sub}`);
        if (hit) {
          apiServer[sub] = hit[1];
          apiServerTouched = true;
          fromEnv.set(`apiServer.${sub}`, hit[0]);
        }
      }
      continue;
    }
    const hit = take(key);
    if (!hit) continue;
    const [name, value] = hit;
    fromEnv.set(key, name);
    if (OBJECT_KEYS.has(key)) {
      try {
        out[key] = JSON.parse(value) as unknown;
      } catch (err) {
        issues.push({ path: key, env: name, message: `${showValue(value)} is not valid JSON (${(err as Error).message})` });
      }
    } else {
      out[key] = value;
    }
  }
  if (apiServerTouched) out['apiServer'] = apiServer;
  return out;
}

function formatIssue(issue: ConfigIssue): string {
  const where = issue.env ? `${issue.path} (from ${issue.env})` : issue.path;
  return `config: ${where}: ${issue.message}`;
}

function throwIssues(issues: ConfigIssue[]): never {
  throw new ConfigError(issues.map(formatIssue).join('\n'), issues);
}

/**
 * Validates a config object (as parsed from YAML), applies environment overrides and cross-field rules, and returns
 * the configuration with warnings. Throws ConfigError listing every bad value.
 */
export function parseConfig(object: unknown, options: ParseConfigOptions = {}): LoadedConfig {
  const env = options.env ?? {};
  const platform = options.platform ?? process.platform;
  const warnings: string[] = [];
  const issues: ConfigIssue[] = [];
  const where = options.source ? `${options.source}: ` : '';

  if (object !== undefined && object !== null && !isPlainObject(object)) {
    throw new ConfigError(`config: ${where}the top level must be a mapping of keys, got ${showValue(object)}`);
  }
  const fileObj: Record<string, unknown> = isPlainObject(object) ? object : {};

  const ciliumOptions: Record<string, string> = {};
  for (const key of Object.keys(fileObj)) {
    if (KNOWN_KEYS.includes(key)) continue;
    if (CILIUM_OPTION_RE.test(key)) {
      const v = fileObj[key];
      // An empty value (`key:` with nothing after it) is the empty string, as Cilium reads it.
      ciliumOptions[key] = typeof v === 'string' ? v : v === null || v === undefined ? '' : showValue(v);
      continue;
    }
    warnings.push(`config: ${where}unknown key "${key}" ignored`);
  }
  if (isPlainObject(fileObj['apiServer'])) {
    for (const key of Object.keys(fileObj['apiServer'])) {
      if (key !== 'host' && key !== 'port') warnings.push(`config: ${where}unknown key "apiServer.${key}" ignored`);
    }
  }

  const fromEnv = new Map<string, string>();
  const merged = applyEnv(fileObj, env, fromEnv, issues);

  const parsed = rawConfigSchema.safeParse(merged);
  if (!parsed.success) {
    for (const zi of parsed.error.issues) {
      const path = zi.path.map(String).join('.');
      const envName = fromEnv.get(path);
      issues.push({ path, message: zi.message, ...(envName ? { env: envName } : {}) });
    }
  }
  if (issues.length) throwIssues(issues);
  const raw = parsed.data!;

  // Interval rules as Retina applies them: the duration key wins, the legacy seconds key is the fallback.
  let metricsIntervalMs: number = DEFAULTS.metricsIntervalMs;
  if (raw.metricsIntervalDuration !== undefined && raw.metricsIntervalDuration > 0) {
    metricsIntervalMs = raw.metricsIntervalDuration;
  } else if (raw.metricsInterval !== undefined && raw.metricsInterval > 0) {
    metricsIntervalMs = raw.metricsInterval;
    if (raw.metricsIntervalDuration === undefined) {
      warnings.push('config: metricsInterval is deprecated; use metricsIntervalDuration (e.g. 10s)');
    }
  }

  // The schema keeps it within RANGES.telemetryIntervalMs; 0 means the default.
  const telemetryIntervalMs: number = raw.telemetryInterval || DEFAULTS.telemetryIntervalMs;

  let conntrackReportIntervalMs: number = DEFAULTS.conntrackReportIntervalMs;
  if (raw.conntrackReportInterval !== undefined) {
    // The kernel side counts whole seconds, so Retina replaces anything shorter with the default.
    if (raw.conntrackReportInterval >= 1000) conntrackReportIntervalMs = raw.conntrackReportInterval;
    else if (raw.conntrackReportInterval > 0) {
      warnings.push(
        `config: conntrackReportInterval: ${formatDuration(raw.conntrackReportInterval)} is below 1s; using ${formatDuration(DEFAULTS.conntrackReportIntervalMs)}`,
      );
    }
  }

  const filterMapMaxEntries = raw.filterMapMaxEntries === 0 ? DEFAULTS.filterMapMaxEntries : raw.filterMapMaxEntries;

  const mine = toPluginPlatform(platform);
  if (mine && raw.enabledPlugin === undefined) {
    const own = mine === 'linux' ? raw.enabledPlugin_linux : raw.enabledPlugin_win;
    const otherKey = mine === 'linux' ? 'enabledPlugin_win' : 'enabledPlugin_linux';
    if (own === undefined && raw[otherKey] !== undefined) {
      warnings.push(
        `config: ${otherKey} is set but this node runs ${mine}; using the default plugins [${DEFAULT_PLUGINS[mine].join(', ')}]`,
      );
    }
  }

  warnings.push(
    ...unsupportedKeyWarnings(
      {
        enableTelemetry: raw.enableTelemetry,
        ciliumOptions,
        pluginLists: [raw.enabledPlugin, raw.enabledPlugin_linux, raw.enabledPlugin_win],
      },
      where,
    ),
  );

  const config: AgentConfig = {
    apiServer: { host: raw.apiServer.host, port: raw.apiServer.port },
    logLevel: raw.logLevel,
    ...(raw.enabledPlugin ? { enabledPlugin: raw.enabledPlugin } : {}),
    ...(raw.enabledPlugin_linux ? { enabledPlugin_linux: raw.enabledPlugin_linux } : {}),
    ...(raw.enabledPlugin_win ? { enabledPlugin_win: raw.enabledPlugin_win } : {}),
    metricsIntervalMs,
    enableTelemetry: raw.enableTelemetry,
    telemetryIntervalMs,
    enableRetinaEndpoint: raw.enableRetinaEndpoint,
    enablePodLevel: raw.enablePodLevel,
    enableConntrackMetrics: raw.enableConntrackMetrics,
    conntrackReportIntervalMs,
    remoteContext: raw.remoteContext,
    enableAnnotations: raw.enableAnnotations,
    bypassLookupIPOfInterest: raw.bypassLookupIPOfInterest,
    dataAggregationLevel: raw.dataAggregationLevel,
    dataSamplingRate: raw.dataSamplingRate,
    monitorSockPath: raw.monitorSockPath,
    packetParserRingBuffer: raw.packetParserRingBuffer,
    packetParserRingBufferSize: raw.packetParserRingBufferSize,
    enableTCX: raw.enableTCX,
    filterMapMaxEntries,
    // Retina picks its Hubble control plane by command; its hubble chart's ConfigMap says `enable-hubble: "true"`,
    // so that key chooses Hubble here unless controlPlane is given.
    controlPlane:
      merged['controlPlane'] == null && ciliumOptions['enable-hubble']?.trim().toLowerCase() === 'true'
        ? 'hubble'
        : raw.controlPlane,
    clusterName: raw.clusterName ?? ciliumOptions['cluster-name'] ?? '',
    nodeName: raw.nodeName ?? hostname(),
    ...(raw.nodeIp ? { nodeIp: raw.nodeIp } : {}),
    plugins: raw.plugins,
    flowBusCapacity: raw.flowBusCapacity,
    cpuBudget: raw.cpuBudget,
    ciliumOptions,
    exporters: raw.exporters,
    ui: raw.ui,
    enableDebugEndpoints: raw.enableDebugEndpoints,
  };
  return { config, warnings };
}

/** Parses YAML text; syntax errors throw ConfigError naming the file, line and column. */
export function parseConfigYaml(text: string, file = 'config.yaml'): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    const issues = doc.errors.map((e) => {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      return { path: file, message: `${file}:${line}:${col}: ${e.message}` };
    });
    throw new ConfigError(issues.map((i) => `config: ${i.message}`).join('\n'), issues);
  }
  return doc.toJS() as unknown;
}

function readBounded(file: string, what: string): string {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_CONFIG_BYTES) {
      throw new ConfigError(`config: ${file} is ${size} bytes, more than the ${MAX_CONFIG_BYTES} a ConfigMap can hold`);
    }
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`config: cannot read ${file}: ${(err as Error).message} (check ${what} and the ConfigMap mount)`);
  }
  return text;
}

/**
 * Reads a ConfigMap folder: `config.yaml` as the config file, each other regular file as one key (Kubernetes'
 * `..data` links and other dot files are skipped). An empty file is an empty value, so the key's default applies.
 * A key set both ways keeps the config.yaml value, with a warning.
 */
function readConfigDir(dir: string): { object: Record<string, unknown>; warnings: string[] } {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw new ConfigError(
      `config: cannot read the folder ${dir}: ${(err as Error).message} (check --config-dir and the ConfigMap mount)`,
    );
  }
  const keyFiles = names.filter((n) => !n.startsWith('.') && n !== 'config.yaml');
  if (keyFiles.length > MAX_CONFIG_DIR_ENTRIES) {
    throw new ConfigError(`config: ${dir} holds ${keyFiles.length} files, more than ${MAX_CONFIG_DIR_ENTRIES}`);
  }
  const object: Record<string, unknown> = {};
  const warnings: string[] = [];
  if (names.includes('config.yaml')) {
    const file = join(dir, 'config.yaml');
    const parsed = parseConfigYaml(readBounded(file, '--config-dir'), file);
    if (parsed !== null && parsed !== undefined && !isPlainObject(parsed)) {
      throw new ConfigError(`config: ${file}: the top level must be a mapping of keys, got ${showValue(parsed)}`);
    }
    Object.assign(object, parsed ?? {});
  }
  for (const name of keyFiles) {
    const file = join(dir, name);
    let isFile: boolean;
    try {
      isFile = statSync(file).isFile();
    } catch {
      isFile = false; // a dangling link of a ConfigMap update in progress
    }
    if (!isFile) continue;
    if (Object.hasOwn(object, name)) {
      warnings.push(`config: ${dir}: "${name}" is set in config.yaml and as a file; using config.yaml`);
      continue;
    }
    const text = readBounded(file, '--config-dir').replace(/\r?\n$/, '');
    // Structured keys are YAML in their file; every other value is the file's text, as Cilium reads it.
    object[name] = STRUCTURED_KEYS.has(name) ? parseConfigYaml(text, file) : text.trim() === '' ? null : text;
  }
  return { object, warnings };
}

const STRUCTURED_KEYS = new Set(['apiServer', 'plugins', 'exporters', 'ui', 'enabledPlugin', 'enabledPlugin_linux', 'enabledPlugin_win']);

/**
 * Reads config.yaml (`file`) or a ConfigMap folder (`dir`) when given, applies env overrides (default process.env)
 * and validates everything.
 */
export function loadConfig(options: LoadConfigOptions = {}): LoadedConfig {
  if (options.file && options.dir) throw new ConfigError('config: give either a config file or a config folder, not both');
  let object: unknown = {};
  const warnings: string[] = [];
  if (options.file) object = parseConfigYaml(readBounded(options.file, 'the --config path'), options.file);
  else if (options.dir) {
    const read = readConfigDir(options.dir);
    object = read.object;
    warnings.push(...read.warnings);
  }
  const source = options.file ?? options.dir;
  const loaded = parseConfig(object, {
    env: options.env ?? process.env,
    platform: options.platform ?? process.platform,
    ...(source ? { source } : {}),
  });
  return { config: loaded.config, warnings: [...warnings, ...loaded.warnings] };
}
