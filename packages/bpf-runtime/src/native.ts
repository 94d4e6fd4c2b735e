// Loads the C++ addon on first use and describes its shape. Nothing else in the package touches the addon's raw
// exports' loading; everything goes through `native()`.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { BpfNotSupportedError, errorFromNative, type NativeErrorInfo } from './errors.js';

export interface NativeProgramInfo {
  name: string;
  sectionName: string;
  type: string;
  expectedAttachType: string;
  autoload: boolean;
}

export interface NativeMapInfo {
  name: string;
  type: string;
  keySize: number;
  valueSize: number;
  maxEntries: number;
  internal: boolean;
}

export interface NativeConstantInfo {
  name: string;
  section: string;
  offset: number;
  size: number;
  kind: 'int' | 'bool' | 'bytes';
  signed: boolean;
}

export interface NativeTestRunResult {
  retval: number;
  durationNs: number;
  dataOut?: Buffer;
  ctxOut?: Buffer;
}

/** (data, ctxIn, repeat, dataOutSize, ctxOutSize, cpu: -1 for the calling thread's CPU) */
export type NativeTestRunArgs = [Buffer, Buffer | null, number, number, number, number];

export interface NativeLinkHandle {
  readonly kind: string;
  readonly fd: number;
  readonly attached: boolean;
  readonly id: number;
  readonly handle: number | undefined;
  readonly priority: number | undefined;
  detach(): void;
}

export interface NativeProgramHandle {
  readonly name: string;
  readonly sectionName: string;
  readonly type: string;
  readonly expectedAttachType: string;
  readonly fd: number;
  readonly id: number;
  attachTracepoint(category: string, name: string): NativeLinkHandle;
  attachRawTracepoint(name: string): NativeLinkHandle;
  attachTrace(): NativeLinkHandle;
  attachAuto(kind: string): NativeLinkHandle;
  attachTcx(ifindex: number, egress: boolean): NativeLinkHandle;
  attachClsact(ifindex: number, egress: boolean, handle: number, priority: number): NativeLinkHandle;
  attachXdp(ifindex: number, flags: number): NativeLinkHandle;
  attachCgroup(path: string, attachType: number): NativeLinkHandle;
  attachSocketFilter(socketFd: number): NativeLinkHandle;
  testRun(...args: NativeTestRunArgs): NativeTestRunResult;
  testRunAsync(...args: NativeTestRunArgs): Promise<NativeTestRunResult>;
}

export interface NativeBatchResult {
  count: number;
  keys: Buffer;
  values: Buffer;
  token: Buffer;
  done: boolean;
}

export interface NativeMapHandle {
  readonly name: string;
  readonly type: number;
  readonly typeName: string;
  readonly keySize: number;
  readonly valueSize: number;
  readonly valueBufferSize: number;
  readonly maxEntries: number;
  readonly flags: number;
  readonly perCpu: boolean;
  readonly fd: number;
  readonly id: number;
  lookup(key: Buffer): Buffer | undefined;
  lookupAndDelete(key: Buffer): Buffer | undefined;
  update(key: Buffer, value: Buffer, flags: number): void;
  delete(key: Buffer): boolean;
  nextKey(prev: Buffer | null): Buffer | null;
  batch(deleteAfter: boolean, token: Buffer | null, count: number): NativeBatchResult;
  pin(path: string): void;
  close(): void;
}

export interface NativeObjectHandle {
  readonly name: string;
  readonly loaded: boolean;
  readonly closed: boolean;
  programs(): NativeProgramInfo[];
  maps(): NativeMapInfo[];
  constants(): NativeConstantInfo[];
  writeConstant(section: string, offset: number, bytes: Buffer): void;
  globals(): NativeConstantInfo[];
  readGlobal(section: string, offset: number, size: number): Buffer;
  writeGlobal(section: string, offset: number, bytes: Buffer): void;
  setMapMaxEntries(name: string, maxEntries: number): void;
  setMapPinPath(name: string, path: string): void;
  setProgramAutoload(name: string, autoload: boolean): void;
  load(): void;
  program(name: string): NativeProgramHandle;
  map(name: string): NativeMapHandle;
  close(): void;
}

export interface NativeReaderStats {
  records: number;
  batches: number;
  dropped: number;
  bytes: number;
  read: number;
  lost: number;
  copied: number;
  error: number;
}

/**
 * Called per batch with (data, count, dataBytes, stride), or (null, errno) when the polling thread failed. `data`
 * holds u32 arrays of `stride` slots (offsets, lengths, and for perf buffers cpus), then the records.
 */
export type NativeBatchCallback = (
  data: ArrayBuffer | null,
  countOrErrno: number,
  dataBytes: number,
  stride: number,
) => void;

export interface NativeBatchReaderHandle {
  start(onBatch: NativeBatchCallback): void;
  stop(): void;
  stats(): NativeReaderStats;
  /** Batches valid during the callback only (memory reused, ArrayBuffer detached, when it returns). */
  recycle(): void;
  ref(): void;
  unref(): void;
}

/** A ring buffer map's memory lent to JavaScript (the inline ring reader). */
export interface NativeRingMapHandle {
  /** The consumer page (writable), the producer page and the data pages mapped twice (read-only). Once only. */
  areas(): { consumer: ArrayBuffer; producer: ArrayBuffer; data: ArrayBuffer; ringBytes: number };
  /**
   * Calls drain(0) on the JS thread when the ring has records (or an interval after a drain that took some);
   * drain returns 0 (ring empty), 1 (took records) or -1 (stopped at its bound, more to take). drain(errno) when
   * polling failed (watching has stopped).
   */
  watch(drain: (errno: number) => number): void;
  /** Stops watching and detaches the areas. Idempotent. */
  close(): void;
  ref(): void;
  unref(): void;
}

export interface NativeSocketHandle {
  readonly fd: number;
  attachFilter(progFd: number): void;
  bind(ifindex: number, protocol: number): void;
  receive(maxBytes: number): Buffer | undefined;
  close(): void;
}

export interface NativeTcFilter {
  handle: number;
  priority: number;
  protocol: number;
  chain: number;
  kind: string;
  name: string;
  progId: number;
}

/** A parsed BTF (kernel, module split BTF, or a BPF object's .BTF section). */
export interface NativeBtfHandle {
  readonly typeCount: number;
  enums(match: string[] | ((name: string) => boolean)): Array<{
    name: string;
    typeId: number;
    size: number;
    signed: boolean;
    names: string[];
    values: bigint[];
  }>;
  struct(name: string): {
    name: string;
    kind: 'struct' | 'union';
    size: number;
    members: Array<{ name: string; bitOffset: number; bitSize: number; size: number }>;
  } | null;
  close(): void;
}

export interface NativeAddon {
  setErrorFactory(factory: (info: NativeErrorInfo) => Error): void;
  possibleCpus(): number;
  probeProgType(type: number): number;
  probeMapType(type: number): number;
  probeHelper(progType: number, helperId: number): number;
  progTypeNames(): string[];
  mapTypeNames(): string[];
  attachTypeNames(): string[];
  tcxQuery(ifindex: number): number;
  probeTpBtf(tracepoint: string): number;
  mount(source: string, target: string, fstype: string, options?: string): void;
  unmount(target: string): void;
  enterNetns(path: string): number;
  leaveNetns(token: number): void;
  currentNetnsInode(): number;
  interfaceIndex(name: string): number;
  tcListFilters(ifindex: number, egress: boolean): NativeTcFilter[];
  tcDetachFilter(ifindex: number, egress: boolean, handle: number, priority: number): boolean;
  listInterfaces(): Array<{ index: number; name: string }>;
  tcDestroyClsact(ifindex: number): boolean;
  clsactReleaseAll(): number;
  clsactCount(): number;
  libbpfVersion(): string;
  trimNativeHeap(): boolean;
  NativeObject: new (source: string | Buffer, name?: string, btfCustomPath?: string) => NativeObjectHandle;
  NativeMap: { fromPinned(path: string): NativeMapHandle };
  NativeRingBuffer: new (
    map: NativeMapHandle,
    maxBatch: number,
    maxBatchBytes: number,
    queueCapacity: number,
    pauseWhenFull: boolean,
  ) => NativeBatchReaderHandle;
  NativePerfBuffer: new (
    map: NativeMapHandle,
    maxBatch: number,
    maxBatchBytes: number,
    queueCapacity: number,
    pauseWhenFull: boolean,
    pageCount: number,
    wakeupEvents: number,
  ) => NativeBatchReaderHandle;
  NativeRingMap: new (map: NativeMapHandle, intervalNs: number) => NativeRingMapHandle;
  NativeSocket: new () => NativeSocketHandle;
  NativeBtf: new (path: string | null, base?: NativeBtfHandle) => NativeBtfHandle;
}

let addon: NativeAddon | undefined;

/** Path of the compiled addon (build/Release/retina_bpf.node next to dist/ and src/). */
export function addonPath(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'build', 'Release', 'retina_bpf.node');
}

/** The loaded addon; throws BpfNotSupportedError off Linux or when the addon was not built. */
export function native(): NativeAddon {
  if (addon) return addon;
  if (process.platform !== 'linux') {
    throw new BpfNotSupportedError(`eBPF needs Linux; this is ${process.platform}`, {
      errno: 0,
      operation: 'load native addon',
      feature: 'linux',
    });
  }
  const path = addonPath();
  if (!existsSync(path)) {
    throw new BpfNotSupportedError(
      `the native addon is not built (${path} is missing): install the Debian packages libbpf-dev libelf-dev ` +
        'zlib1g-dev g++ make python3, then run `npm rebuild @retina-ts/bpf-runtime` (npm 12 runs install scripts ' +
        'of dependencies only once approved: `npm install-scripts approve @retina-ts/bpf-runtime`)',
      { errno: 0, operation: 'load native addon', target: path, feature: 'native addon' },
    );
  }
  const loaded = createRequire(import.meta.url)(path) as NativeAddon;
  loaded.setErrorFactory(errorFromNative);
  addon = loaded;
  return loaded;
}
