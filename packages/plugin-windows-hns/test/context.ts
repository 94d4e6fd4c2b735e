/** A plugin context made from the real core pieces, with logs captured, for driving the plugin in tests. */
import type { InMemoryIpCache, MetricsModule, PluginContext } from '@retina-ts/core';
import { createTestContext, type LogLine } from '@retina-ts/core/testing';
import { seriesOf } from '@retina-ts/testkit';

/** A context for the hnsstats plugin plus handles on what it records. */
export interface TestContext {
  ctx: PluginContext;
  metrics: MetricsModule;
  ipCache: InMemoryIpCache;
  logs: LogLine[];
}

/** The recorded node's pods as the Kubernetes watchers would put them in the IP cache. */
export function recordedPods(ipCache: InMemoryIpCache): void {
  ipCache.upsertPod({
    namespace: 'default',
    name: 'web-7d9f6c8b4-x2kq9',
    ips: ['10.240.0.23'],
    labels: { app: 'web' },
    workload: { kind: 'ReplicaSet', name: 'web-7d9f6c8b4' },
    nodeName: 'akswin000001',
  });
  ipCache.upsertPod({
    namespace: 'shop',
    name: 'api-5c8d9b7f6-qz7mw',
    ips: ['10.240.0.41', 'fd00:10:240::29'],
    labels: { app: 'api' },
    workload: { kind: 'Deployment', name: 'api' },
    nodeName: 'akswin000001',
  });
}

/** Builds a context with `options` as `plugins.hnsstats` and `config` as the agent configuration. */
export function testContext(
  options: Record<string, unknown> = {},
  config: Record<string, unknown> = {},
): TestContext {
  return createTestContext({
    name: 'hnsstats',
    options,
    config,
    configOptions: { platform: 'win32' },
    nodeName: 'akswin000001',
  });
}

/** Node-level families hnsstats writes, in the order the expected-output fixtures list them. */
export const NODE_FAMILIES = [
  'networkobservability_forward_count',
  'networkobservability_forward_bytes',
  'networkobservability_drop_count',
  'networkobservability_windows_hns_stats',
  'networkobservability_tcp_connection_stats',
  'networkobservability_tcp_flag_gauges',
];

/** Pod-level families hnsstats writes, in the order the expected-output fixtures list them. */
export const POD_FAMILIES = [
  'networkobservability_adv_forward_count',
  'networkobservability_adv_forward_bytes',
  'networkobservability_adv_drop_count',
  'networkobservability_adv_tcpflags_count',
  'networkobservability_adv_windows_hns_stats',
  'networkobservability_adv_tcp_connection_stats',
];

/**
 * The `/metrics` text (Prometheus format, as the agent serves it) of the families `names`, in that order, each as
 * its TYPE line and its samples sorted. HELP lines are left out: their wording is not this plugin's contract.
 * A family without samples is left out entirely.
 */
export async function exposed(metrics: MetricsModule, names: readonly string[]): Promise<string> {
  const { body } = await metrics.expose('text/plain');
  const families = new Map<string, { type: string; samples: string[] }>();
  let current: { type: string; samples: string[] } | undefined;
  for (const line of body.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      current = { type: line, samples: [] };
      families.set(type[1]!, current);
    } else if (line !== '' && !line.startsWith('#')) {
      current?.samples.push(line);
    }
  }
  const out: string[] = [];
  for (const name of names) {
    const f = families.get(name);
    if (f && f.samples.length > 0) out.push(f.type, ...f.samples.sort());
  }
  return out.length ? `${out.join('\n')}\n` : '';
}

/** Series of one family (basic or advanced) as `labels → value`, labels rendered `k=v,k=v` in label order. */
export function series(metrics: MetricsModule, name: string): Promise<Map<string, number>> {
  return seriesOf([metrics.registry, metrics.advanced.registry], name);
}
