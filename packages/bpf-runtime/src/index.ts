// @retina-ts/bpf-runtime: libbpf for Node.js.
export { BpfObject, type BpfObjectOpenOptions } from './object.js';
export {
  BpfProgram,
  type CgroupAttachOptions,
  type TestRunOptions,
  type TestRunResult,
  type XdpAttachOptions,
} from './program.js';
export { BpfLink, type LinkKind } from './link.js';
export {
  BpfMap,
  possibleCpus,
  sumPerCpuFields,
  sumPerCpuStruct,
  sumPerCpuU64,
  type BatchOptions,
  type MapUpdateFlag,
  type PerCpuLayout,
} from './map.js';
export {
  RingBufferReader,
  type RecordBatch,
  type RingBufferReaderOptions,
  type RingBufferStats,
} from './ringbuf.js';
export {
  PerfBufferReader,
  type PerfBufferReaderOptions,
  type PerfBufferStats,
  type PerfRecordBatch,
} from './perfbuf.js';
export type { BatchReaderOptions, BatchReaderStats, ReaderQueueState } from './reader.js';
export { readerQueues } from './reader.js';
export { RawSocket, type RawSocketOptions } from './socket.js';
export {
  cleanupTcAttachments,
  clearStaleTcFilters,
  decodeClsactHandle,
  encodeClsactHandle,
  isStaleClsactFilter,
  listTcFilters,
  programIdsHeldBy,
  releaseAllClsactFilters,
  type StaleContext,
  type TcAttachOptions,
  type TcCleanupFilter,
  type TcCleanupReport,
  type TcHook,
} from './tc.js';
export { currentNetnsInode, interfaceIndex, netnsPath, runInNetns } from './netns.js';
export {
  defineStruct,
  type ArrayField,
  type BytesField,
  type FieldInfo,
  type FieldType,
  type ScalarType,
  type StringField,
  type StructFields,
  type StructInput,
  type StructLayout,
  type StructOptions,
  type StructValue,
  type U64Mode,
} from './struct.js';
export {
  Btf,
  KERNEL_BTF_DIR,
  kernelEnum,
  kernelEnums,
  layoutMismatches,
  moduleEnums,
  objectLayoutMismatches,
  type BtfEnum,
  type BtfEnumMember,
  type BtfMember,
  type BtfStruct,
  type ModuleBtfEnum,
} from './btf.js';
export { formatIpv4, formatIpv6, formatMac, writeIpv4, writeIpv6, writeMac } from './address.js';
export {
  decodeConstant,
  encodeConstant,
  type ConstantInfo,
  type ConstantValue,
  type GlobalInfo,
} from './constants.js';
export {
  BpfError,
  BpfNotSupportedError,
  BpfVerifierError,
  errnoName,
  parseVerifierLog,
  type BpfErrorOptions,
} from './errors.js';
export {
  probes,
  btfAvailable,
  compareKernelVersions,
  ensureBpffs,
  ensureTracefs,
  explainUnsupported,
  hasCapabilities,
  helperSupported,
  kernelRelease,
  mapTypeSupported,
  missingCapabilities,
  parseEffectiveCapabilities,
  programTypeSupported,
  tcxSupported,
  tpBtfSupported,
  tracefsAvailable,
  unmetRequirements,
  unmount,
  CAPABILITIES,
  FEATURE_MIN_KERNEL,
  MAP_TYPE_MIN_KERNEL,
  PROGRAM_TYPE_MIN_KERNEL,
  type Feature,
  type MountResult,
  type Requirement,
  type Requirements,
} from './probes.js';
export {
  BpfBuildError,
  buildBpf,
  generateVmlinuxHeader,
  runtimeIncludeDir,
  type BuildOptions,
  type BuildResult,
} from './build-tool.js';
export { libbpfVersion, trimNativeHeap } from './version.js';
export { bundledObjectCandidates, bundledObjectPath } from './bundled.js';
