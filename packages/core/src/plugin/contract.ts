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

/**
 * What a plugin needs from the host. The PluginManager checks it before the first init with the checker the agent
 * gives it (bpf-runtime's probes); an unmet requirement leaves the plugin `unsupported` with the reason.
 */
export interface PluginRequirements {
  /** Minimum kernel release, e.g. "5.8"; shown, not compared (distributions backport features: the probes decide). */
  minKernel?: string;
  /**
   * Linux capabilities of the process. An entry that is a list is met by any one of its capabilities, e.g.
   * `[['CAP_BPF', 'CAP_SYS_ADMIN']]` (kernels before 5.8 have no CAP_BPF).
   */
  capabilities?: readonly (string | readonly string[])[];
  /** BPF program types the kernel must load, e.g. "sched_cls", "socket_filter". */
  programTypes?: readonly string[];
  /** BPF map types the kernel must create, e.g. "ringbuf", "lru_hash". */
  mapTypes?: readonly string[];
  /** Kernel features that are probed: "btf", "tp_btf", "tcx", "tracefs", "bpffs". */
  features?: readonly string[];
  /** Anything else it needs, in words (shown, not checked). */
  notes?: readonly string[];
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
  /** What the host must offer; checked before the first init (see PluginRequirements). */
  readonly requires?: PluginRequirements;
  /** Creates a fresh instance; called again for every restart. */
  create(): Plugin<TOptions>;
}
