/**
 * @retina-ts/plugin-linuxutil: node-level TCP, UDP and IP statistics from /proc/net and interface driver
 * statistics from ethtool. The default export is the plugin definition the agent loads as `linuxutil`.
 */
import { definePlugin } from '@retina-ts/core';
import { version } from '../package.json';
import { LinuxUtilPlugin } from './plugin.js';

/** The `linuxutil` plugin definition. */
const linuxUtilPlugin = definePlugin({
  name: 'linuxutil',
  version,
  platforms: ['linux'],
  description:
    'TCP/UDP/IP counters, TCP socket states and remote addresses from /proc/net; driver statistics via ethtool',
  requires: { notes: ['procfs (/proc/net)'] },
  create: () => new LinuxUtilPlugin(),
});

export default linuxUtilPlugin;

export { LinuxUtilPlugin, type LinuxUtilPluginDeps } from './plugin.js';
export {
  LinuxUtilCollector,
  type CollectorLogger,
  type LinuxUtilCollectorDeps,
  type LinuxUtilGauges,
  type PollReport,
} from './collector.js';
export {
  DEFAULT_MAX_REMOTE_ADDRESSES,
  LINUXUTIL_OPTION_KEYS,
  LinuxUtilOptionsError,
  linuxUtilOptionsSchema,
  parseLinuxUtilOptions,
  type LinuxUtilOptions,
  type LinuxUtilOptionsInput,
  type ParsedLinuxUtilOptions,
} from './options.js';
export {
  OTHER_REMOTE_ADDRESS,
  TCP_STATE_LABELS,
  UNKNOWN_TCP_STATE,
  countRemoteAddresses,
  countTcpStates,
  foldTopRemoteAddresses,
} from './connections.js';
export {
  IP_STATISTIC_SOURCES,
  TCP_STATISTIC_SOURCES,
  UDP_ACTIVE_STATISTIC,
  UDP_STATISTIC_SOURCES,
  collectStatistics,
  type CounterSource,
} from './statistics.js';
export { parseCounterTable, type CounterSection, type CounterSections } from './proc/counters.js';
export { parseSocketTable, type Endianness, type IpFamily, type SocketEntry } from './proc/sockets.js';
export { parseInterfaceNames } from './proc/netdev.js';
export { formatEndpoint, formatIpv4, formatIpv6, isIpv4Mapped } from './proc/address.js';
export { ProcFormatError } from './proc/errors.js';
export { openEthtoolStatsReader } from './ethtool/ioctl.js';
export {
  EthtoolError,
  type EthtoolReadResult,
  type EthtoolStatsReader,
  type InterfaceStatistics,
} from './ethtool/reader.js';
export { EthtoolLayoutError } from './ethtool/layout.js';
