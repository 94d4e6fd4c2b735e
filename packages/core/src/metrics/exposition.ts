/**
 * Renders metric families as Prometheus text 0.0.4 or OpenMetrics 1.0.0.
 *
 * prom-client can render both, but it orders labels by the caller's object keys and, in OpenMetrics mode, renames
 * counters in place (so a later text scrape of a `*_total` counter loses its suffix). Rendering here keeps label
 * order fixed (registered order, then `le`, then universal labels) and leaves the metric objects untouched.
 */

import { escapeLabelValue, formatSampleValue, labelPairs } from './direct.js';

/** Prometheus text exposition format 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
/** OpenMetrics text format 1.0.0. */
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

/** One sample as prom-client's `metric.get()` returns it. */
export interface SampleValue {
  value: number;
  labels: Record<string, string | number | undefined>;
  metricName?: string;
}

/** One family ready to render. */
export interface FamilySnapshot {
  name: string;
  help: string;
  type: string;
  labelNames: readonly string[];
  values: readonly SampleValue[];
  /**
   * Renders samples directly (before those in `values`): appends `name{labels} value` lines to `out`, with
   * `universal` (`k="v",...`, possibly empty) after the series' own labels.
   */
  render?: (out: string[], sampleName: string, universal: string) => void;
}

/**
 * Chooses the format from an HTTP Accept header: OpenMetrics when the client lists `application/openmetrics-text`
 * with a quality at least as high as any text/plain or wildcard it also accepts; otherwise Prometheus text.
 */
export function negotiateFormat(accept: string | undefined): ExpositionFormat {
  if (!accept) return 'prometheus';
  let openMetricsQ = -1;
  let textQ = -1;
  for (const range of accept.split(',')) {
    const [typePart, ...params] = range.split(';');
    const type = (typePart ?? '').trim().toLowerCase();
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if (k?.trim().toLowerCase() === 'q' && v !== undefined) {
        const parsed = Number(v.trim());
        if (Number.isFinite(parsed)) q = parsed;
      }
    }
    if (type === 'application/openmetrics-text') openMetricsQ = Math.max(openMetricsQ, q);
    else if (type === 'text/plain' || type === '*/*' || type === 'text/*') textQ = Math.max(textQ, q);
  }
  return openMetricsQ > 0 && openMetricsQ >= textQ ? 'openmetrics' : 'prometheus';
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

const formatValue = formatSampleValue;

function formatLabels(
  labels: Record<string, string | number | undefined>,
  order: readonly string[],
  universal: ReadonlyArray<readonly [string, string]>,
): string {
  const parts: string[] = [];
  const seen = new Set<string>();
  const push = (k: string, v: string | number | undefined) => {
    if (seen.has(k) || v === undefined) return;
    seen.add(k);
    parts.push(`${k}="${escapeLabelValue(typeof v === 'number' ? formatValue(v) : v)}"`);
  };
  for (const k of order) push(k, labels[k]);
  for (const k of Object.keys(labels)) push(k, labels[k]);
  for (const [k, v] of universal) push(k, v);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** Renders families in the given format; `universal` labels are appended to every sample that lacks them. */
export function renderFamilies(
  families: readonly FamilySnapshot[],
  format: ExpositionFormat,
  universal: ReadonlyArray<readonly [string, string]> = [],
): string {
  const out: string[] = [];
  const om = format === 'openmetrics';
  const universalText = labelPairs(
    universal.map(([k]) => k),
    universal.map(([, v]) => v),
  );
  for (const f of families) {
    // OpenMetrics names a counter family without `_total` and suffixes every sample with it. Retina's counters
    // (dns_request_count, ...) have no `_total`, and dashboards query the bare name, so in OpenMetrics those are
    // typed `unknown`: every sample keeps the exact name it has in the text format.
    const omCounter = om && f.type === 'counter' && f.name.endsWith('_total');
    const familyName = omCounter ? f.name.slice(0, -'_total'.length) : f.name;
    const type = om && f.type === 'counter' && !omCounter ? 'unknown' : f.type;
    out.push(`# HELP ${familyName} ${escapeHelp(f.help)}`);
    out.push(`# TYPE ${familyName} ${type}`);
    f.render?.(out, f.name, universalText);
    for (const s of f.values) {
      const sampleName = s.metricName ?? f.name;
      out.push(`${sampleName}${formatLabels(s.labels, f.labelNames, universal)} ${formatValue(s.value)}`);
    }
  }
  if (om) out.push('# EOF');
  return out.length ? `${out.join('\n')}\n` : '';
}
