/**
 * @retina-ts/plugin-windows-hns: Windows node (and pod) network counters from the Host Networking Service and
 * VFP. The default export is the plugin definition the agent loads as `hnsstats`.
 */
import { definePlugin } from '@retina-ts/core';
import { version } from '../package.json';
import { HnsStatsPlugin } from './plugin.js';

/** The `hnsstats` plugin definition. */
const hnsStatsPlugin = definePlugin({
  name: 'hnsstats',
  version,
  platforms: ['windows'],
  description:
    'Windows endpoint counters from HNS (forwarded and dropped packets and bytes) and VFP (TCP flags, connections, ACL drops)',
  requires: {
    notes: [
      'Host Networking Service API (computenetwork.dll, vmcompute.dll)',
      'vfpctrl.exe for VFP counters',
      'a HostProcess container running as NT AUTHORITY\\SYSTEM',
    ],
  },
  create: () => new HnsStatsPlugin(),
});

export default hnsStatsPlugin;

export { HnsStatsPlugin, type HnsPollReport, type HnsStatsPluginDeps } from './plugin.js';
export type { WindowsNetworkHost } from './host.js';
export {
  GUID_TYPE,
  WINDOWS_DECLARATIONS,
  openWindowsHost,
  registerWindowsTypes,
  runCommand,
  takeWideString,
  type RunCommandOptions,
  type WindowsHostOptions,
} from './windows-host.js';
export {
  HnsCollector,
  type CollectProblem,
  type CollectReport,
  type CollectStage,
  type EndpointSample,
  type HnsCollectorOptions,
} from './collector.js';
export {
  CONTEXT_LABELS,
  HNS_RULES,
  HnsMetricsWriter,
  POD_FAMILIES,
  UNKNOWN,
  VFP_RULES,
  labelKey,
  nodeSeries,
  podContext,
  podSeries,
  type HnsMetricsWriterOptions,
  type NodeFamily,
  type PodFamily,
  type Series,
  type SeriesByFamily,
} from './metrics.js';
export {
  HNSSTATS_OPTION_KEYS,
  HnsStatsOptionsError,
  hnsStatsOptionsSchema,
  parseHnsStatsOptions,
  type HnsStatsOptions,
  type HnsStatsOptionsInput,
  type ParsedHnsStatsOptions,
} from './options.js';
export {
  HNS_COUNTERS,
  decodeEndpoint,
  decodeEndpointIdList,
  decodeEndpointStats,
  decodeHnsEnvelope,
  normalizeMac,
  type HnsCounterName,
  type HnsCounters,
  type HnsEndpoint,
} from './hns/decode.js';
export { HCN_ENDPOINT_FLAG_REMOTE, HcnEndpointState, endpointQuery, endpointStatsPath } from './hns/query.js';
export { canonicalGuid, guidStruct, isGuid, type GuidStruct } from './hns/guid.js';
export {
  VFP_COUNTER_LABELS,
  parseVfpPortCounters,
  portCounterArgs,
  type VfpCounterName,
  type VfpDirectionCounters,
  type VfpPortCounters,
} from './vfp/counters.js';
export { LIST_PORTS_ARGS, parseVmSwitchPorts, portsByMac, type VmSwitchPort } from './vfp/ports.js';
export {
  HRESULT_ACCESS_DENIED,
  HRESULT_ELEMENT_NOT_FOUND,
  HnsCallError,
  HnsDecodeError,
  HnsRequestError,
  HnsUnsupportedPlatformError,
  VfpError,
  describeErrorRecord,
  describeHcnFailure,
  formatHresult,
  type VfpFailure,
} from './errors.js';
