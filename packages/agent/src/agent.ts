/**
 * The agent: composes core (config, logger, metrics, FlowBus, IP cache, plugin manager) with discovered or given
 * plugins and the HTTP listener. `retina-agent` is a thin CLI over this; a custom agent is a few lines over it too.
 */
import { hostname } from 'node:os';
import type { Server } from 'node:http';
import {
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
  PodLevelMetrics,
  type AgentConfig,
  type Logger,
  type MetricsModule,
  type PluginDefinition,
} from '@retina-ts/core';
import { createRequire } from 'node:module';
import type { followPodLevelMetrics, KubernetesHandle } from '@retina-ts/kubernetes';
import { clusterConfigured } from './cluster.js';
import { boundAddress, startHttpServer, stopHttpServer } from './http.js';
import { startNativeHeapTrim } from './native-heap.js';
import { clearStaleTcAttachments } from './stale-tc.js';
import { startCpuBudget } from './cpu-budget.js';
import { EnrichedFlows } from './flows.js';
import { defaultSearchPaths, listInstalledPlugins, resolvePlugin } from './discovery.js';
import { announceClusterNodes } from './peer-nodes.js';
import { importOptional } from './optional.js';
import { probeRequirementChecker } from './requirements.js';
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
  /** Environment used for overrides and to find a cluster: `KUBECONFIG`, the in-cluster service (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Logger to use (default: JSON to stdout at the configured level). */
  logger?: Logger;
  /** Serve HTTP (default true). */
  listen?: boolean;
  /** A kubeconfig path; default: KUBECONFIG, else the in-cluster service account, else standalone. */
  kubeconfig?: string;
}

/** The part of a Hubble server the agent needs: something to stop. */
interface ControlPlane {
  stop(): Promise<void> | void;
}

/** What `Agent.create` composes and hands the constructor. */
interface AgentParts {
  config: AgentConfig;
  logger: Logger;
  metrics: MetricsModule;
  flowBus: FlowBus;
  ipCache: InMemoryIpCache;
  manager: PluginManager;
  /** Plugin discovery (or adding the given definitions); `start` waits for it. */
  pending: Promise<void>;
  listen: boolean;
  nodeName: string;
  kubeconfig: string | undefined;
  /** Pod interfaces and IPs of interest, fed from the watchers, read by plugins as `ctx.node`. */
  nodeEvents: NodeEventHub;
  /** The environment the agent was created with (`AgentOptions.env`). */
  env: NodeJS.ProcessEnv;
}

/** A composed, not yet started agent. */
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
  private stopCpuBudget: (() => void) | undefined;
  /** bpf-runtime's readerQueues(), loaded when the debug endpoints are on. */
  private readerQueues: (() => unknown[]) | undefined;
  /** Flows after the enricher: what metrics and the Hubble API consume. */
  readonly flows: EnrichedFlows;
  private stopping: Promise<void> | undefined;
  readonly config: AgentConfig;
  readonly logger: Logger;
  readonly metrics: MetricsModule;
  readonly flowBus: FlowBus;
  readonly ipCache: InMemoryIpCache;
  readonly manager: PluginManager;
  readonly nodeName: string;
  /** Pod interfaces and IPs of interest, fed from the watchers, read by plugins as `ctx.node`. */
  readonly nodeEvents: NodeEventHub;
  private readonly pending: Promise<void>;
  private readonly listen: boolean;
  private readonly kubeconfig: string | undefined;
  private readonly env: NodeJS.ProcessEnv;

  private constructor(parts: AgentParts) {
    this.config = parts.config;
    this.logger = parts.logger;
    this.metrics = parts.metrics;
    this.flowBus = parts.flowBus;
    this.ipCache = parts.ipCache;
    this.manager = parts.manager;
    this.nodeName = parts.nodeName;
    this.nodeEvents = parts.nodeEvents;
    this.pending = parts.pending;
    this.listen = parts.listen;
    this.kubeconfig = parts.kubeconfig;
    this.env = parts.env;
    this.flows = new EnrichedFlows(parts.flowBus, new Enricher(parts.ipCache), parts.logger);
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
    const manager = new PluginManager({
      config,
      metrics,
      logger,
      flowBus,
      ipCache,
      nodeName,
      nodeEvents,
      // Each plugin's `requires`, checked with bpf-runtime's probes before its first init.
      checkRequirements: probeRequirementChecker(),
    });

    const searchPaths = opts.pluginSearchPaths ? [...opts.pluginSearchPaths] : defaultSearchPaths();
    const pending = opts.plugins
      ? Promise.resolve().then(() => {
          for (const def of opts.plugins ?? []) manager.add(def);
        })
      : Agent.discover(config, manager, logger, searchPaths);

    return new Agent({
      config,
      logger,
      metrics,
      flowBus,
      ipCache,
      manager,
      pending,
      listen: opts.listen ?? true,
      nodeName,
      kubeconfig: opts.kubeconfig,
      nodeEvents,
      env,
    });
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
    if (clusterConfigured({ kubeconfig: this.kubeconfig, env: this.env }) || this.config.enablePodLevel) {
      const k8s = await importOptional('@retina-ts/kubernetes', 'a cluster configuration or enablePodLevel', () =>
        import('@retina-ts/kubernetes'),
      );
      const kubernetes = k8s.startKubernetes({
        config: this.config,
        ipCache: this.ipCache,
        logger: this.logger,
        metrics: this.metrics,
        env: this.env,
        ...(this.kubeconfig ? { kubeconfig: this.kubeconfig } : {}),
      });
      this.kubernetes = kubernetes;
      this.stopNodeEvents = k8s.feedNodeEvents(kubernetes, this.nodeEvents, {
        ipCache: this.ipCache,
        nodeName: this.nodeName,
        enableAnnotations: this.config.enableAnnotations,
      });
      if (this.config.enablePodLevel) this.startPodLevelMetrics(kubernetes, k8s.followPodLevelMetrics);
    } else {
      this.logger.info('no cluster configuration (KUBECONFIG or in-cluster service account): running standalone');
    }
    if (this.config.controlPlane === 'hubble') await this.startHubble();
    if (this.config.exporters.otlp) await this.startOtlp();
    if (this.config.ui.enabled) await this.startUi();
    await clearStaleTcAttachments(this.logger);
    this.stopCpuBudget = startCpuBudget({ config: this.config, metrics: this.metrics, logger: this.logger });
    await this.manager.start();
    this.stopHeapTrim = startNativeHeapTrim({ logger: this.logger });
  }

  /**
   * Pod-level (`adv_*`) metrics from the enriched flows. Which pods and labels: the accepted MetricsConfiguration, or
   * with `enableAnnotations` the pods and namespaces annotated `retina.sh: observe` (Retina's default context).
   */
  private startPodLevelMetrics(
    k8s: KubernetesHandle,
    follow: typeof followPodLevelMetrics,
  ): void {
    const logger = this.logger.child({ component: 'advanced-metrics' });
    const podLevel = new PodLevelMetrics({
      metrics: this.metrics,
      remoteContext: this.config.remoteContext,
      annotations: this.config.enableAnnotations,
      apiServerIps: k8s.apiServerIps(),
      logger,
    });
    const unfollow = follow(k8s, podLevel, this.logger);
    const unsubscribe = this.flows.subscribe((batch) => podLevel.process(batch));
    this.stopAdvanced = () => {
      unsubscribe();
      unfollow();
      podLevel.close();
    };
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
      this.stopCpuBudget?.();
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
