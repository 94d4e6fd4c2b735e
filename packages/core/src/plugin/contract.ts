/**
 * The plugin contract. A plugin package's default export is a PluginDefinition made with `definePlugin`; the
 * PluginManager creates one instance per enabled name and drives it through init → start → stop.
 */
import type { Logger } from '../log/logger.js';
import type { Flow } from '../flow/flow.js';
import type { AgentConfig } from '../config/schema.js';
import type { IpCacheReader } from '../ipcache/ipcache.js';
import type { MetricsModule } from '../metrics/module.js';
import type { NodeEvents } from './node-events.js';

export type Platform = 'linux' | 'windows';

/** What a plugin needs from the host, so the manager can explain why it cannot run. */
export interface PluginRequirements {
  /** Minimum kernel release, e.g. "5.8". */
  minKernel?: string;
  /** Linux capabilities, e.g. ["CAP_BPF", "CAP_NET_ADMIN"]. */
  capabilities?: readonly string[];
  /** Free-form kernel features, e.g. "BTF", "ring buffer maps". */
  features?: readonly string[];
}

/** What every plugin instance receives in `init`. Read-only views; the plugin owns nothing here. */
export interface PluginContext<TOptions = Record<string, unknown>> {
  /** The plugin's name as listed in `enabledPlugin`. */
  readonly name: string;
  /** The whole validated agent configuration. */
  readonly config: AgentConfig;
  /** This plugin's own options: `plugins.<name>` in the config file, `{}` when absent. */
  readonly options: TOptions;
  /** A child logger that carries `plugin: <name>`. */
  readonly logger: Logger;
  /** The metrics module: Retina metric families and self-metrics. */
  readonly metrics: MetricsModule;
  /** Puts a flow on the FlowBus. Returns false when the bus was full and the flow was dropped (and counted). */
  emit(flow: Flow): boolean;
  /** Read-only IP → pod/service/node lookups. */
  readonly ipCache: IpCacheReader;
  /** This node's name (NODE_NAME, else the host name). */
  readonly nodeName: string;
  /** Pod interfaces and IPs of interest on this node, as the agent's watchers see them (empty standalone). */
  readonly node?: NodeEvents;
}

/** One running instance of a plugin. */
export interface Plugin<TOptions = Record<string, unknown>> {
  /** Load and verify resources (BPF objects, maps, files). No traffic yet. Throw with a clear reason. */
  init(ctx: PluginContext<TOptions>): Promise<void> | void;
  /**
   * Begin producing. The returned promise settles when the plugin stops producing: it resolves after `signal`
   * aborts (or `stop()` is called) and rejects if the plugin crashes, which the manager answers with a restart.
   */
  start(signal: AbortSignal): Promise<void>;
  /** Detach and free everything. Idempotent, and safe to call before or without init/start. */
  stop(): Promise<void> | void;
}

/** The default export of a plugin package. */
export interface PluginDefinition<TOptions = Record<string, unknown>> {
  /** The name users put in `enabledPlugin` (lower case letters, digits and dashes). */
  readonly name: string;
  /** Version of the plugin package. */
  readonly version: string;
  /** Operating systems it can run on. */
  readonly platforms: readonly Platform[];
  /** One line shown in `/plugins` and logs. */
  readonly description?: string;
  readonly requires?: PluginRequirements;
  /** Creates a fresh instance; called again for every restart. */
  create(): Plugin<TOptions>;
}
