/**
 * The agent: composes core (config, logger, metrics, FlowBus, IP cache, plugin manager) with discovered or given
 * plugins and the HTTP listener. `retina-agent` is a thin CLI over this; a custom agent is a few lines over it too.
 */
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import {
  AdvancedFlowMetrics,
  ApiServerLatency,
  apiServerMetricsOf,
  APISERVER_METRIC_NAMES,
  defaultAnnotationSpec,
  NodeEventHub,
  Enricher,
  createLogger,
  createMetricsModule,
  selectPlugins,
  FlowBus,
  InMemoryIpCache,
  loadConfig,
  parseConfig,
  PluginManager,
  type AgentConfig,
  type Logger,
  type MetricsModule,
  type PluginDefinition,
} from '@retina-ts/core';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { KubernetesHandle } from '@retina-ts/kubernetes';
import { boundAddress, startHttpServer, stopHttpServer } from './http.js';
import { startNativeHeapTrim } from './native-heap.js';
import { clearStaleTcAttachments } from './stale-tc.js';
import { EnrichedFlows } from './flows.js';
import { defaultSearchPaths, listInstalledPlugins, resolvePlugin } from './discovery.js';
import { announceClusterNodes } from './peer-nodes.js';
import { importOptional } from './optional.js';
import type { AgentConfigInput } from './config-input.js';

const { version: AGENT_VERSION } = createRequire(import.meta.url)('../package.json') as { version: string };

/** How to build an agent. Give `plugins` to run exactly those definitions without discovery. */
export interface AgentOptions {
  /** Path of a Retina `config.yaml`; omitted means defaults (standalone). */
  configFile?: string;
  /** A mounted ConfigMap folder, one file per key, `config.yaml` among them (Retina's Hubble chart). */
  configDir?: string;
  /** A config object (same keys as config.yaml); wins over `configFile`. */
  config?: AgentConfigInput;
  /** Plugin definitions to run instead of discovering `enabledPlugin` names. */
  plugins?: readonly PluginDefinition[];
  /** node_modules folders to search for plugins (default: from the working directory and the agent upward). */
  pluginSearchPaths?: readonly string[];
  /** Environment used for overrides (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Logger to use (default: JSON to stdout at the configured level). */
  logger?: Logger;
  /** Serve HTTP (default true). */
  listen?: boolean;
  /** A kubeconfig path; default: KUBECONFIG, else the in-cluster service account, else standalone. */
  kubeconfig?: string;
}

/** A composed, not yet started agent. */
/** The part of a Hubble server the agent needs: something to stop. */
interface ControlPlane {
  stop(): Promise<void> | void;
}

export class Agent {
  private server: Server | undefined;
  private hubble: ControlPlane | undefined;
  private otlp: { stop(deadlineMs?: number): Promise<void> } | undefined;
  /** Where the UI reads flows: this agent's Hubble server (unix socket, else TCP port). */
  private hubbleAddress: string | undefined;
  private ui: { close(): Promise<void> } | undefined;
  private kubernetes: KubernetesHandle | undefined;
  private stopNodeEvents: (() => void) | undefined;
  private stopPeerNodes: (() => void) | undefined;
  private stopAdvanced: (() => void) | undefined;
  private stopHeapTrim: (() => void) | undefined;
  /** bpf-runtime's readerQueues(), loaded when the debug endpoints are on. */
  private readerQueues: (() => unknown[]) | undefined;
  /** Flows after the enricher: what metrics and the Hubble API consume. */
  readonly flows: EnrichedFlows;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly config: AgentConfig,
    readonly logger: Logger,
    readonly metrics: MetricsModule,
    readonly flowBus: FlowBus,
    readonly ipCache: InMemoryIpCache,
    readonly manager: PluginManager,
    private readonly pending: Promise<void>,
    private readonly listen: boolean,
    readonly nodeName: string,
    private readonly kubeconfig: string | undefined,
    /** Pod interfaces and IPs of interest, fed from the watchers, read by plugins as `ctx.node`. */
    readonly nodeEvents: NodeEventHub,
  ) {
    this.flows = new EnrichedFlows(flowBus, new Enricher(ipCache), logger);
  }

  /** Reads config, resolves plugins and composes the agent. Unresolvable plugins are reported, never fatal. */
  static async create(opts: AgentOptions = {}): Promise<Agent> {
    const env = opts.env ?? process.env;
    const { config, warnings } = opts.config
      ? parseConfig(opts.config, { env, platform: process.platform })
      : loadConfig({ file: opts.configFile, dir: opts.configDir, env, platform: process.platform });
    const logger = opts.logger ?? createLogger({ level: config.logLevel, name: 'retina-agent' });
    for (const w of warnings) logger.warn({ config: opts.configFile ?? opts.configDir }, w);

    const nodeName = config.nodeName || env['NODE_NAME'] || hostname();
    const metrics = createMetricsModule({
      universalLabels: { cluster: config.clusterName, instance: nodeName },
    });
    const flowBus = new FlowBus({ capacity: config.flowBusCapacity, metrics });
    const ipCache = new InMemoryIpCache();
    const nodeEvents = new NodeEventHub((err) =>
      logger.error({ err: (err as Error).message }, 'a node event listener threw'),
    );
    const manager = new PluginManager({ config, metrics, logger, flowBus, ipCache, nodeName, nodeEvents });

    const searchPaths = opts.pluginSearchPaths ? [...opts.pluginSearchPaths] : defaultSearchPaths();
    const pending = opts.plugins
      ? Promise.resolve().then(() => {
          for (const def of opts.plugins ?? []) manager.add(def);
        })
      : Agent.discover(config, manager, logger, searchPaths);

    return new Agent(
      config,
      logger,
      metrics,
      flowBus,
      ipCache,
      manager,
      pending,
      opts.listen ?? true,
      nodeName,
      opts.kubeconfig,
      nodeEvents,
    );
  }

  private static async discover(
    config: AgentConfig,
    manager: PluginManager,
    logger: Logger,
    searchPaths: string[],
  ): Promise<void> {
    const { names, fromDefaults } = selectPlugins(config, process.platform);
    const installed = new Set(listInstalledPlugins(searchPaths).map((p) => p.plugin));
    for (const name of names) {
      // Defaults are a wish list: a default plugin that is not installed is skipped, one the user asked for fails.
      if (fromDefaults && !installed.has(name)) {
        logger.info({ plugin: name }, `default plugin ${name} is not installed; skipping`);
        continue;
      }
      try {
        const resolved = await resolvePlugin(name, searchPaths);
        manager.add(resolved.definition, { packageName: resolved.packageName });
      } catch (err) {
        logger.error({ plugin: name, err: (err as Error).message }, 'plugin could not be loaded');
        manager.addFailed(name, err as Error);
      }
    }
  }

  /** Starts HTTP and every plugin; resolves once the listener is bound (plugins start in the background). */
  async start(): Promise<void> {
    await this.pending;
    if (this.config.enableDebugEndpoints) {
      // The ring- and perf-buffer readers' queues for /debug/vars; without bpf-runtime there are none.
      this.readerQueues = await import('@retina-ts/bpf-runtime').then((m) => m.readerQueues, () => undefined);
    }
    if (this.listen) {
      const { host, port } = this.config.apiServer;
      this.server = await startHttpServer(
        {
          metrics: this.metrics,
          plugins: () => this.manager.status(),
          kubernetes: () => this.kubernetes?.status() ?? { state: 'disabled', reason: 'no cluster configuration' },
          ready: () => this.manager.status().every((p) => p.state !== 'pending' && p.state !== 'initializing'),
          ...(this.config.enableDebugEndpoints
            ? {
                debug: {
                  queues: () => ({
                    flowBus: { queued: this.flowBus.size, capacity: this.flowBus.capacity },
                    readers: this.readerQueues?.() ?? [],
                  }),
                },
              }
            : {}),
        },
        host,
        port,
      );
      const addr = boundAddress(this.server);
      this.logger.info({ host: addr.address, port: addr.port }, `serving /metrics on ${addr.address}:${addr.port}`);
    }
    // Watchers fill the IP cache. The Kubernetes client is loaded only when there is a cluster to reach (or pod
    // interfaces to follow): it is the largest part of a standalone agent's memory otherwise.
    if (this.clusterConfigured() || this.config.enablePodLevel) {
      const { startKubernetes } = await importOptional(
        '@retina-ts/kubernetes',
        'a cluster configuration or enablePodLevel',
        () => import('@retina-ts/kubernetes'),
      );
      this.kubernetes = startKubernetes({
        config: this.config,
        ipCache: this.ipCache,
        logger: this.logger,
        metrics: this.metrics,
        ...(this.kubeconfig ? { kubeconfig: this.kubeconfig } : {}),
      });
      this.bridgeNodeEvents(this.kubernetes);
      if (this.config.enablePodLevel) this.startAdvancedMetrics(this.kubernetes);
    } else {
      this.logger.info('no cluster configuration (KUBECONFIG or in-cluster service account): running standalone');
    }
    if (this.config.controlPlane === 'hubble') await this.startHubble();
    if (this.config.exporters.otlp) await this.startOtlp();
    if (this.config.ui.enabled) await this.startUi();
    await clearStaleTcAttachments(this.logger);
    await this.manager.start();
    this.stopHeapTrim = startNativeHeapTrim({ logger: this.logger });
  }

  /**
   * Pod-level (`adv_*`) metrics from the enriched flows. Which pods and labels: the accepted MetricsConfiguration, or
   * with `enableAnnotations` the pods and namespaces annotated `retina.sh: observe` (Retina's default context).
   */
  private startAdvancedMetrics(k8s: KubernetesHandle): void {
    const annotations = this.config.enableAnnotations;
    let observed = new Set<string>();
    const adv = new AdvancedFlowMetrics({
      metrics: this.metrics,
      config: { remoteContext: this.config.remoteContext },
      logger: this.logger.child({ component: 'advanced-metrics' }),
      ...(annotations ? { isObserved: (ip: string) => observed.has(ip) } : {}),
    });
    // Node-level API server latency; its adv_* families follow the configuration (and the registry resets).
    const apiServer = new ApiServerLatency({ metrics: this.metrics, apiServerIps: k8s.apiServerIps() });
    apiServer.start();
    const apply = (): void => {
      try {
        if (annotations) {
          observed = new Set(k8s.observedPodIps());
          adv.update(defaultAnnotationSpec(k8s.observedNamespaces()));
          apiServer.configure(APISERVER_METRIC_NAMES);
          return;
        }
        const mc = k8s.metricsConfiguration();
        if (!mc) return;
        const spec = {
          contextOptions: mc.spec.contextOptions.map((o) => ({ ...o, ttl: o.ttlMs })),
          namespaces: mc.spec.namespaces,
        };
        adv.update(spec);
        apiServer.configure(apiServerMetricsOf(spec));
        this.logger.info({ metricsConfiguration: mc.name }, 'advanced metrics configured');
      } catch (err) {
        // A bad spec keeps the previous configuration; the message names the field.
        this.logger.error({ err: (err as Error).message }, 'advanced metrics configuration refused');
      }
    };
    apply();
    k8s.on('metricsConfiguration', apply);
    if (annotations) {
      k8s.on('observedNamespaces', apply);
      k8s.on('pod', () => (observed = new Set(k8s.observedPodIps())));
    }
    k8s.on('apiServerIps', () => apiServer.setApiServerIps(k8s.apiServerIps()));
    const unsubscribe = this.flows.subscribe((batch) => {
      adv.process(batch);
      apiServer.process(batch);
    });
    this.stopAdvanced = () => {
      unsubscribe();
      adv.close();
      apiServer.close();
    };
  }

  /**
   * Feeds plugins' node events from the watchers: pod interfaces as they come and go, and the IPs of interest (this
   * node's pods, or the annotated ones with `enableAnnotations`, plus the API server), recomputed at most every
   * 200 ms so a burst of pod changes costs one pass over the cache.
   */
  private bridgeNodeEvents(k8s: KubernetesHandle): void {
    const hub = this.nodeEvents;
    for (const link of k8s.podInterfaces()) hub.addPodInterface({ name: link.name, index: link.index });
    k8s.on('interface', (ev) => {
      if (ev.type === 'added') hub.addPodInterface({ name: ev.link.name, index: ev.link.index });
      else hub.removePodInterface(ev.link.name);
    });
    let timer: NodeJS.Timeout | undefined;
    const recompute = (): void => {
      timer = undefined;
      let pods: string[];
      if (this.config.enableAnnotations) {
        // Annotated pods, and every pod of an annotated namespace: both are observed, so both reach the filter.
        const namespaces = new Set(k8s.observedNamespaces());
        pods = [...k8s.observedPodIps(), ...this.ipCache.podIps((p) => namespaces.has(p.namespace ?? ''))];
      } else {
        pods = this.ipCache.podIps((p) => p.nodeName === this.nodeName);
      }
      hub.setIpsOfInterest([...pods, ...k8s.apiServerIps()]);
    };
    const schedule = (): void => {
      timer ??= setTimeout(recompute, 200).unref();
    };
    k8s.on('pod', schedule);
    k8s.on('apiServerIps', schedule);
    k8s.on('observedNamespaces', schedule);
    // What is known already (the API server address of the kubeconfig) goes in without waiting for an event.
    schedule();
    this.stopNodeEvents = () => clearTimeout(timer);
  }

  /** Serves the FlowBus over the Hubble API; loaded on demand so the standard control plane never loads gRPC. */
  private async startHubble(): Promise<void> {
    const { startHubble, hubbleOptionsFromConfig } = await importOptional(
      '@retina-ts/hubble',
      'controlPlane: hubble',
      () => import('@retina-ts/hubble'),
    );
    const { options, warnings } = hubbleOptionsFromConfig(this.config);
    const logger = this.logger.child({ component: 'hubble' });
    for (const w of warnings) logger.warn(w);
    const server = await startHubble({ flowBus: this.flows, nodeName: this.nodeName, logger, options });
    this.hubble = server;
    this.hubbleAddress = server.unixSocket ? `unix://${server.unixSocket}` : `127.0.0.1:${server.tcpPort}`;
    if (this.kubernetes) this.stopPeerNodes = announceClusterNodes(this.kubernetes, server);
    logger.info(
      { tcpPort: server.tcpPort, unixSocket: server.unixSocket, metricsPort: server.metricsPort },
      'serving the Hubble API',
    );
  }

  /** Serves the web UI (@retina-ts/ui) on its own port, reading this agent's Hubble server, /metrics and /plugins. */
  private async startUi(): Promise<void> {
    if (!this.hubbleAddress) {
      throw new Error('ui.enabled: the UI reads flows from the Hubble API; set controlPlane: hubble');
    }
    const { startUiServer } = await importOptional('@retina-ts/ui', 'ui.enabled', () => import('@retina-ts/ui'));
    const http = this.address();
    // A wildcard listener is reached on loopback; a specific address as it is.
    const metricsHost = !http || http.host === '0.0.0.0' || http.host === '::' ? '127.0.0.1' : http.host;
    const logger = this.logger.child({ component: 'ui' });
    this.ui = await startUiServer({
      hubble: this.hubbleAddress,
      ...(http ? { metrics: `http://${metricsHost.includes(':') ? `[${metricsHost}]` : metricsHost}:${http.port}` } : {}),
      port: this.config.ui.port,
      // No authentication and a capture button: loopback unless an address is named.
      host: this.config.ui.host ?? '127.0.0.1',
      logger,
    });
  }

  /** Pushes /metrics and (with `flows`) enriched flow logs over OTLP; the SDK is loaded only when configured. */
  private async startOtlp(): Promise<void> {
    const config = this.config.exporters.otlp;
    if (!config) return;
    const { startOtlpExporter } = await importOptional('@retina-ts/exporter-otlp', 'exporters.otlp', () =>
      import('@retina-ts/exporter-otlp'),
    );
    this.otlp = await startOtlpExporter({
      config,
      metrics: this.metrics,
      flows: this.flows,
      nodeName: this.nodeName,
      ...(this.config.clusterName ? { clusterName: this.config.clusterName } : {}),
      serviceVersion: AGENT_VERSION,
      logger: this.logger.child({ component: 'otlp' }),
    });
  }

  /** A kubeconfig was given or named by KUBECONFIG, or the in-cluster service account is mounted. */
  private clusterConfigured(): boolean {
    if (this.kubeconfig || process.env['KUBECONFIG']) return true;
    return (
      Boolean(process.env['KUBERNETES_SERVICE_HOST']) &&
      existsSync('/var/run/secrets/kubernetes.io/serviceaccount/token')
    );
  }

  /** The bound HTTP address, once started. */
  address(): { host: string; port: number } | undefined {
    if (!this.server) return undefined;
    const a = boundAddress(this.server);
    return { host: a.address, port: a.port };
  }

  /** Stops plugins (each within the deadline), the FlowBus and the listener. Idempotent. */
  stop(deadlineMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      this.stopHeapTrim?.();
      await this.manager.stop({ deadlineMs });
      await this.otlp?.stop();
      await this.ui?.close();
      this.stopPeerNodes?.();
      await this.hubble?.stop();
      await this.kubernetes?.stop();
      this.stopNodeEvents?.();
      this.stopAdvanced?.();
      this.flowBus.close();
      if (this.server) await stopHttpServer(this.server);
      this.logger.info('agent stopped');
    })();
    return this.stopping;
  }
}

/** Creates an agent; shorthand for `Agent.create`. */
export function createAgent(opts: AgentOptions = {}): Promise<Agent> {
  return Agent.create(opts);
}
