/**
 * The `exporters` block: where the agent pushes what it sees besides serving it. Today one exporter, `otlp`
 * (OpenTelemetry metrics and flow logs). Validation here is structural (types, ranges, URL, header syntax); the
 * exporter package checks what only it can (TLS files readable, flow filters compilable) when it starts.
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { formatDuration, parseDuration } from './duration.js';
import { fields, isEmptyValue, isPlainObject, showValue, type FieldResult } from './schema.js';

/** OTLP transports, as OTEL_EXPORTER_OTLP_PROTOCOL spells them. */
export const OTLP_PROTOCOLS = ['grpc', 'http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/** TLS files of the OTLP connection (PEM). The endpoint's `https://` scheme turns TLS on. */
export interface OtlpTlsConfig {
  /** CA bundle that signs the receiver's certificate (default: the system roots). */
  caFile?: string;
  /** Client certificate for mutual TLS (with `keyFile`). */
  certFile?: string;
  /** Client key for mutual TLS (with `certFile`). */
  keyFile?: string;
}

/** A Hubble FlowFilter as written in YAML (proto field names); compiled by the exporter. */
export type FlowFilterObject = Record<string, unknown>;

/** `exporters.otlp`. */
export interface OtlpExporterConfig {
  /** Base URL of the receiver (`http(s)://host:port`); HTTP protocols append `/v1/metrics` and `/v1/logs`. */
  endpoint: string;
  protocol: OtlpProtocol;
  /** Extra request headers (gRPC metadata for `grpc`). */
  headers: Record<string, string>;
  tls: OtlpTlsConfig;
  /** How often metrics are pushed (`interval`, default 60 s). */
  intervalMs: number;
  /** Deadline of one export request (`timeout`, default 10 s, never longer than the interval). */
  timeoutMs: number;
  /** Resource attributes added to (or overriding) the agent's own. */
  resourceAttributes: Record<string, string | number | boolean>;
  /** Push every /metrics family (default true). */
  metrics: boolean;
  /** Push enriched flows as log records (default false). */
  flows: boolean;
  /** Flows pass when the list is empty or one filter matches (Hubble FlowFilter objects). */
  allowList: FlowFilterObject[];
  /** Flows matching any of these are not exported. */
  denyList: FlowFilterObject[];
  /** Flow log records waiting to be sent; beyond it new flows are dropped and counted. */
  maxQueueSize: number;
  /** Flow log records per export request. */
  maxExportBatchSize: number;
}

/** The validated `exporters` block. */
export interface ExportersConfig {
  otlp?: OtlpExporterConfig;
}

/** Defaults and bounds of `exporters.otlp`. */
export const OTLP_LIMITS = {
  defaultIntervalMs: 60_000,
  intervalMs: { min: 1000, max: 24 * 3_600_000 },
  defaultTimeoutMs: 10_000,
  timeoutMs: { min: 100, max: 5 * 60_000 },
  maxHeaders: 64,
  maxResourceAttributes: 128,
  maxValueLength: 4096,
  maxFilters: 64,
  defaultMaxQueueSize: 4096,
  maxQueueSize: { min: 1, max: 1 << 20 },
  defaultMaxExportBatchSize: 512,
  maxExportBatchSize: { min: 1, max: 1 << 16 },
} as const;

const OTLP_KEYS = new Set([
  'endpoint',
  'protocol',
  'headers',
  'tls',
  'interval',
  'timeout',
  'resourceAttributes',
  'metrics',
  'flows',
  'allowList',
  'denyList',
  'maxQueueSize',
  'maxExportBatchSize',
]);
const TLS_KEYS = new Set(['caFile', 'certFile', 'keyFile']);

class Bad extends Error {}

function take<T>(r: FieldResult<T>, key: string): T {
  if (!r.ok) throw new Bad(`${key}: ${r.message}`);
  return r.value;
}

function durationWithin(v: unknown, key: string, range: { min: number; max: number }, fallback: number): number {
  if (isEmptyValue(v)) return fallback;
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined) throw new Bad(`${key}: ${showValue(v)} is not a duration (examples: 10s, 1m30s)`);
  if (ms === 0) return fallback;
  if (ms < range.min || ms > range.max) {
    throw new Bad(
      `${key}: ${showValue(v)} is out of range (allowed: ${formatDuration(range.min)} to ${formatDuration(range.max)}, or 0 for the default)`,
    );
  }
  return ms;
}

function stringMap(v: unknown, key: string, max: number): Record<string, unknown> {
  if (isEmptyValue(v)) return {};
  if (!isPlainObject(v)) throw new Bad(`${key}: ${showValue(v)} is not a mapping`);
  const entries = Object.entries(v);
  if (entries.length > max) throw new Bad(`${key}: ${entries.length} entries, more than the ${max} allowed`);
  return v;
}

function boundedString(v: unknown, key: string): string {
  const s = take(fields.string(v), key);
  if (s.length > OTLP_LIMITS.maxValueLength) {
    throw new Bad(`${key}: a value of ${s.length} characters is longer than ${OTLP_LIMITS.maxValueLength}`);
  }
  return s;
}

function parseEndpoint(v: unknown): string {
  if (isEmptyValue(v)) throw new Bad('endpoint: is required (e.g. http://otel-collector.observability:4317)');
  const s = boundedString(v, 'endpoint').trim();
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new Bad(`endpoint: ${showValue(s)} is not a URL (expected http://host:port or https://host:port)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Bad(`endpoint: ${showValue(s)} has the scheme ${url.protocol} (allowed: http, https)`);
  }
  if (url.username || url.password) {
    throw new Bad(`endpoint: ${showValue(url.host)} carries credentials in the URL; put them in headers instead`);
  }
  if (url.search || url.hash) throw new Bad(`endpoint: ${showValue(s)} has a query or fragment (give the base URL)`);
  return s.replace(/\/+$/, '');
}

function parseHeaders(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, raw] of Object.entries(stringMap(v, 'headers', OTLP_LIMITS.maxHeaders))) {
    const value = boundedString(raw, `headers.${name}`);
    try {
      validateHeaderName(name);
    } catch {
      throw new Bad(`headers: ${showValue(name)} is not a valid header name`);
    }
    try {
      validateHeaderValue(name, value);
    } catch {
      // The value is never echoed: headers usually carry credentials.
      throw new Bad(`headers.${name}: the value has characters a header cannot carry`);
    }
    out[name.toLowerCase()] = value;
  }
  return out;
}

function parseTls(v: unknown): OtlpTlsConfig {
  if (isEmptyValue(v)) return {};
  if (!isPlainObject(v)) throw new Bad(`tls: ${showValue(v)} is not a mapping (keys: caFile, certFile, keyFile)`);
  const out: OtlpTlsConfig = {};
  for (const [k, raw] of Object.entries(v)) {
    if (!TLS_KEYS.has(k)) throw new Bad(`tls.${k}: unknown key (allowed: caFile, certFile, keyFile)`);
    if (isEmptyValue(raw)) continue;
    out[k as keyof OtlpTlsConfig] = boundedString(raw, `tls.${k}`);
  }
  if (Boolean(out.certFile) !== Boolean(out.keyFile)) {
    throw new Bad('tls: certFile and keyFile go together (mutual TLS needs both)');
  }
  return out;
}

function parseResourceAttributes(v: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [name, raw] of Object.entries(stringMap(v, 'resourceAttributes', OTLP_LIMITS.maxResourceAttributes))) {
    if (name === '' || name.length > 255) throw new Bad(`resourceAttributes: ${showValue(name)} is not a valid attribute name`);
    if (typeof raw === 'boolean' || (typeof raw === 'number' && Number.isFinite(raw))) out[name] = raw;
    else out[name] = boundedString(raw, `resourceAttributes.${name}`);
  }
  return out;
}

function parseFilterList(v: unknown, key: string): FlowFilterObject[] {
  if (isEmptyValue(v)) return [];
  let list: unknown = v;
  // Environment overrides and Cilium-style settings carry the list as a JSON string.
  if (typeof v === 'string') {
    try {
      list = JSON.parse(v) as unknown;
    } catch {
      throw new Bad(`${key}: ${showValue(v)} is not a list of FlowFilters (YAML list or JSON array)`);
    }
  }
  if (!Array.isArray(list)) throw new Bad(`${key}: ${showValue(v)} is not a list of FlowFilters`);
  if (list.length > OTLP_LIMITS.maxFilters) {
    throw new Bad(`${key}: ${list.length} filters, more than the ${OTLP_LIMITS.maxFilters} allowed`);
  }
  return list.map((f, i) => {
    if (!isPlainObject(f)) throw new Bad(`${key}[${i}]: ${showValue(f)} is not a FlowFilter mapping`);
    return f;
  });
}

function intWithin(v: unknown, key: string, range: { min: number; max: number }, fallback: number): number {
  if (isEmptyValue(v)) return fallback;
  return take(fields.int(range.min, range.max)(v), key);
}

function parseOtlp(v: unknown): OtlpExporterConfig {
  if (!isPlainObject(v)) throw new Bad(`${showValue(v)} is not a mapping (at least an endpoint is needed)`);
  for (const k of Object.keys(v)) {
    if (!OTLP_KEYS.has(k)) throw new Bad(`${k}: unknown key (allowed: ${[...OTLP_KEYS].join(', ')})`);
  }
  const intervalMs = durationWithin(v['interval'], 'interval', OTLP_LIMITS.intervalMs, OTLP_LIMITS.defaultIntervalMs);
  const timeoutMs = Math.min(
    durationWithin(v['timeout'], 'timeout', OTLP_LIMITS.timeoutMs, OTLP_LIMITS.defaultTimeoutMs),
    intervalMs,
  );
  const maxQueueSize = intWithin(
    v['maxQueueSize'],
    'maxQueueSize',
    OTLP_LIMITS.maxQueueSize,
    OTLP_LIMITS.defaultMaxQueueSize,
  );
  const maxExportBatchSize = intWithin(
    v['maxExportBatchSize'],
    'maxExportBatchSize',
    OTLP_LIMITS.maxExportBatchSize,
    Math.min(OTLP_LIMITS.defaultMaxExportBatchSize, maxQueueSize),
  );
  if (maxExportBatchSize > maxQueueSize) {
    throw new Bad(`maxExportBatchSize: ${maxExportBatchSize} is larger than maxQueueSize (${maxQueueSize})`);
  }
  return {
    endpoint: parseEndpoint(v['endpoint']),
    protocol: isEmptyValue(v['protocol'])
      ? 'http/protobuf'
      : take(fields.oneOf(OTLP_PROTOCOLS)(v['protocol']), 'protocol'),
    headers: parseHeaders(v['headers']),
    tls: parseTls(v['tls']),
    intervalMs,
    timeoutMs,
    resourceAttributes: parseResourceAttributes(v['resourceAttributes']),
    metrics: isEmptyValue(v['metrics']) ? true : take(fields.bool(v['metrics']), 'metrics'),
    flows: isEmptyValue(v['flows']) ? false : take(fields.bool(v['flows']), 'flows'),
    allowList: parseFilterList(v['allowList'], 'allowList'),
    denyList: parseFilterList(v['denyList'], 'denyList'),
    maxQueueSize,
    maxExportBatchSize,
  };
}

/** `exporters`: a mapping with an optional `otlp` block; every message names the key below `exporters`. */
export function parseExporters(v: unknown): FieldResult<ExportersConfig> {
  if (!isPlainObject(v)) return { ok: false, message: `${showValue(v)} is not a mapping (known exporters: otlp)` };
  for (const k of Object.keys(v)) {
    if (k !== 'otlp') return { ok: false, message: `${k}: unknown exporter (known exporters: otlp)` };
  }
  if (isEmptyValue(v['otlp'])) return { ok: true, value: {} };
  try {
    return { ok: true, value: { otlp: parseOtlp(v['otlp']) } };
  } catch (err) {
    if (err instanceof Bad) return { ok: false, message: `otlp.${err.message}` };
    throw err;
  }
}
