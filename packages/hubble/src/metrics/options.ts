/**
 * Parses Hubble metric specs (`hubble.metrics.enabled` in Helm, `hubble-metrics` in the agent ConfigMap):
 * `name[:option;option=value;...]`, e.g. `flow:sourceEgressContext=pod;destinationIngressContext=pod` or
 * `dns:query;ignoreAAAA`. Values list alternatives with `|` (or `,` when no `|` is present).
 */
import type { ContextIdentifier, ContextLabel, ContextOptions } from './context.js';
import { CONTEXT_IDENTIFIERS, CONTEXT_LABELS, CONTEXT_OPTION_KEYS, emptyContext } from './context.js';

/** Metric handlers this server implements. */
export const SUPPORTED_METRICS = ['flow', 'drop', 'tcp', 'dns', 'port-distribution', 'icmp'] as const;
export type SupportedMetric = (typeof SUPPORTED_METRICS)[number];

/** Hubble handlers that exist upstream but count nothing here (flows carry no HTTP/Kafka/policy data). */
export const UNSUPPORTED_HUBBLE_METRICS = [
  'http',
  'httpV2',
  'kafka',
  'policy',
  'flows-to-world',
  'sctp',
  'flows-per-pod',
];

/** One configured handler. */
export interface MetricHandlerConfig {
  name: SupportedMetric;
  context: ContextOptions;
  /** dns: add the `query` label. */
  query: boolean;
  /** dns: skip flows whose only qtype is AAAA. */
  ignoreAAAA: boolean;
}

/** Result of parsing: handlers to build, and specs skipped with the reason. */
export interface ParsedMetricsConfig {
  handlers: MetricHandlerConfig[];
  warnings: string[];
}

/** Raised for a spec that names an unknown metric or option, or an unknown context identifier. */
export class MetricsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricsConfigError';
  }
}

/** Splits the ConfigMap form (`hubble-metrics`: specs separated by spaces or newlines). */
export function splitMetricsList(text: string): string[] {
  return text
    .split(/\s+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function splitValues(value: string): string[] {
  const sep = value.includes('|') ? '|' : ',';
  return value.split(sep).filter((v) => v !== '');
}

function parseIdentifiers(spec: string, key: string, value: string | undefined): ContextIdentifier[] {
  const values = value === undefined ? [''] : splitValues(value);
  if (values.length === 0) values.push('');
  return values.map((v) => {
    const id = v.toLowerCase() as ContextIdentifier;
    if (!CONTEXT_IDENTIFIERS.includes(id)) {
      throw new MetricsConfigError(
        `hubble metric ${JSON.stringify(spec)}: ${key}: unknown context ${JSON.stringify(v)} ` +
          `(use ${CONTEXT_IDENTIFIERS.join(', ')}, alternatives separated by "|")`,
      );
    }
    return id;
  });
}

function parseLabels(spec: string, value: string | undefined): ContextLabel[] {
  const values = (value ?? '').split(',');
  return values.map((v) => {
    if (!CONTEXT_LABELS.includes(v as ContextLabel)) {
      throw new MetricsConfigError(
        `hubble metric ${JSON.stringify(spec)}: labelsContext: invalid label ${JSON.stringify(v)} (use ${CONTEXT_LABELS.join(', ')})`,
      );
    }
    return v as ContextLabel;
  });
}

/** Parses one spec; returns undefined (with a warning) for Hubble handlers this server does not implement. */
export function parseMetricSpec(spec: string, warnings: string[] = []): MetricHandlerConfig | undefined {
  const colon = spec.indexOf(':');
  const name = colon < 0 ? spec : spec.slice(0, colon);
  const optionText = colon < 0 ? '' : spec.slice(colon + 1);
  if (UNSUPPORTED_HUBBLE_METRICS.includes(name)) {
    warnings.push(
      `hubble metric ${JSON.stringify(name)} is not provided by this server (its flows carry no such data); skipped`,
    );
    return undefined;
  }
  if (!SUPPORTED_METRICS.includes(name as SupportedMetric)) {
    throw new MetricsConfigError(
      `hubble metric ${JSON.stringify(spec)}: unknown metric ${JSON.stringify(name)} (use ${SUPPORTED_METRICS.join(', ')})`,
    );
  }
  const config: MetricHandlerConfig = {
    name: name as SupportedMetric,
    context: emptyContext(),
    query: false,
    ignoreAAAA: false,
  };
  for (const option of optionText.split(';')) {
    if (option === '') continue;
    const eq = option.indexOf('=');
    const key = (eq < 0 ? option : option.slice(0, eq)).trim();
    const value = eq < 0 ? undefined : option.slice(eq + 1);
    const lower = key.toLowerCase();
    const contextKey = CONTEXT_OPTION_KEYS[lower];
    if (contextKey === 'labels') {
      config.context.labels = parseLabels(spec, value);
    } else if (contextKey) {
      config.context[contextKey] = parseIdentifiers(spec, key, value);
    } else if (config.name === 'dns' && lower === 'query') {
      config.query = true;
    } else if (config.name === 'dns' && lower === 'ignoreaaaa') {
      config.ignoreAAAA = true;
    } else {
      throw new MetricsConfigError(
        `hubble metric ${JSON.stringify(spec)}: unknown option ${JSON.stringify(key)} ` +
          `(use sourceContext, destinationContext, their Egress/Ingress variants, labelsContext` +
          `${config.name === 'dns' ? ', query, ignoreAAAA' : ''})`,
      );
    }
  }
  return config;
}

/** Parses a list of specs; throws MetricsConfigError for the first bad one or a metric named twice. */
export function parseMetricsConfig(specs: readonly string[]): ParsedMetricsConfig {
  const warnings: string[] = [];
  const handlers: MetricHandlerConfig[] = [];
  for (const spec of specs) {
    const handler = parseMetricSpec(spec.trim(), warnings);
    if (!handler) continue;
    if (handlers.some((h) => h.name === handler.name)) {
      throw new MetricsConfigError(
        `hubble metric ${JSON.stringify(handler.name)} is configured twice; keep one spec per metric`,
      );
    }
    handlers.push(handler);
  }
  return { handlers, warnings };
}
