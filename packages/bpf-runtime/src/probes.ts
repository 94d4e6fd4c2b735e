// Feature probes: what the kernel and the process can do, and messages that say what is missing.
import { existsSync, mkdirSync, readFileSync, statfsSync } from 'node:fs';
import { release } from 'node:os';

import { BpfError } from './errors.js';
import { native } from './native.js';

/** Linux capabilities by name (include/uapi/linux/capability.h). */
export const CAPABILITIES: Readonly<Record<string, number>> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

/** First Linux release providing each program type (libbpf names). */
export const PROGRAM_TYPE_MIN_KERNEL: Readonly<Record<string, string>> = {
  socket_filter: '3.19',
  kprobe: '4.1',
  sched_cls: '4.1',
  sched_act: '4.1',
  tracepoint: '4.7',
  xdp: '4.8',
  perf_event: '4.9',
  cgroup_skb: '4.10',
  cgroup_sock: '4.10',
  lwt_in: '4.10',
  lwt_out: '4.10',
  lwt_xmit: '4.10',
  sock_ops: '4.13',
  sk_skb: '4.14',
  cgroup_device: '4.15',
  sk_msg: '4.17',
  raw_tracepoint: '4.17',
  cgroup_sock_addr: '4.17',
  lwt_seg6local: '4.18',
  lirc_mode2: '4.18',
  sk_reuseport: '4.19',
  flow_dissector: '4.20',
  cgroup_sysctl: '5.2',
  raw_tracepoint_writable: '5.2',
  cgroup_sockopt: '5.3',
  tracing: '5.5',
  struct_ops: '5.6',
  ext: '5.6',
  lsm: '5.7',
  sk_lookup: '5.9',
  syscall: '5.14',
  netfilter: '6.4',
};

/** First Linux release providing each map type (libbpf names). */
export const MAP_TYPE_MIN_KERNEL: Readonly<Record<string, string>> = {
  hash: '3.19',
  array: '3.19',
  prog_array: '4.2',
  perf_event_array: '4.3',
  percpu_hash: '4.6',
  percpu_array: '4.6',
  stack_trace: '4.6',
  cgroup_array: '4.8',
  lru_hash: '4.10',
  lru_percpu_hash: '4.10',
  lpm_trie: '4.11',
  array_of_maps: '4.12',
  hash_of_maps: '4.12',
  devmap: '4.14',
  sockmap: '4.14',
  cpumap: '4.15',
  xskmap: '4.18',
  sockhash: '4.18',
  cgroup_storage: '4.19',
  reuseport_sockarray: '4.19',
  percpu_cgroup_storage: '4.20',
  queue: '4.20',
  stack: '4.20',
  sk_storage: '5.2',
  devmap_hash: '5.4',
  struct_ops: '5.6',
  ringbuf: '5.8',
  inode_storage: '5.10',
  task_storage: '5.11',
  bloom_filter: '5.16',
  user_ringbuf: '6.1',
  cgrp_storage: '6.2',
};

/** Other features, with the first Linux release providing them. */
export const FEATURE_MIN_KERNEL: Readonly<Record<Feature, string>> = {
  btf: '5.4',
  tcx: '6.6',
  tp_btf: '5.5',
  tracefs: '4.1',
  bpffs: '4.4',
};

/** Named features that unmetRequirements() and explainUnsupported() know. */
export type Feature = 'btf' | 'tcx' | 'tp_btf' | 'tracefs' | 'bpffs';

function normalise(name: string, prefix: string): string {
  const lower = name.toLowerCase();
  return lower.startsWith(prefix) ? lower.slice(prefix.length) : lower;
}

function typeId(names: string[], name: string, prefix: string, what: string): number {
  const wanted = normalise(name, prefix);
  const id = names.indexOf(wanted);
  if (id <= 0) {
    throw new BpfError(
      `unknown ${what} '${name}'; known: ${names.filter((n) => n && n !== 'unspec').join(', ')}`,
      { errno: 0, operation: `probe ${what}`, target: name },
    );
  }
  return id;
}

/** The running kernel's release string (`uname -r`). */
export function kernelRelease(): string {
  return release();
}

/** Compares dotted versions numerically: negative when a < b. */
export function compareKernelVersions(a: string, b: string): number {
  const pa = a.split(/[.-]/).map((x) => parseInt(x, 10));
  const pb = b.split(/[.-]/).map((x) => parseInt(x, 10));
  for (let i = 0; i < 3; i++) {
    const d = (Number.isNaN(pa[i]) ? 0 : (pa[i] ?? 0)) - (Number.isNaN(pb[i]) ? 0 : (pb[i] ?? 0));
    if (d !== 0) return d;
  }
  return 0;
}

/** True when the kernel exposes its BTF (/sys/kernel/btf/vmlinux), which CO-RE programs need. */
export function btfAvailable(): boolean {
  return existsSync('/sys/kernel/btf/vmlinux');
}

/**
 * Whether the kernel can load programs of `type` (libbpf name such as `xdp`, `sched_cls`). libbpf probes `tracing`
 * with an fentry program, which kernels without ftrace trampolines refuse; use tpBtfSupported() for tp_btf.
 */
export function programTypeSupported(type: string): boolean {
  const api = native();
  const r = api.probeProgType(typeId(api.progTypeNames(), type, 'bpf_prog_type_', 'program type'));
  if (r < 0)
    throw new BpfError(`probe program type ${type} failed`, { errno: -r, operation: 'probe', target: type });
  return r === 1;
}

/** Whether the kernel can create maps of `type` (libbpf name such as `ringbuf`, `percpu_array`). */
export function mapTypeSupported(type: string): boolean {
  const api = native();
  const r = api.probeMapType(typeId(api.mapTypeNames(), type, 'bpf_map_type_', 'map type'));
  if (r < 0)
    throw new BpfError(`probe map type ${type} failed`, { errno: -r, operation: 'probe', target: type });
  return r === 1;
}

/** Whether programs of `programType` may call helper number `helperId` (enum bpf_func_id). */
export function helperSupported(programType: string, helperId: number): boolean {
  const api = native();
  const r = api.probeHelper(
    typeId(api.progTypeNames(), programType, 'bpf_prog_type_', 'program type'),
    helperId,
  );
  if (r < 0) {
    throw new BpfError(`probe helper ${helperId} failed`, {
      errno: -r,
      operation: 'probe',
      target: programType,
    });
  }
  return r === 1;
}

/** Whether BTF tracepoints (tp_btf) can be loaded, probed on `tracepoint` (default sched_switch). */
export function tpBtfSupported(tracepoint = 'sched_switch'): boolean {
  const r = native().probeTpBtf(tracepoint);
  if (r < 0) {
    throw new BpfError(`probe tp_btf ${tracepoint} failed`, {
      errno: -r,
      operation: 'probe',
      target: tracepoint,
    });
  }
  return r === 1;
}

let tcxCache: boolean | undefined;

/** Whether the kernel has tcx (TC attachment through BPF links, Linux 6.6+). */
export function tcxSupported(): boolean {
  // BPF_PROG_QUERY for tcx on the loopback device: no side effects, EINVAL on kernels without tcx.
  tcxCache ??= native().tcxQuery(1) === 0;
  return tcxCache;
}

/** Parses the CapEff mask out of /proc/<pid>/status text. */
export function parseEffectiveCapabilities(statusText: string): bigint {
  const match = /^CapEff:\s*([0-9a-fA-F]+)$/m.exec(statusText);
  if (!match?.[1]) throw new TypeError('no CapEff line in the status text');
  return BigInt(`0x${match[1]}`);
}

/** Capabilities from `wanted` that are missing in `mask` (names as in CAPABILITIES). */
export function missingFromMask(mask: bigint, wanted: readonly string[]): string[] {
  return wanted.filter((name) => {
    const bit = CAPABILITIES[name.toUpperCase()];
    if (bit === undefined) {
      throw new TypeError(`unknown capability '${name}'; known: ${Object.keys(CAPABILITIES).join(', ')}`);
    }
    return (mask & (1n << BigInt(bit))) === 0n;
  });
}

/** Capabilities from `wanted` (e.g. `CAP_BPF`, `CAP_NET_ADMIN`) the process does not have in its effective set. */
export function missingCapabilities(wanted: readonly string[]): string[] {
  return missingFromMask(parseEffectiveCapabilities(readFileSync('/proc/self/status', 'utf8')), wanted);
}

/** True when the process has every capability in `wanted` in its effective set. */
export function hasCapabilities(wanted: readonly string[]): boolean {
  return missingCapabilities(wanted).length === 0;
}

/** What a component needs; unmetRequirements() lists what is missing. */
export interface Requirements {
  programTypes?: readonly string[];
  mapTypes?: readonly string[];
  features?: readonly Feature[];
  capabilities?: readonly string[];
}

/** A requirement to explain with explainUnsupported(). */
export type Requirement =
  { programType: string } | { mapType: string } | { feature: Feature } | { capabilities: readonly string[] };

/** A sentence saying why `requirement` is not met here and what is needed (minimum kernel, capability). */
export function explainUnsupported(requirement: Requirement, kernel: string = kernelRelease()): string {
  if ('programType' in requirement) {
    const min = PROGRAM_TYPE_MIN_KERNEL[normalise(requirement.programType, 'bpf_prog_type_')];
    return `BPF program type '${requirement.programType}' is not supported by kernel ${kernel}${min ? `; it needs Linux ${min} or newer` : ''} with CONFIG_BPF_SYSCALL`;
  }
  if ('mapType' in requirement) {
    const min = MAP_TYPE_MIN_KERNEL[normalise(requirement.mapType, 'bpf_map_type_')];
    return `BPF map type '${requirement.mapType}' is not supported by kernel ${kernel}${min ? `; it needs Linux ${min} or newer` : ''}`;
  }
  if ('feature' in requirement) {
    switch (requirement.feature) {
      case 'btf':
        return `kernel ${kernel} does not expose BTF at /sys/kernel/btf/vmlinux; CO-RE programs need Linux ${FEATURE_MIN_KERNEL.btf}+ built with CONFIG_DEBUG_INFO_BTF=y`;
      case 'tcx':
        return `kernel ${kernel} has no tcx; it needs Linux ${FEATURE_MIN_KERNEL.tcx} or newer (clsact is used instead when mode is 'auto')`;
      case 'tp_btf':
        return `kernel ${kernel} cannot load BTF tracepoint (tp_btf) programs; they need Linux ${FEATURE_MIN_KERNEL.tp_btf}+ with BTF (CONFIG_DEBUG_INFO_BTF=y)`;
      case 'tracefs':
        return 'tracefs is not mounted (tracepoint attachment reads event ids from it); call probes.ensureTracefs() or mount -t tracefs nodev /sys/kernel/tracing';
      case 'bpffs':
        return 'bpffs is not mounted at /sys/fs/bpf; call probes.ensureBpffs() or mount -t bpf bpf /sys/fs/bpf';
    }
  }
  const caps = requirement.capabilities.join(', ');
  return `the process lacks ${caps}; run as root or grant ${caps} (Linux 5.8+ splits CAP_BPF and CAP_PERFMON out of CAP_SYS_ADMIN)`;
}

/** True when `path` holds a filesystem of the given magic number. */
function isFs(path: string, magic: number): boolean {
  try {
    return statfsSync(path).type === magic;
  } catch {
    return false;
  }
}

const BPF_FS_MAGIC = 0xcafe4a11;
const TRACEFS_MAGIC = 0x74726163;

/** Whether tracefs is reachable where libbpf looks for tracepoint ids. */
export function tracefsAvailable(): boolean {
  return existsSync('/sys/kernel/tracing/events') || existsSync('/sys/kernel/debug/tracing/events');
}

/** Messages for every unmet requirement; empty when everything is available. */
export function unmetRequirements(req: Requirements): string[] {
  const out: string[] = [];
  for (const t of req.programTypes ?? []) {
    if (!programTypeSupported(t)) out.push(explainUnsupported({ programType: t }));
  }
  for (const t of req.mapTypes ?? []) {
    if (!mapTypeSupported(t)) out.push(explainUnsupported({ mapType: t }));
  }
  for (const f of req.features ?? []) {
    const ok =
      f === 'btf'
        ? btfAvailable()
        : f === 'tcx'
          ? tcxSupported()
          : f === 'tp_btf'
            ? tpBtfSupported()
            : f === 'tracefs'
              ? tracefsAvailable()
              : isFs('/sys/fs/bpf', BPF_FS_MAGIC);
    if (!ok) out.push(explainUnsupported({ feature: f }));
  }
  if (req.capabilities && req.capabilities.length > 0) {
    const missing = missingCapabilities(req.capabilities);
    if (missing.length > 0) out.push(explainUnsupported({ capabilities: missing }));
  }
  return out;
}

/** Result of ensureBpffs() / ensureTracefs(). */
export interface MountResult {
  path: string;
  /** True when this call mounted it (the caller may unmount it later). */
  mounted: boolean;
}

/** Makes sure bpffs is mounted at `path` (default /sys/fs/bpf), mounting it if absent. */
export function ensureBpffs(path = '/sys/fs/bpf'): MountResult {
  if (isFs(path, BPF_FS_MAGIC)) return { path, mounted: false };
  mkdirSync(path, { recursive: true });
  native().mount('bpf', path, 'bpf', 'mode=0700');
  return { path, mounted: true };
}

/** Makes sure tracefs is reachable (needed to attach classic tracepoints), mounting it at /sys/kernel/tracing. */
export function ensureTracefs(path = '/sys/kernel/tracing'): MountResult {
  if (existsSync(`${path}/events`)) return { path, mounted: false };
  if (existsSync('/sys/kernel/debug/tracing/events'))
    return { path: '/sys/kernel/debug/tracing', mounted: false };
  if (isFs(path, TRACEFS_MAGIC)) return { path, mounted: false };
  mkdirSync(path, { recursive: true });
  native().mount('nodev', path, 'tracefs');
  return { path, mounted: true };
}

/** Unmounts a filesystem mounted by ensureBpffs()/ensureTracefs(). */
export function unmount(path: string): void {
  native().unmount(path);
}

/** The probes grouped, as plugins use them: `probes.tcxSupported()`. */
export const probes = {
  kernelRelease,
  compareKernelVersions,
  btfAvailable,
  programTypeSupported,
  mapTypeSupported,
  helperSupported,
  tcxSupported,
  tpBtfSupported,
  tracefsAvailable,
  hasCapabilities,
  missingCapabilities,
  explainUnsupported,
  unmetRequirements,
  ensureBpffs,
  ensureTracefs,
  unmount,
} as const;
