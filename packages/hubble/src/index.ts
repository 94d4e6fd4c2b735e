export {
  startHubble,
  HubbleServer,
  OBSERVER_HEALTH_SERVICE,
  HUBBLE_PACKAGE_VERSION,
  MAX_REQUEST_BYTES,
} from './server.js';
export type { StartHubbleArgs } from './server.js';
export {
  hubbleOptionsFromConfig,
  parseListenAddress,
  HUBBLE_DEFAULTS,
  HUBBLE_TLS_DEFAULT_FILES,
} from './options.js';
export type { HubbleOptions, HubbleMetricsSettings, OptionsFromConfig, HostPort } from './options.js';
export type { TlsOptions } from './tls.js';
export { HubbleObserver, RateMeter } from './observer.js';
export type { FlowSource, ObserverOptions } from './observer.js';
export { FlowRing, isValidRingCapacity } from './ring.js';
export type { RingEntry } from './ring.js';
export {
  FlowExporter,
  FLOW_EXPORT_DEFAULTS,
  exportLine,
  parseExportFilters,
  parseFieldMask,
  protojsonTime,
} from './exporter.js';
export type { FlowExportOptions, FlowExportStats } from './exporter.js';
export { PeerRegistry, ChangeType, hubbleServerName, peerAddress, preferredNodeIp } from './peers.js';
export type { PeerNode, ChangeNotification } from './peers.js';
export { toPbFlow, hubbleLabel, absoluteNodeName, extensionFields, STRUCT_TYPE_URL } from './convert.js';
export type { ConvertOptions } from './convert.js';
export {
  compileFlowFilter,
  compileFilterLists,
  checkFilterLimits,
  FILTER_LIMITS,
} from './filter/flow-filter.js';
export type { FlowFilterInput, FlowPredicate, Re2Pattern } from './filter/flow-filter.js';
export { FilterError } from './filter/errors.js';
export type { FilterErrorKind } from './filter/errors.js';
export { IpPrefixSet } from './filter/ip-set.js';
export { parseSelector, selectorMatches, parseLabel } from './filter/selector.js';
export {
  parseGetFlowsRequest,
  startSequence,
  StartScan,
  TurnScheduler,
  maskFlow,
  RequestError,
} from './getflows.js';
export type { GetFlowsRequestInput, FlowQuery } from './getflows.js';
export { HubbleMetrics, HUBBLE_METRIC_NAMES, HUBBLE_METRIC_LIMITS } from './metrics/hubble-metrics.js';
export { CappedCounter, OTHER_LABEL_VALUE } from './metrics/capped-counter.js';
export type { CapHooks } from './metrics/capped-counter.js';
export type { LostEventLabel, HubbleMetricsOptions } from './metrics/hubble-metrics.js';
export {
  parseMetricsConfig,
  parseMetricSpec,
  splitMetricsList,
  MetricsConfigError,
  SUPPORTED_METRICS,
} from './metrics/options.js';
export type { MetricHandlerConfig, ParsedMetricsConfig } from './metrics/options.js';
export { TRACE_POINT_NAMES, flowProtocol, flowSummary, icmpv4TypeName, icmpv6TypeName, dnsRcodeName } from './names.js';
export { protoDir, hubbleTypes, PROTO_FILES } from './protos.js';
export type * from './wire.js';
export { timestampOfNs, nsOfTimestamp } from './wire.js';
