/**
 * The watchers' own metrics, registered through the metrics module so `/metrics` exposes them. Their names are
 * core's (its metric catalog spells every name).
 */
import { METRIC_PREFIX, PRODUCED_METRIC_NAMES, PRODUCED_SELF_METRIC_NAMES, type MetricsModule } from '@retina-ts/core';

/** Names of the families registered here (as exposed). */
export const KUBERNETES_SELF_METRICS = {
  synced: PRODUCED_SELF_METRIC_NAMES.k8sWatcherSynced,
  restarts: PRODUCED_SELF_METRIC_NAMES.k8sWatcherRestarts,
  relists: PRODUCED_SELF_METRIC_NAMES.k8sWatcherRelists,
  watches: PRODUCED_SELF_METRIC_NAMES.k8sWatchRequests,
  apiServerIps: PRODUCED_SELF_METRIC_NAMES.k8sApiServerIps,
  podInterfaces: `${METRIC_PREFIX}${PRODUCED_METRIC_NAMES.podInterfaces}`,
} as const;

/** The parts of the prom-client handles used here. */
interface ResourceGauge {
  set(labels: { resource: string }, value: number): void;
}
interface ResourceCounter {
  inc(labels: { resource: string }): void;
}
interface PlainGauge {
  set(value: number): void;
}

/** Handles of the families. */
export interface KubernetesSelfMetrics {
  synced: ResourceGauge;
  restarts: ResourceCounter;
  relists: ResourceCounter;
  watches: ResourceCounter;
  apiServerIps: PlainGauge;
  podInterfaces: PlainGauge;
}

/** Registers (or finds, when already registered) the watcher metrics in the module. */
export function kubernetesSelfMetrics(metrics: MetricsModule): KubernetesSelfMetrics {
  const n = KUBERNETES_SELF_METRICS;
  return {
    synced: metrics.gauge({
      name: n.synced,
      help: '1 when the Kubernetes watcher of a resource has completed its first list',
      labelNames: ['resource'],
    }),
    restarts: metrics.counter({ name: n.restarts, help: 'Kubernetes watcher restarts after errors, by resource', labelNames: ['resource'] }),
    relists: metrics.counter({
      name: n.relists,
      help: 'Full lists after the first (410 Gone or a lost resourceVersion), by resource',
      labelNames: ['resource'],
    }),
    watches: metrics.counter({ name: n.watches, help: 'Watch requests made (reconnects included), by resource', labelNames: ['resource'] }),
    apiServerIps: metrics.gauge({ name: n.apiServerIps, help: 'Number of known API server IPs' }),
    podInterfaces: metrics.gauge({ name: n.podInterfaces, help: 'Pod network interfaces (veth) currently on this node' }),
  };
}
