/**
 * The metric catalog: every metric family retina-ts registers itself, with its exact name, type and label order.
 * Names and labels match Retina's (see the project's reference notes), so existing dashboards and alerts keep
 * working. Nothing else in the code base spells a metric name (a test in this package checks every `src`).
 */

/** Prefix of data-plane metrics. */
export const METRIC_PREFIX = 'networkobservability_';
/** Prefix of the agent's own metrics. */
export const SELF_METRIC_PREFIX = 'controlplane_networkobservability_';
/** Prefix of advanced (pod-level) metrics; they live in their own registry (see MetricsModule.advanced). */
export const ADVANCED_METRIC_PREFIX = `${METRIC_PREFIX}adv_`;

/** Universal labels, added to every series when configured. */
export const UNIVERSAL_LABELS = ['cluster', 'instance'] as const;

export type MetricType = 'gauge' | 'counter' | 'histogram';

/** One metric family as the catalog describes it. */
export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** Histogram upper bounds (without +Inf). */
  readonly buckets?: readonly number[];
}

/** Linear histogram buckets: `count` bounds starting at `start`, `width` apart. */
export function linearBuckets(start: number, width: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + i * width);
}

/** 0.5, 1.5, ..., 63.5 ms: the API-server latency buckets Retina's code uses. */
export const APISERVER_LATENCY_BUCKETS_MS: readonly number[] = linearBuckets(0.5, 1, 64);

/** Values of the `type` label of lost_events_counter: where an event was lost. */
export const LostEventType = {
  KERNEL: 'kernel',
  ENRICHER_RING: 'enricher_ring',
  BUFFERED_CHANNEL: 'buffered_channel',
  EXTERNAL_CHANNEL: 'external_channel',
  PARSER: 'parser',
} as const;

const basic = <T extends MetricType, const L extends readonly string[]>(name: string, type: T, help: string, labelNames: L) =>
  ({ name: METRIC_PREFIX + name, type, help, labelNames }) as const;
const self = <T extends MetricType, const L extends readonly string[]>(name: string, type: T, help: string, labelNames: L) =>
  ({ name: SELF_METRIC_PREFIX + name, type, help, labelNames }) as const;

/** Basic (node-level) families, registered when the module is created. Label order as Retina registers them. */
export const BASIC_METRICS = {
  dropCount: basic('drop_count', 'gauge', 'Packets dropped, by reason and direction (cumulative)', ['reason', 'direction'] as const),
  dropBytes: basic('drop_bytes', 'gauge', 'Bytes dropped, by reason and direction (cumulative)', ['reason', 'direction'] as const),
  forwardCount: basic('forward_count', 'gauge', 'Packets forwarded, by direction (cumulative)', ['direction'] as const),
  forwardBytes: basic('forward_bytes', 'gauge', 'Bytes forwarded, by direction (cumulative)', ['direction'] as const),
  windowsHnsStats: basic('windows_hns_stats', 'gauge', 'Host Networking Service counters (Windows)', ['direction'] as const),
  tcpState: basic('tcp_state', 'gauge', 'TCP sockets by state', ['state'] as const),
  tcpConnectionRemote: basic('tcp_connection_remote', 'gauge', 'TCP connections by remote address', ['address'] as const),
  tcpConnectionStats: basic('tcp_connection_stats', 'gauge', 'TCP statistics (cumulative kernel counters)', ['statistic_name'] as const),
  tcpFlagGauges: basic('tcp_flag_gauges', 'gauge', 'TCP packets by flag and direction (Windows)', ['direction', 'flag'] as const),
  ipConnectionStats: basic('ip_connection_stats', 'gauge', 'IP statistics (cumulative kernel counters)', ['statistic_name'] as const),
  udpConnectionStats: basic('udp_connection_stats', 'gauge', 'UDP statistics (cumulative kernel counters)', ['statistic_name'] as const),
  interfaceStats: basic('interface_stats', 'gauge', 'Network interface driver statistics', ['interface_name', 'statistic_name'] as const),
  dnsRequestCount: basic('dns_request_count', 'counter', 'DNS requests by query type and name', ['query_type', 'query'] as const),
  dnsResponseCount: basic(
    'dns_response_count',
    'counter',
    'DNS responses by query type, name, return code and answers',
    ['query_type', 'query', 'return_code', 'response', 'num_response'] as const,
  ),
  tcpRetransmissionCount: basic('tcp_retransmission_count', 'counter', 'TCP retransmissions observed on this node', [] as const),
  infinibandCounterStats: basic(
    'infiniband_counter_stats',
    'gauge',
    'InfiniBand port counters',
    ['statistic_name', 'device', 'port'] as const,
  ),
  infinibandStatusParams: basic(
    'infiniband_status_params',
    'gauge',
    'InfiniBand interface status parameters',
    ['statistic_name', 'interface_name'] as const,
  ),
  conntrackPacketsTx: basic('conntrack_packets_tx', 'gauge', 'Packets sent by tracked connections', [] as const),
  conntrackPacketsRx: basic('conntrack_packets_rx', 'gauge', 'Packets received by tracked connections', [] as const),
  conntrackBytesTx: basic('conntrack_bytes_tx', 'gauge', 'Bytes sent by tracked connections', [] as const),
  conntrackBytesRx: basic('conntrack_bytes_rx', 'gauge', 'Bytes received by tracked connections', [] as const),
  conntrackTotalConnections: basic('conntrack_total_connections', 'gauge', 'Connections currently tracked', [] as const),
  nodeConnectivityStatus: basic(
    'node_connectivity_status',
    'gauge',
    'Connectivity between nodes (1 reachable, 0 not)',
    ['source_node_name', 'target_node_name'] as const,
  ),
  nodeConnectivityLatencySeconds: basic(
    'node_connectivity_latency_seconds',
    'gauge',
    'Latency between nodes in seconds',
    ['source_node_name', 'target_node_name'] as const,
  ),
  nodeApiserverHandshakeLatencyMs: {
    ...basic('node_apiserver_handshake_latency_ms', 'histogram', 'TCP handshake time from this node to the API server in milliseconds', [] as const),
    buckets: APISERVER_LATENCY_BUCKETS_MS,
  },
} as const satisfies Record<string, MetricSpec>;

/** The agent's own metrics. */
export const SELF_METRICS = {
  pluginManagerFailedToReconcile: self(
    'plugin_manager_failed_to_reconcile',
    'counter',
    'Plugin failures (init, start, crash or unsupported), by plugin',
    ['reason'] as const,
  ),
  lostEventsCounter: self('lost_events_counter', 'counter', 'Events lost, by where they were lost and by whom', ['type', 'reason'] as const),
  parsedPacketsCounter: self('parsed_packets_counter', 'counter', 'Packet records parsed by the packet parser', [] as const),
  expiredMetricsCounter: self('expired_metrics_counter', 'counter', 'Advanced metric series removed by TTL', ['metric'] as const),
  pluginStatus: self('plugin_status', 'gauge', 'Plugin state: 1 for the current state, 0 for the others', ['plugin', 'state'] as const),
  pluginRestarts: self('plugin_restarts_total', 'counter', 'Plugin restarts after a failure', ['plugin'] as const),
  pluginErrors: self('plugin_errors_total', 'counter', 'Errors a plugin reported and survived (e.g. a failed poll)', ['plugin'] as const),
  buildInfo: self('build_info', 'gauge', 'Always 1; labels carry the agent build', ['version', 'nodejs_version'] as const),
  cpuBudgetCores: self('cpu_budget_cores', 'gauge', 'CPU the agent may use (cpuBudget), in cores (absent when off)', [] as const),
  cpuUsageCores: self('cpu_usage_cores', 'gauge', 'CPU the agent used over the last budget interval, in cores (set while cpuBudget is on)', [] as const),
  samplingRate: self('sampling_rate', 'gauge', 'Kernel event sampling under cpuBudget: one event in N is reported, by plugin', ['plugin'] as const),
  sampledAwayEvents: self(
    'sampled_away_events_total',
    'counter',
    'Kernel events not reported because of cpuBudget sampling (reported events stand for N each), by plugin',
    ['plugin'] as const,
  ),
} as const satisfies Record<string, MetricSpec>;

/**
 * Families registered by the part that produces them, only when it runs (an agent without that part exposes none
 * of them). Their help and labels stay with the producer; their names are spelled here, after the
 * `networkobservability_` prefix as the metrics module takes them.
 */
export const PRODUCED_METRIC_NAMES = {
  /** The dns plugin. */
  dnsResponseLatencySeconds: 'dns_response_latency_seconds',
  dnsParseErrors: 'dns_parse_errors_total',
  /** @retina-ts/kubernetes: pod interfaces on this node. */
  podInterfaces: 'pod_interfaces',
} as const;

/** Self-metrics registered by the part that produces them (full names). */
export const PRODUCED_SELF_METRIC_NAMES = {
  /** core's advanced (pod-level) metrics. */
  advancedCardinalityRefused: `${SELF_METRIC_PREFIX}advanced_metrics_cardinality_refused_total`,
  /** @retina-ts/kubernetes watchers. */
  k8sWatcherSynced: `${SELF_METRIC_PREFIX}k8s_watcher_synced`,
  k8sWatcherRestarts: `${SELF_METRIC_PREFIX}k8s_watcher_restarts_total`,
  k8sWatcherRelists: `${SELF_METRIC_PREFIX}k8s_watcher_relists_total`,
  k8sWatchRequests: `${SELF_METRIC_PREFIX}k8s_watcher_watch_requests_total`,
  k8sApiServerIps: `${SELF_METRIC_PREFIX}k8s_apiserver_ips`,
  /** @retina-ts/exporter-otlp. */
  otlpExports: `${SELF_METRIC_PREFIX}otlp_exports_total`,
  otlpFlowLogsDropped: `${SELF_METRIC_PREFIX}otlp_flow_logs_dropped_total`,
  otlpFlowLogsExported: `${SELF_METRIC_PREFIX}otlp_flow_logs_exported_total`,
  otlpFlowLogsFiltered: `${SELF_METRIC_PREFIX}otlp_flow_logs_filtered_total`,
} as const;

/**
 * Advanced (pod-level) family names, after the `networkobservability_` prefix: the flow-driven ones (core's
 * AdvancedFlowMetrics), the API server ones (ApiServerLatency) and the Windows HNS ones (the hnsstats plugin).
 */
export const ADVANCED_FAMILY_NAMES = {
  forwardCount: 'adv_forward_count',
  forwardBytes: 'adv_forward_bytes',
  dropCount: 'adv_drop_count',
  dropBytes: 'adv_drop_bytes',
  tcpFlags: 'adv_tcpflags_count',
  tcpRetransmissions: 'adv_tcpretrans_count',
  dnsRequestCount: 'adv_dns_request_count',
  dnsResponseCount: 'adv_dns_response_count',
  apiServerLatency: 'adv_node_apiserver_latency',
  apiServerHandshakeLatency: 'adv_node_apiserver_tcp_handshake_latency',
  apiServerNoResponse: 'adv_node_apiserver_no_response',
  windowsHnsStats: 'adv_windows_hns_stats',
  tcpConnectionStats: 'adv_tcp_connection_stats',
} as const;
