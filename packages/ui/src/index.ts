export { startUiServer, MAX_STREAMS, MAX_DOWNLOADS, DEFAULT_MAX_DOWNLOAD_BYTES, DEFAULT_DOWNLOAD_TIMEOUT_MS } from './server.js';
export type { UiServer, UiServerOptions } from './server.js';
export { hubbleWhitelist, filterFromQuery, UiFilterError, MAX_FILTER_VALUE, MAX_FILTER_VALUES } from './filters.js';
export { toUiFlow, decodeExtensions } from './rows.js';
export { ServiceMapAggregator, DnsLatencyTracker } from './aggregate.js';
export type { ServiceMapOptions } from './aggregate.js';
export { NodePoller, nodeFiguresFromExposition } from './node-metrics.js';
export { observerClient, followFlows, hubbleProtoDir } from './hubble.js';
export type { ObserverClient, FollowOptions, PbFlow } from './hubble.js';
export {
  parseCaptureRequest,
  captureFilter,
  CaptureRequestError,
  LocalCaptures,
  ClusterCaptures,
  MAX_CAPTURE_SECONDS,
} from './capture.js';
export type { CaptureBackend, CaptureRequest, StreamTarballOptions } from './capture.js';
export type * from './model/types.js';
