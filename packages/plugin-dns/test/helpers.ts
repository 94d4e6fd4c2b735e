/** Test helpers: a metrics module and readers for the series the plugin writes. */
import type { Flow, MetricsModule, PluginContext } from '@retina-ts/core';
import { createTestContext, type LogLine } from '@retina-ts/core/testing';
import { seriesOf } from '@retina-ts/testkit';

export const REQUESTS = 'networkobservability_dns_request_count';
export const RESPONSES = 'networkobservability_dns_response_count';
export const LATENCY = 'networkobservability_dns_response_latency_seconds';
export const PARSE_ERRORS = 'networkobservability_dns_parse_errors_total';
export const LOST = 'controlplane_networkobservability_lost_events_counter';

/** Series of one family as `<sample name>{k=v,k=v} → value` (labels in registration order). */
export function series(metrics: MetricsModule, name: string): Promise<Map<string, number>> {
  return seriesOf(metrics.registry, name, { sampleNames: true });
}

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };

/** The first sample of family `name` that `match` accepts, given its sample name (histograms have several). */
async function findSample(
  metrics: MetricsModule,
  name: string,
  match: (sampleName: string, labels: Sample['labels']) => boolean,
): Promise<number> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const data = await metric.get();
  const hit = (data.values as Sample[]).find((v) => match(v.metricName ?? name, v.labels));
  return hit?.value ?? 0;
}

/** The value of one series (0 when absent). */
export function value(metrics: MetricsModule, name: string, labels: Record<string, string>): Promise<number> {
  const want = Object.entries(labels);
  return findSample(
    metrics,
    name,
    (sample, have) =>
      sample === name &&
      Object.keys(have).length === want.length &&
      want.every(([k, x]) => String(have[k]) === x),
  );
}

/** Sample count of a histogram series (0 when absent). */
export function histogramCount(
  metrics: MetricsModule,
  name: string,
  labels: Record<string, string>,
): Promise<number> {
  const want = Object.entries(labels);
  return findSample(
    metrics,
    name,
    (sample, have) => sample === `${name}_count` && want.every(([k, x]) => String(have[k]) === x),
  );
}

/** The request count of `query` asked as `type`. */
export function requestCount(metrics: MetricsModule, type: string, query: string): Promise<number> {
  return value(metrics, REQUESTS, { query_type: type, query });
}

/** The response count of `query` asked as `type`, answered with `rcode` and exactly `answers` (label order). */
export function responseCount(
  metrics: MetricsModule,
  type: string,
  query: string,
  rcode: string,
  answers: readonly string[] = [],
): Promise<number> {
  return value(metrics, RESPONSES, {
    query_type: type,
    query,
    return_code: rcode,
    response: answers.join(','),
    num_response: String(answers.length),
  });
}

/** A plugin context for `dns` built from the real core pieces, with logs and flows captured. */
export function testContext(
  options: Record<string, unknown>,
  config: Record<string, unknown> = {},
): { ctx: PluginContext; metrics: MetricsModule; logs: LogLine[]; flows: Flow[] } {
  return createTestContext({ name: 'dns', options, config });
}
