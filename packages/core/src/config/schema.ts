/**
 * The agent configuration: Retina's `config.yaml` keys, unchanged, plus retina-ts's own keys. Every field is
 * validated with a message that names the bad value and what is allowed; the loader (load.ts) adds the key path.
 */
import { z } from 'zod';
import { DEFAULT_FLOW_BUS_CAPACITY } from '../flow/bus.js';
import { LOG_LEVELS, type LogLevel } from '../log/logger.js';
import { formatDuration, parseDuration } from './duration.js';
import { parseExporters, type ExportersConfig } from './exporters.js';
import { parseUi, UI_DEFAULTS, type UiConfig } from './ui.js';

export type { LogLevel } from '../log/logger.js';

/** The validated configuration every component receives. Durations are in milliseconds (`...Ms`). */
export interface AgentConfig {
  /** Listener for /metrics and health (`apiServer.host`, `apiServer.port`). */
  apiServer: { host: string; port: number };
  logLevel: LogLevel;
  /** Plugins to run (`enabledPlugin`); undefined when the key is absent. See `effectivePlugins`. */
  enabledPlugin?: string[];
  /** Helm-style Linux list, used when `enabledPlugin` is absent. */
  enabledPlugin_linux?: string[];
  /** Helm-style Windows list, used when `enabledPlugin` is absent. */
  enabledPlugin_win?: string[];
  /** Polling interval of map/file based plugins (`metricsIntervalDuration`, else `metricsInterval` seconds; 10 s). */
  metricsIntervalMs: number;
  enableTelemetry: boolean;
  /** `telemetryInterval` (default 15 m, at least 2 m). */
  telemetryIntervalMs: number;
  enableRetinaEndpoint: boolean;
  /** Advanced (pod-level) metrics. */
  enablePodLevel: boolean;
  enableConntrackMetrics: boolean;
  /** `conntrackReportInterval` (default 30 s; below 1 s means the default). */
  conntrackReportIntervalMs: number;
  /** Remote context (source_ and destination_ labels) instead of local. */
  remoteContext: boolean;
  /** Observe only pods/namespaces annotated `retina.sh: observe`. */
  enableAnnotations: boolean;
  /** Emit events for every packet, not only IPs of interest. */
  bypassLookupIPOfInterest: boolean;
  /** `low`: per-packet events; `high`: conntrack-based reports. */
  dataAggregationLevel: 'low' | 'high';
  /** Packet parser sampling: 1 = every packet. */
  dataSamplingRate: number;
  /** Unix socket of an existing Cilium monitor (ciliumeventobserver); empty when unused. */
  monitorSockPath: string;
  /** Ring buffer instead of the perf array for the packet parser. */
  packetParserRingBuffer: 'enabled' | 'disabled';
  /** Ring buffer size in bytes (a power of two). */
  packetParserRingBufferSize: number;
  /** `auto`: attach TC programs with tcx where the kernel has it; `off`: always clsact. */
  enableTCX: 'auto' | 'off';
  /** Size of the IPs-of-interest filter map. */
  filterMapMaxEntries: number;
  /** retina-ts: which control plane serves flows (`standard` or `hubble`). */
  controlPlane: 'standard' | 'hubble';
  /** retina-ts: cluster name (CLUSTER_NAME, or the Hubble `cluster-name` key); empty when unknown. */
  clusterName: string;
  /** retina-ts: this node's name (NODE_NAME, else the host name). */
  nodeName: string;
  /** This node's IP (NODE_IP), when known. */
  nodeIp?: string;
  /** retina-ts: per-plugin options, `plugins.<name>`. */
  plugins: Record<string, Record<string, unknown>>;
  /** retina-ts: FlowBus capacity (flows buffered between plugins and consumers). */
  flowBusCapacity: number;
  /**
   * retina-ts: CPU the agent may use, in cores (`cpuBudget`); 0 when off. Under it the agent samples kernel events
   * (see `CpuBudgetController`) instead of letting traffic decide its CPU.
   */
  cpuBudget: number;
  /** Cilium/Hubble option keys of Retina's Hubble ConfigMap (`enable-hubble`, `hubble-*`, ...), as strings. */
  ciliumOptions: Record<string, string>;
  /** retina-ts: push exporters (`exporters.otlp`); empty when none is configured. */
  exporters: ExportersConfig;
  /** retina-ts: the web UI of @retina-ts/ui, served on its own port (`ui.enabled`, `ui.port`, `ui.host`). */
  ui: UiConfig;
  /** retina-ts: serve /debug/heap, /debug/profile and /debug/vars on the agent's listener (default false). */
  enableDebugEndpoints: boolean;
}

/** Result of one field parser: the value, or a message naming the bad value and what is allowed. */
export type FieldResult<T> = { ok: true; value: T } | { ok: false; message: string };

const ok = <T>(value: T): FieldResult<T> => ({ ok: true, value });
const bad = (message: string): FieldResult<never> => ({ ok: false, message });

/** Renders a config value for messages: strings quoted, everything else as JSON. */
export function showValue(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/** Go's strconv.ParseBool spellings, so env vars written for Retina keep working. */
const TRUE_WORDS = new Set(['true', 't', '1']);
const FALSE_WORDS = new Set(['false', 'f', '0']);

/** Field parsers: pure functions from a raw YAML/env value to a typed value. */
export const fields = {
  bool(v: unknown): FieldResult<boolean> {
    if (typeof v === 'boolean') return ok(v);
    if (typeof v === 'string') {
      const w = v.trim().toLowerCase();
      if (TRUE_WORDS.has(w)) return ok(true);
      if (FALSE_WORDS.has(w)) return ok(false);
    }
    return bad(`${showValue(v)} is not a boolean (use true or false)`);
  },

  string(v: unknown): FieldResult<string> {
    if (typeof v === 'string') return ok(v);
    if (typeof v === 'number') return ok(String(v));
    return bad(`${showValue(v)} is not a string`);
  },

  int(min: number, max = Number.MAX_SAFE_INTEGER) {
    return (v: unknown): FieldResult<number> => {
      const n = typeof v === 'number' ? v : typeof v === 'string' && /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : NaN;
      if (!Number.isInteger(n)) return bad(`${showValue(v)} is not an integer`);
      if (n < min || n > max) {
        return bad(
          max === Number.MAX_SAFE_INTEGER
            ? `${n} is too small (minimum ${min})`
            : `${n} is out of range (allowed: ${min} to ${max})`,
        );
      }
      return ok(n);
    };
  },

  oneOf<const T extends string>(allowed: readonly T[]) {
    return (v: unknown): FieldResult<T> => {
      if (typeof v === 'string') {
        const w = v.trim().toLowerCase();
        const hit = allowed.find((a) => a === w);
        if (hit) return ok(hit);
      }
      return bad(`${showValue(v)} is not allowed (allowed: ${allowed.join(', ')})`);
    };
  },

  /** A Go duration string (`10s`, `1m30s`) in ms, non-negative. */
  duration(v: unknown): FieldResult<number> {
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) return bad(`${showValue(v)} is not a duration (examples: 10s, 1m30s)`);
    if (ms < 0) return bad(`${showValue(v)} is negative (a duration such as 10s is expected)`);
    return ok(ms);
  },

  /**
   * A duration within `range` (ms). Zero means "use the default", as in Retina; anything else outside the range is
   * refused, so no timer ever gets a value Node cannot schedule (below 1 ms it spins, above 2^31-1 ms it fires at once).
   */
  durationIn(range: Range) {
    return (v: unknown): FieldResult<number> => {
      const r = fields.duration(v);
      if (!r.ok || r.value === 0) return r;
      return inRange(r.value, range, showValue(v));
    };
  },

  /** Legacy `metricsInterval`: a number of seconds, or a duration string as the Helm chart renders it. */
  secondsOrDuration(range: Range) {
    return (v: unknown): FieldResult<number> => {
      let ms: number | undefined;
      if (typeof v === 'number' && v >= 0) ms = v * 1000;
      else if (typeof v === 'string') {
        ms = /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) * 1000 : parseDuration(v);
      }
      if (ms === undefined || Number.isNaN(ms) || ms < 0) {
        return bad(`${showValue(v)} is not a number of seconds or a duration (examples: 10, 10s)`);
      }
      if (ms === 0) return ok(0);
      return inRange(ms, range, showValue(v));
    };
  },

  /** A plugin list: YAML list, comma-separated string, or a JSON array string (as Helm values write it). */
  pluginList(v: unknown): FieldResult<string[]> {
    let items: unknown[];
    if (Array.isArray(v)) items = v;
    else if (typeof v === 'string') {
      const t = v.trim();
      if (t.startsWith('[')) {
        try {
          const parsed: unknown = JSON.parse(t);
          if (!Array.isArray(parsed)) return bad(`${showValue(v)} is not a list of plugin names`);
          items = parsed;
        } catch {
          return bad(`${showValue(v)} is not a valid JSON list (use a YAML list or a comma-separated string)`);
        }
      } else items = t === '' ? [] : t.split(',');
    } else {
      return bad(`${showValue(v)} is not a list of plugin names (use a YAML list or a comma-separated string)`);
    }
    const out: string[] = [];
    for (const item of items) {
      if (typeof item !== 'string') return bad(`${showValue(item)} is not a plugin name (expected a string)`);
      const name = item.trim();
      if (name === '') continue;
      if (!PLUGIN_REF_RE.test(name)) {
        return bad(
          `${showValue(name)} is not a valid plugin name (lower case letters, digits and dashes, or an npm package name)`,
        );
      }
      if (!out.includes(name)) out.push(name);
    }
    return ok(out);
  },

  /** `packetParserRingBufferSize`: a power of two between one page (4096) and 1 GiB. */
  ringBufferSize(v: unknown): FieldResult<number> {
    const r = fields.int(0)(v);
    if (!r.ok) return r;
    const n = r.value;
    if (n < 4096 || n > 1 << 30 || (n & (n - 1)) !== 0) {
      return bad(`${n} is not a power of two between 4096 and ${1 << 30}`);
    }
    return r;
  },

  /** `packetParserRingBuffer`: enabled | disabled (empty means disabled; booleans and `auto` are refused). */
  /**
   * CPU cores: a number (`0.5`) or Kubernetes millicores (`500m`), within `min`..`max` cores; 0 means off.
   * Values are rounded to a millicore, the finest unit Kubernetes spells.
   */
  cores(min: number, max: number) {
    return (v: unknown): FieldResult<number> => {
      let n = NaN;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'string') {
        const m = /^\s*(\d+(?:\.\d+)?)(m?)\s*$/.exec(v);
        if (m) n = m[2] === 'm' ? Number(m[1]) / 1000 : Number(m[1]);
      }
      if (!Number.isFinite(n)) return bad(`${showValue(v)} is not a number of CPU cores (examples: 0.5, 500m)`);
      if (n === 0) return ok(0);
      if (n < min || n > max) return bad(`${showValue(v)} is out of range (allowed: ${min} to ${max} cores, or 0 for off)`);
      return ok(Math.round(n * 1000) / 1000);
    };
  },

  ringBufferMode(v: unknown): FieldResult<'enabled' | 'disabled'> {
    if (typeof v === 'string') {
      const w = v.trim().toLowerCase();
      if (w === '') return ok('disabled');
      if (w === 'auto') return bad(`"auto" is not supported yet (allowed: enabled, disabled)`);
    }
    return fields.oneOf(['enabled', 'disabled'] as const)(v);
  },

  /** `plugins`: a mapping of plugin name to an options mapping (an empty entry means no options). */
  pluginOptions(v: unknown): FieldResult<Record<string, Record<string, unknown>>> {
    if (v === null) return ok({});
    if (!isPlainObject(v)) return bad(`${showValue(v)} is not a mapping of plugin name to options`);
    const out: Record<string, Record<string, unknown>> = {};
    for (const [name, opts] of Object.entries(v)) {
      if (opts === null || opts === undefined) out[name] = {};
      else if (isPlainObject(opts)) out[name] = opts;
      else return bad(`${name}: ${showValue(opts)} is not a mapping of options`);
    }
    return ok(out);
  },
};

/** An allowed range of a duration in ms (zero, meaning the default, is allowed besides). */
export interface Range {
  min: number;
  max: number;
}

/** Ranges of the durations: wide enough for any real cluster, narrow enough that every timer works. */
export const RANGES = {
  metricsIntervalMs: { min: 1000, max: 24 * 3_600_000 },
  telemetryIntervalMs: { min: 2 * 60_000, max: 24 * 3_600_000 },
  // Below 1 s the loader warns and uses the default (Retina does the same).
  conntrackReportIntervalMs: { min: 0, max: 24 * 3_600_000 },
} as const satisfies Record<string, Range>;

function inRange(ms: number, range: Range, shown: string): FieldResult<number> {
  if (ms >= range.min && ms <= range.max) return ok(ms);
  const allowed = range.min > 0 ? `${formatDuration(range.min)} to ${formatDuration(range.max)}` : `up to ${formatDuration(range.max)}`;
  return bad(`${shown} is out of range (allowed: ${allowed}, or 0 for the default)`);
}

/** A plugin short name (`dns`, `acme-http`) or an npm package name (`@acme/retina-http`). */
export const PLUGIN_REF_RE = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/** True for a non-null, non-array object. */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Absent, YAML null (`key:` with nothing after it) or a blank string: the key's default applies. */
export function isEmptyValue(v: unknown): v is undefined | null | '' {
  return v === undefined || v === null || (typeof v === 'string' && v.trim() === '');
}

/** A plugin list: absent stays undefined (the OS default applies); empty is the empty list, as in Retina. */
function listField(parse: (v: unknown) => FieldResult<string[]>) {
  return z.unknown().optional().transform((v, ctx): string[] | undefined => {
    if (v === undefined) return undefined;
    if (isEmptyValue(v)) return [];
    const r = parse(v);
    if (!r.ok) {
      ctx.addIssue({ code: 'custom', message: r.message });
      return z.NEVER;
    }
    return r.value;
  });
}

/**
 * Wraps a field parser as a zod schema. An absent key and an empty one (`key:` with nothing after it, as Retina's
 * charts render unset values; YAML null) take the default, as in Retina's loader. `.optional()` keeps a missing key
 * valid on every zod 4 release: since 4.4 a bare `z.unknown().transform()` makes the key required.
 */
function field<T>(parse: (v: unknown) => FieldResult<T>, fallback: T) {
  return z.unknown().optional().transform((v, ctx): T => {
    if (isEmptyValue(v)) return fallback;
    const r = parse(v);
    if (!r.ok) {
      ctx.addIssue({ code: 'custom', message: r.message });
      return z.NEVER;
    }
    return r.value;
  });
}

/** Like `field`, but absent or empty stays undefined. */
function optionalField<T>(parse: (v: unknown) => FieldResult<T>) {
  return field<T | undefined>(parse, undefined);
}

/** Defaults (Retina's code and Helm defaults). */
export const DEFAULTS = {
  apiServerHost: '0.0.0.0',
  apiServerPort: 10093,
  logLevel: 'info' as LogLevel,
  metricsIntervalMs: 10_000,
  telemetryIntervalMs: 15 * 60_000,
  minTelemetryIntervalMs: 2 * 60_000,
  conntrackReportIntervalMs: 30_000,
  packetParserRingBufferSize: 8_388_608,
  filterMapMaxEntries: 255,
  flowBusCapacity: DEFAULT_FLOW_BUS_CAPACITY,
} as const;

/** Upper bound of `filterMapMaxEntries`. */
export const MAX_FILTER_MAP_ENTRIES = 1 << 20;

/** The apiServer block. */
export const apiServerSchema = z.object({
  host: field(fields.string, DEFAULTS.apiServerHost),
  // 0 asks the OS for a free port (tests, side-by-side agents); the bound port is logged.
  port: field(fields.int(0, 65535), DEFAULTS.apiServerPort),
});

/**
 * The raw document schema (before cross-field rules in load.ts). Keys are exactly the YAML keys. Unknown keys are
 * stripped here; the loader reports them as warnings.
 */
export const rawConfigSchema = z.object({
  apiServer: z
    .unknown()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === null) return {};
      if (!isPlainObject(v)) {
        ctx.addIssue({ code: 'custom', message: `${showValue(v)} is not a mapping (expected host and port)` });
        return z.NEVER;
      }
      return v;
    })
    .pipe(apiServerSchema),
  logLevel: field(fields.oneOf(LOG_LEVELS), DEFAULTS.logLevel),
  enabledPlugin: listField(fields.pluginList),
  enabledPlugin_linux: listField(fields.pluginList),
  enabledPlugin_win: listField(fields.pluginList),
  metricsInterval: optionalField(fields.secondsOrDuration(RANGES.metricsIntervalMs)),
  metricsIntervalDuration: optionalField(fields.durationIn(RANGES.metricsIntervalMs)),
  enableTelemetry: field(fields.bool, false),
  telemetryInterval: optionalField(fields.durationIn(RANGES.telemetryIntervalMs)),
  enableRetinaEndpoint: field(fields.bool, true),
  enablePodLevel: field(fields.bool, false),
  enableConntrackMetrics: field(fields.bool, false),
  conntrackReportInterval: optionalField(fields.durationIn(RANGES.conntrackReportIntervalMs)),
  remoteContext: field(fields.bool, false),
  enableAnnotations: field(fields.bool, false),
  bypassLookupIPOfInterest: field(fields.bool, false),
  dataAggregationLevel: field(fields.oneOf(['low', 'high'] as const), 'low'),
  // The kernel side keeps the rate in a u32.
  dataSamplingRate: field(fields.int(1, 0xffff_ffff), 1),
  monitorSockPath: field(fields.string, ''),
  packetParserRingBuffer: field(fields.ringBufferMode, 'disabled'),
  packetParserRingBufferSize: field(fields.ringBufferSize, DEFAULTS.packetParserRingBufferSize),
  enableTCX: field(fields.oneOf(['auto', 'off'] as const), 'auto'),
  // 0 means the default; 2^20 IPs of interest is far beyond any node, and the kernel map stays allocatable.
  filterMapMaxEntries: field(fields.int(0, MAX_FILTER_MAP_ENTRIES), DEFAULTS.filterMapMaxEntries),
  controlPlane: field(fields.oneOf(['standard', 'hubble'] as const), 'standard'),
  clusterName: optionalField(fields.string),
  nodeName: optionalField(fields.string),
  nodeIp: optionalField(fields.string),
  plugins: field(fields.pluginOptions, {}),
  flowBusCapacity: field(fields.int(1, 1 << 24), DEFAULTS.flowBusCapacity),
  // Below 0.01 cores the agent's own idle work (timers, scrapes) is already over budget; 1024 is past any node.
  cpuBudget: field(fields.cores(0.01, 1024), 0),
  exporters: field(parseExporters, {}),
  ui: field(parseUi, UI_DEFAULTS),
  enableDebugEndpoints: field(fields.bool, false),
});

/** Top-level keys the loader knows (everything else is warned about). */
export const KNOWN_KEYS: readonly string[] = Object.keys(rawConfigSchema.shape);

/** Cilium-style keys of Retina's Hubble ConfigMap, kept as strings in `ciliumOptions`. */
export const CILIUM_OPTION_RE = /^(?:enable-hubble(?:-[a-z0-9-]+)?|cluster-name|cluster-id|leader-election|hubble-[a-z0-9-]+|monitor-[a-z0-9-]+)$/;
