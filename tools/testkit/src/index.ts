// @retina-ts/testkit: helpers for kernel tests (gating, namespaces, traffic, cgroups, leak checks).
export {
  bpfRequired,
  describeKernel,
  kernelTestSupport,
  requireBpfOrSkip,
  type DescribeKernelOptions,
  type KernelSupport,
  type KernelSupportOptions,
  type SkippableContext,
} from './gate.js';
export { CommandError, commandExists, run, type CommandResult, type RunOptions } from './exec.js';
export { uniqueName } from './names.js';
export {
  Netns,
  VethPair,
  createNetns,
  createNetnsPair,
  createVethPair,
  interfaceIndexIn,
  type NetnsPair,
  type NetnsPairOptions,
  type VethPairOptions,
} from './netns.js';
export {
  ping,
  sendUdp,
  startTcpServer,
  tcpConnections,
  type PingOptions,
  type TcpConnectionOptions,
  type TcpServerOptions,
  type UdpOptions,
} from './traffic.js';
export { Cgroup, cgroup2Root, createCgroup, parseCgroup2Mounts } from './cgroup.js';
export {
  bpfHeldBy,
  listBpfLinks,
  listBpfPrograms,
  parseBpftoolLinks,
  parseBpfFdinfo,
  parseBpftoolPrograms,
  parseQdiscs,
  parseTcFilters,
  parseXdpProgramId,
  programHolders,
  programsHeldBy,
  programsStillLoaded,
  tcFilters,
  tcQdiscs,
  xdpProgramId,
  type BpfHeld,
  type BpfLinkInfo,
  type BpfProgramInfo,
  type QdiscInfo,
  type TcFilterInfo,
} from './leaks.js';
export { waitFor, waitForAsync, type WaitOptions } from './wait.js';
export { getOverUnixSocket, startForwarderIn, startLocalForwarder, type LocalForwarder } from './forward.js';
export { packageBin } from './bins.js';
export {
  describeLayouts,
  layoutCases,
  type LayoutCase,
  type LayoutChecker,
  type LayoutShape,
} from './layouts.js';
export { PodBridge, type PodNetwork } from './bridge.js';
export { parseSeries, podSeriesCount, select, type Series } from './exposition.js';
export { seriesOf, type MetricRegistryLike, type MetricSample, type SeriesOptions } from './metrics.js';
export { expectInitFailure, expectPluginDefinition, expectStopBeforeInit, type ExpectedDefinition, type PluginDefinitionLike, type PluginLifecycleLike } from './plugins.js';
