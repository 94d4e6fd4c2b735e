/**
 * @retina-ts/plugin-dns: DNS requests and responses seen by the kernel, as Retina's DNS metrics, a latency
 * histogram and L7 DNS flows. The default export is the plugin definition the agent loads as `dns`.
 */
import { definePlugin } from '@retina-ts/core';
import { version } from '../package.json';
import { DnsPlugin } from './plugin.js';

/** The `dns` plugin definition. */
const dnsPlugin = definePlugin({
  name: 'dns',
  version,
  platforms: ['linux'],
  description:
    'DNS requests and responses from a socket filter: query, type, return code, answers and latency',
  requires: {
    minKernel: '5.8',
    // Kernels before 5.8 have no CAP_BPF; CAP_SYS_ADMIN covers it there.
    capabilities: [['CAP_BPF', 'CAP_SYS_ADMIN'], 'CAP_NET_RAW'],
    programTypes: ['socket_filter'],
    mapTypes: ['ringbuf'],
  },
  create: () => new DnsPlugin(),
});

export default dnsPlugin;

export {
  DNS_EVENTS_MAP,
  DNS_PROGRAM,
  DNS_STATS_MAP,
  DnsPlugin,
  KernelStat,
  defaultObjectPath,
  flowsWanted,
  type DnsKernelStats,
  type DnsPluginStats,
} from './plugin.js';
export {
  DnsEventProcessor,
  type DnsProcessorDeps,
  type DnsProcessorOptions,
  type DnsProcessorStats,
} from './processor.js';
export {
  DNS_EVENT_HEADER_SIZE,
  DNS_EVENT_LAYOUT,
  DNS_HEADER_SIZE,
  DNS_MAX_CAPTURE,
  DnsDecodeError,
  PARSE_ERROR_REASONS,
  PacketType,
  decodeDnsRecord,
  decodeEventHeader,
  parseDnsMessage,
  typeName,
  type DnsAnswer,
  type DnsEventHeader,
  type DnsMessage,
  type DnsQuestion,
  type ParseErrorReason,
} from './decode.js';
export {
  BoundedLabelValues,
  OTHER_LABEL_VALUE,
  RETURN_CODES,
  answerIps,
  flowQueryName,
  queryLabel,
  queryTypeLabel,
  responseLabel,
  returnCodeLabel,
} from './labels.js';
export { dnsFlow, type DnsFlowContext } from './flow.js';
export { RequestTracker, exchangeKey, type RequestTrackerStats } from './correlate.js';
export {
  LATENCY_BUCKETS_SECONDS,
  LATENCY_METRIC,
  LOST_EVENTS_REASON,
  PARSE_ERRORS_METRIC,
  dnsMetrics,
  resetDnsMetrics,
  type DnsMetrics,
} from './metrics.js';
export {
  DEFAULT_MAX_QUERIES,
  DEFAULT_MAX_QUERY_TYPES,
  DEFAULT_MAX_RESPONSES,
  DEFAULT_DNS_PORTS,
  MAX_DNS_PORTS,
  DNS_OPTION_KEYS,
  dnsPorts,
  dnsPortsConstant,
  DnsOptionsError,
  dnsOptionsSchema,
  parseDnsOptions,
  type DnsOptions,
  type DnsOptionsInput,
  type ParsedDnsOptions,
} from './options.js';
export { InterfaceNames, readInterfaceIndexes } from './interfaces.js';
