/**
 * Pod-level metrics as one unit: the `adv_*` flow families and the API server latency families, configured together
 * from a MetricsConfiguration spec or from the `retina.sh: observe` annotations. Whoever follows the cluster (the
 * agent, with @retina-ts/kubernetes) feeds it configurations; whoever has flows feeds it batches.
 */
import type { Flow } from '../flow/flow.js';
import type { Logger } from '../log/logger.js';
import type { MetricsModule } from '../metrics/module.js';
import { AdvancedFlowMetrics } from './advanced-metrics.js';
import { ApiServerLatency, APISERVER_METRIC_NAMES, apiServerMetricsOf } from './apiserver-latency.js';
import { defaultAnnotationSpec, type MetricsConfigurationSpec } from './config.js';

/** Options of `new PodLevelMetrics`. */
export interface PodLevelMetricsOptions {
  metrics: MetricsModule;
  /** `remoteContext` of the agent config. */
  remoteContext: boolean;
  /**
   * `enableAnnotations` of the agent config: pods and namespaces annotated `retina.sh: observe` are observed with
   * every flow family and the default context (Retina's behaviour), instead of what a MetricsConfiguration says.
   */
  annotations: boolean;
  /** API server addresses known at start. */
  apiServerIps?: readonly string[];
  logger?: Logger;
}

/** The pod-level (`adv_*`) families of a node, fed by flows and (re)configured by the cluster. */
export class PodLevelMetrics {
  readonly #flows: AdvancedFlowMetrics;
  readonly #apiServer: ApiServerLatency;
  readonly #annotations: boolean;
  #observed = new Set<string>();

  constructor(options: PodLevelMetricsOptions) {
    this.#annotations = options.annotations;
    this.#flows = new AdvancedFlowMetrics({
      metrics: options.metrics,
      config: { remoteContext: options.remoteContext },
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.annotations ? { isObserved: (ip: string) => this.#observed.has(ip) } : {}),
    });
    this.#apiServer = new ApiServerLatency({ metrics: options.metrics, apiServerIps: options.apiServerIps ?? [] });
    this.#apiServer.start();
  }

  /** True when the annotations, not a MetricsConfiguration, decide what is observed. */
  get annotations(): boolean {
    return this.#annotations;
  }

  /** The flow families in effect, by MetricsConfiguration metric name, then the API server ones. */
  get configured(): string[] {
    return [...this.#flows.configured, ...this.#apiServer.configured];
  }

  /**
   * Applies a MetricsConfiguration spec: the flow families and the API server families it names. Throws
   * AdvancedMetricsConfigError naming the field when the spec is invalid; the previous configuration then stays.
   */
  configure(spec: MetricsConfigurationSpec): void {
    this.#flows.update(spec);
    this.#apiServer.configure(apiServerMetricsOf(spec));
  }

  /** Annotation mode: observe these annotated namespaces and pod IPs with every family (Retina's default context). */
  observeAnnotated(namespaces: readonly string[], podIps: readonly string[]): void {
    this.#observed = new Set(podIps);
    this.#flows.update(defaultAnnotationSpec(namespaces));
    this.#apiServer.configure(APISERVER_METRIC_NAMES);
  }

  /** Annotation mode: the annotated pods' IPs changed (namespaces unchanged). */
  setObservedPodIps(podIps: readonly string[]): void {
    this.#observed = new Set(podIps);
  }

  /** The API server addresses changed. */
  setApiServerIps(ips: Iterable<string>): void {
    this.#apiServer.setApiServerIps(ips);
  }

  /** Counts a batch of enriched flows. */
  process(flows: readonly Flow[]): void {
    this.#flows.process(flows);
    this.#apiServer.process(flows);
  }

  /** Stops the timers; the families stay registered until the registry resets. Idempotent. */
  close(): void {
    this.#flows.close();
    this.#apiServer.close();
  }
}
