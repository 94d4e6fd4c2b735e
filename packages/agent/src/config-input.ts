/**
 * The `config` option of createAgent: the keys of Retina's `config.yaml` as an object, typed so a mistyped key or a
 * wrong kind of value fails to compile. Values are still validated at run time (ranges, durations, list contents).
 */
import type { LogLevel } from '@retina-ts/core';

/** A duration as config.yaml writes it (`"10s"`, `"1m30s"`) or a number of seconds. */
export type DurationInput = string | number;

/** A plugin list: an array of names or one comma-separated string. */
export type PluginListInput = readonly string[] | string;

/** What `createAgent({ config })` accepts: the keys of config.yaml, each optional (defaults as in the README). */
export interface AgentConfigInput {
  apiServer?: { host?: string; port?: number };
  logLevel?: LogLevel;
  enabledPlugin?: PluginListInput;
  enabledPlugin_linux?: PluginListInput;
  enabledPlugin_win?: PluginListInput;
  /** Deprecated: seconds. Use metricsIntervalDuration. */
  metricsInterval?: DurationInput;
  metricsIntervalDuration?: DurationInput;
  enableTelemetry?: boolean;
  telemetryInterval?: DurationInput;
  enableRetinaEndpoint?: boolean;
  enablePodLevel?: boolean;
  enableConntrackMetrics?: boolean;
  conntrackReportInterval?: DurationInput;
  remoteContext?: boolean;
  enableAnnotations?: boolean;
  bypassLookupIPOfInterest?: boolean;
  dataAggregationLevel?: 'low' | 'high';
  dataSamplingRate?: number;
  monitorSockPath?: string;
  packetParserRingBuffer?: 'enabled' | 'disabled';
  packetParserRingBufferSize?: number;
  enableTCX?: 'auto' | 'off';
  filterMapMaxEntries?: number;
  controlPlane?: 'standard' | 'hubble';
  clusterName?: string;
  nodeName?: string;
  nodeIp?: string;
  /** Options handed to each plugin, `plugins.<name>` (see each plugin's README). */
  plugins?: Record<string, Record<string, unknown>>;
  flowBusCapacity?: number;
  /** CPU the agent may use, in cores (`0.5`) or millicores (`'500m'`); off when absent or 0 (see the agent README). */
  cpuBudget?: number | string;
  /** Serve /debug/heap, /debug/profile and /debug/vars on the agent's listener (default false). */
  enableDebugEndpoints?: boolean;
  /** The web UI of @retina-ts/ui on its own port (needs controlPlane: hubble); default off, port 10094, 127.0.0.1. */
  ui?: { enabled?: boolean; port?: number; host?: string };
  /** Cilium/Hubble keys of Retina's Hubble ConfigMap (`enable-hubble`, `hubble-listen-address`, ...). */
  [ciliumKey: `${string}-${string}`]: string | number | boolean | undefined;
}
