/** Test helpers: a metrics module and readers for the series the plugin writes. */
import { Writable } from 'node:stream';
import {
  InMemoryIpCache,
  createLogger,
  createMetricsModule,
  parseConfig,
  type Flow,
  type MetricsModule,
  type PluginContext,
} from '@retina-ts/core';

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

/** One JSON log line. */
export type LogLine = Record<string, unknown> & { level: string; msg: string };

/** A plugin context for `dns` built from the real core pieces, with logs and flows captured. */
export function testContext(
  options: Record<string, unknown>,
  config: Record<string, unknown> = {},
): { ctx: PluginContext; metrics: MetricsModule; logs: LogLine[]; flows: Flow[] } {
  const logs: LogLine[] = [];
  const flows: Flow[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) logs.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  const metrics = createMetricsModule();
  const ctx: PluginContext = {
    name: 'dns',
    config: parseConfig(config).config,
    options,
    logger: createLogger({ level: 'debug', destination: stream }).child({ plugin: 'dns' }),
    metrics,
    emit: (flow) => {
      flows.push(flow);
      return true;
    },
    ipCache: new InMemoryIpCache(),
    nodeName: 'test-node',
  };
  return { ctx, metrics, logs, flows };
}
