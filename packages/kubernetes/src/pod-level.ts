/**
 * Pod-level metrics follow the cluster: the MetricsConfiguration in force (or, with `enableAnnotations`, the
 * annotated namespaces and pods) configures core's PodLevelMetrics, and the API server watcher keeps its addresses.
 */
import type { Logger, MetricsConfigurationSpec as AdvancedSpec, PodLevelMetrics } from '@retina-ts/core';
import type { MetricsConfigurationInfo } from './metrics-configuration.js';
import type { KubernetesHandle } from './start.js';

/** The spec core's advanced metrics take, from a watched MetricsConfiguration (its ttl in ms). */
export function advancedSpecOf(info: MetricsConfigurationInfo): AdvancedSpec {
  return {
    contextOptions: info.spec.contextOptions.map(({ ttlMs, ...o }) => ({ ...o, ttl: ttlMs })),
    namespaces: info.spec.namespaces,
  };
}

/** The parts of PodLevelMetrics the follower drives. */
export type PodLevelTarget = Pick<
  PodLevelMetrics,
  'annotations' | 'configure' | 'observeAnnotated' | 'setObservedPodIps' | 'setApiServerIps'
>;

/**
 * Configures `target` now and on every change the watchers report; a refused spec keeps the previous
 * configuration and is logged with the field it names. Returns the function that stops following.
 */
export function followPodLevelMetrics(k8s: KubernetesHandle, target: PodLevelTarget, logger: Logger): () => void {
  const apply = (): void => {
    try {
      if (target.annotations) {
        target.observeAnnotated(k8s.observedNamespaces(), k8s.observedPodIps());
        return;
      }
      const mc = k8s.metricsConfiguration();
      if (!mc) return;
      target.configure(advancedSpecOf(mc));
      logger.info({ metricsConfiguration: mc.name }, 'advanced metrics configured');
    } catch (err) {
      logger.error({ err: (err as Error).message }, 'advanced metrics configuration refused');
    }
  };
  const onPod = (): void => target.setObservedPodIps(k8s.observedPodIps());
  const onApiServer = (): void => target.setApiServerIps(k8s.apiServerIps());
  apply();
  k8s.on('metricsConfiguration', apply);
  if (target.annotations) {
    k8s.on('observedNamespaces', apply);
    k8s.on('pod', onPod);
  }
  k8s.on('apiServerIps', onApiServer);
  return () => {
    k8s.off('metricsConfiguration', apply);
    k8s.off('observedNamespaces', apply);
    k8s.off('pod', onPod);
    k8s.off('apiServerIps', onApiServer);
  };
}
