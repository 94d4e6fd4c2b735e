/** Test helpers: a metrics module and readers for the series the plugin writes. */
import type { Flow, MetricsModule, PluginContext } from '@retina-ts/core';
import { createTestContext, type LogLine } from '@retina-ts/core/testing';

export const REQUESTS = 'networkobservability_dns_request_count';
export const RESPONSES = 'networkobservability_dns_response_count';
export const LATENCY = 'networkobservability_dns_response_latency_seconds';
export const PARSE_ERRORS = 'networkobservability_dns_parse_errors_total';
export const LOST = 'controlplane_networkobservability_lost_events_counter';

/** Series of one family as `k=v,k=v → value` (labels in registration order). */
export async function series(metrics: MetricsModule, name: string): Promise<Map<string, number>> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const data = await metric.get();
  return new Map(
    data.values.map((v) => [
      `${(v as { metricName?: string }).metricName ?? name}{${Object.entries(v.labels)
        .map(([k, x]) => `${k}=${String(x)}`)
        .join(',')}}`,
      v.value,
    ]),
  );
}

/** The value of one series (0 when absent). */
export async function value(
  metrics: MetricsModule,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const data = await metric.get();
  const want = Object.entries(labels);
  const hit = data.values.find(
    (v) =>
      ((v as { metricName?: string }).metricName ?? name) === name &&
      Object.keys(v.labels).length === want.length &&
      want.every(([k, x]) => String(v.labels[k]) === x),
  );
  return hit?.value ?? 0;
}

/** Sample count of a histogram series (0 when absent). */
export async function histogramCount(
  metrics: MetricsModule,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const data = await metric.get();
  const want = Object.entries(labels);
  const hit = data.values.find(
    (v) =>
      (v as { metricName?: string }).metricName === `${name}_count` &&
      want.every(([k, x]) => String(v.labels[k]) === x),
  );
  return hit?.value ?? 0;
}

/** A plugin context for `dns` built from the real core pieces, with logs and flows captured. */
export function testContext(
  options: Record<string, unknown>,
  config: Record<string, unknown> = {},
): { ctx: PluginContext; metrics: MetricsModule; logs: LogLine[]; flows: Flow[] } {
  return createTestContext({ name: 'dns', options, config });
}
