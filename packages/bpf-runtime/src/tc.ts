// TC attachment policy: tcx when the kernel has it, clsact otherwise. clsact filters are netlink objects that outlive
// the process, so ours carry a recognisable handle (tag + owner pid), are removed at exit, and filters left by a
// process that died without cleaning up are removed before the next attachment to the same hook.
import { readdirSync, readFileSync } from 'node:fs';

import { BpfError, BpfNotSupportedError } from './errors.js';
import { native, type NativeLinkHandle, type NativeProgramHandle, type NativeTcFilter } from './native.js';
import { interfaceIndex } from './netns.js';
import { explainUnsupported, tcxSupported } from './probes.js';

/** Where to attach a TC program. */
export interface TcAttachOptions {
  /** Interface name (resolved in the calling thread's network namespace). */
  ifname?: string;
  /** Interface index; alternative to ifname. */
  ifindex?: number;
  direction: 'ingress' | 'egress';
  /** `auto` (default): tcx when supported (Linux 6.6+), else clsact. */
  mode?: 'auto' | 'tcx' | 'clsact';
  /** clsact filter priority (1..65535); default 0 lets the kernel pick one ahead of existing filters. */
  priority?: number;
}

/** A clsact hook: interface and direction. */
export interface TcHook {
  ifname?: string;
  ifindex?: number;
  direction: 'ingress' | 'egress';
}

const HANDLE_TAG = 0xb;
const PID_BITS = 22;
const PID_MASK = (1 << PID_BITS) - 1;
const SEQ_MASK = 0x3f;

/** Handle of a clsact filter owned by process `pid`: tag 0xB in bits 31-28, a sequence in 27-22, pid in 21-0. */
export function encodeClsactHandle(pid: number, seq: number): number {
  return ((HANDLE_TAG << 28) | ((seq & SEQ_MASK) << PID_BITS) | (pid & PID_MASK)) >>> 0;
}

/** Owner pid and sequence of one of our clsact handles; undefined for handles of other tools. */
export function decodeClsactHandle(handle: number): { pid: number; seq: number } | undefined {
  if (handle >>> 28 !== HANDLE_TAG) return undefined;
  return { pid: handle & PID_MASK, seq: (handle >>> PID_BITS) & SEQ_MASK };
}

/** Context for deciding whether a filter is a leftover of a dead process. */
export interface StaleContext {
  ownPid: number;
  /** True when this process currently owns a filter with this handle on the hook. */
  isLive(handle: number): boolean;
  /** True when a process with this pid exists. */
  pidAlive(pid: number): boolean;
  /**
   * Whether process `pid` holds a file descriptor to BPF program `progId`; undefined when that cannot be read.
   * A live owner always holds its program (the filter's object keeps it open), so a pid that exists but does not
   * hold it is another process that reused the pid, or one in another pid namespace.
   */
  holdsProgram?(pid: number, progId: number): boolean | undefined;
}

/** Whether `filter` is one of ours left behind: our tag, and its owner is gone (or is us but no longer tracked). */
export function isStaleClsactFilter(
  filter: Pick<NativeTcFilter, 'kind' | 'handle'> & { progId?: number },
  ctx: StaleContext,
): boolean {
  if (filter.kind !== 'bpf' || filter.handle === 0) return false;
  const owner = decodeClsactHandle(filter.handle);
  if (!owner) return false;
  // A restarted container often reuses its pid (1): a filter with our pid that we do not track is a leftover.
  if (owner.pid === ctx.ownPid) return !ctx.isLive(filter.handle);
  if (!ctx.pidAlive(owner.pid)) return true;
  if (filter.progId === undefined || filter.progId === 0 || !ctx.holdsProgram) return false;
  return ctx.holdsProgram(owner.pid, filter.progId) === false;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Ids of the BPF programs process `pid` holds descriptors to (program fds, and link fds through their program),
 * read from /proc/<pid>/fdinfo; undefined when /proc does not show that process.
 */
export function programIdsHeldBy(pid: number): Set<number> | undefined {
  const dir = `/proc/${pid}/fdinfo`;
  let fds: string[];
  try {
    fds = readdirSync(dir);
  } catch {
    return undefined;
  }
  const ids = new Set<number>();
  for (const fd of fds) {
    let text: string;
    try {
      text = readFileSync(`${dir}/${fd}`, 'latin1');
    } catch {
      continue; // closed while we read
    }
    const m = /^prog_id:\s*(\d+)$/m.exec(text);
    if (m) ids.add(Number(m[1]));
  }
  return ids;
}

/** holdsProgram() over /proc, reading each process's descriptors once per decision round. */
function procHoldsProgram(): (pid: number, progId: number) => boolean | undefined {
  const cache = new Map<number, Set<number> | undefined>();
  return (pid, progId) => {
    if (!cache.has(pid)) cache.set(pid, programIdsHeldBy(pid));
    const held = cache.get(pid);
    return held === undefined ? undefined : held.has(progId);
  };
}

const liveHandles = new Set<string>();
let sequence = 0;

function liveKey(ifindex: number, egress: boolean, handle: number): string {
  return `${native().currentNetnsInode()}:${ifindex}:${egress ? 'e' : 'i'}:${handle}`;
}

/** Resolves ifname/ifindex to an index; errors name the field. */
export function resolveIfindex(opts: { ifname?: string; ifindex?: number }, operation: string): number {
  if (opts.ifindex !== undefined) {
    if (!Number.isInteger(opts.ifindex) || opts.ifindex <= 0) {
      throw new BpfError(`${operation}: ifindex must be a positive integer, got ${opts.ifindex}`, {
        errno: 0,
        operation,
      });
    }
    return opts.ifindex;
  }
  if (typeof opts.ifname === 'string' && opts.ifname !== '') return interfaceIndex(opts.ifname);
  throw new BpfError(`${operation}: give the interface as ifname or ifindex`, { errno: 0, operation });
}

function directionIsEgress(direction: unknown, operation: string): boolean {
  if (direction === 'ingress') return false;
  if (direction === 'egress') return true;
  throw new BpfError(`${operation}: direction must be 'ingress' or 'egress', got '${String(direction)}'`, {
    errno: 0,
    operation,
  });
}

/** Lists the TC filters on a clsact hook (every tool's, ours included). */
export function listTcFilters(hook: TcHook): NativeTcFilter[] {
  const ifindex = resolveIfindex(hook, 'list tc filters');
  return native()
    .tcListFilters(ifindex, directionIsEgress(hook.direction, 'list tc filters'))
    .filter((f) => f.handle !== 0);
}

/** Removes our filters left on a hook by processes that are gone; returns how many were removed. */
export function clearStaleTcFilters(hook: TcHook): number {
  const ifindex = resolveIfindex(hook, 'clear stale tc filters');
  const egress = directionIsEgress(hook.direction, 'clear stale tc filters');
  const api = native();
  const ctx: StaleContext = {
    ownPid: process.pid,
    isLive: (handle) => liveHandles.has(liveKey(ifindex, egress, handle)),
    pidAlive,
    holdsProgram: procHoldsProgram(),
  };
  let removed = 0;
  for (const f of api.tcListFilters(ifindex, egress)) {
    if (isStaleClsactFilter(f, ctx) && api.tcDetachFilter(ifindex, egress, f.handle, f.priority)) removed++;
  }
  return removed;
}

let exitCleanupInstalled = false;

/**
 * Removes this process's clsact filters when it ends: on 'exit' (normal end, process.exit(), uncaught exception)
 * and on SIGINT/SIGTERM/SIGHUP when nothing else handles the signal (the signal is then re-raised, so the process
 * still dies of it). SIGKILL and native crashes cannot be intercepted: the next clsact attachment on the same hook
 * removes those leftovers (see clearStaleTcFilters()).
 */
function installExitCleanup(): void {
  if (exitCleanupInstalled) return;
  exitCleanupInstalled = true;
  const api = native();
  process.on('exit', () => {
    api.clsactReleaseAll();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      // The application has its own handler and will stop its plugins; do not pull filters from under it.
      if (process.listenerCount(signal) > 1) return;
      api.clsactReleaseAll();
      process.removeListener(signal, handler);
      process.kill(process.pid, signal);
    };
    process.on(signal, handler);
  }
}

/** Attaches a sched_cls program per `opts`; returns the native link and a callback to run after detach. */
export function attachTc(
  prog: NativeProgramHandle,
  opts: TcAttachOptions,
): { link: NativeLinkHandle; onDetach?: () => void } {
  const operation = `attach tc to program '${prog.name}'`;
  if (prog.type !== 'sched_cls') {
    throw new BpfError(
      `${operation}: TC needs a sched_cls program (SEC("tc")), '${prog.name}' is ${prog.type} (section '${prog.sectionName}')`,
      { errno: 0, operation, target: prog.name },
    );
  }
  const egress = directionIsEgress(opts.direction, operation);
  const ifindex = resolveIfindex(opts, operation);
  const mode = opts.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'tcx' && mode !== 'clsact') {
    throw new BpfError(`${operation}: mode must be auto, tcx or clsact, got '${String(mode)}'`, {
      errno: 0,
      operation,
    });
  }
  const useTcx = mode === 'tcx' || (mode === 'auto' && tcxSupported());
  if (useTcx) {
    if (!tcxSupported()) {
      throw new BpfNotSupportedError(explainUnsupported({ feature: 'tcx' }), {
        errno: 0,
        operation,
        feature: 'tcx',
        minKernel: '6.6',
      });
    }
    return { link: prog.attachTcx(ifindex, egress) };
  }

  const priority = opts.priority ?? 0;
  if (!Number.isInteger(priority) || priority < 0 || priority > 0xffff) {
    throw new BpfError(`${operation}: priority must be an integer in 0..65535, got ${priority}`, {
      errno: 0,
      operation,
    });
  }
  clearStaleTcFilters({ ifindex, direction: opts.direction });
  installExitCleanup();
  const api = native();
  for (let attempt = 0; attempt <= SEQ_MASK; attempt++) {
    const handle = encodeClsactHandle(process.pid, sequence++);
    try {
      const link = prog.attachClsact(ifindex, egress, handle, priority);
      const key = liveKey(ifindex, egress, link.handle ?? handle);
      liveHandles.add(key);
      return { link, onDetach: () => liveHandles.delete(key) };
    } catch (err) {
      // Another of our filters holds this handle at this priority: take the next sequence number.
      if (err instanceof BpfError && err.code === 'EEXIST' && api.clsactCount() > 0) continue;
      throw err;
    }
  }
  throw new BpfError(`${operation}: no free clsact handle on ifindex ${ifindex}`, {
    errno: 0,
    operation,
    target: prog.name,
  });
}

/** Removes every clsact filter this process attached (normally done automatically at exit). */
export function releaseAllClsactFilters(): number {
  return native().clsactReleaseAll();
}

/** One of our clsact filters found by cleanupTcAttachments(). */
export interface TcCleanupFilter {
  ifname: string;
  ifindex: number;
  direction: 'ingress' | 'egress';
  handle: number;
  priority: number;
  /** Kernel id of the filter's program (0 when the kernel did not say). */
  progId: number;
  /** The filter's name as the loader set it (`<program>:[<id>]`). */
  name: string;
  /** Pid of the process that attached it (in that process's pid namespace). */
  ownerPid: number;
}

/** What cleanupTcAttachments() found and did in one network namespace. */
export interface TcCleanupReport {
  /** Inode of the network namespace that was cleaned. */
  netnsInode: number;
  /** Our filters whose owner is gone: removed (or, with dryRun, to be removed). */
  removed: TcCleanupFilter[];
  /** Our filters whose owner still runs and holds them: left alone. */
  kept: TcCleanupFilter[];
  /** Interfaces whose clsact qdisc held only our leftovers and was removed with them (or would be, with dryRun). */
  qdiscsRemoved: Array<{ ifname: string; ifindex: number }>;
}

/**
 * Removes, on every interface of the calling thread's network namespace, the clsact filters of ours whose owner is
 * gone (a process killed by SIGKILL, the OOM killer or a native crash cannot remove its own), and the clsact qdisc
 * of an interface left with no filter at all once they are gone. Ours means our handle tag (see
 * encodeClsactHandle()); other tools' filters and qdiscs with filters of anyone else are never touched. tcx, XDP,
 * tracepoint, socket-filter and cgroup attachments are BPF links or file descriptors the kernel releases with the
 * process, so there is nothing of them to clean. `dryRun` reports without removing.
 */
export function cleanupTcAttachments(options: { dryRun?: boolean } = {}): TcCleanupReport {
  const api = native();
  const report: TcCleanupReport = {
    netnsInode: api.currentNetnsInode(),
    removed: [],
    kept: [],
    qdiscsRemoved: [],
  };
  const holdsProgram = procHoldsProgram();
  for (const { index: ifindex, name: ifname } of api.listInterfaces()) {
    let others = 0;
    let removedHere = 0;
    for (const direction of ['ingress', 'egress'] as const) {
      const egress = direction === 'egress';
      let filters: NativeTcFilter[];
      try {
        filters = api.tcListFilters(ifindex, egress);
      } catch (err) {
        // An interface removed while we walk the list has nothing left to clean.
        if (err instanceof BpfError && (err.code === 'ENODEV' || err.code === 'ENOENT')) break;
        throw err;
      }
      const ctx: StaleContext = {
        ownPid: process.pid,
        isLive: (handle) => liveHandles.has(liveKey(ifindex, egress, handle)),
        pidAlive,
        holdsProgram,
      };
      for (const f of filters) {
        const owner = f.kind === 'bpf' ? decodeClsactHandle(f.handle) : undefined;
        if (!owner) {
          // The kernel lists a header entry per priority with handle 0; only real filters count.
          if (f.handle !== 0) others++;
          continue;
        }
        const entry: TcCleanupFilter = {
          ifname,
          ifindex,
          direction,
          handle: f.handle,
          priority: f.priority,
          progId: f.progId,
          name: f.name,
          ownerPid: owner.pid,
        };
        if (!isStaleClsactFilter(f, ctx)) {
          report.kept.push(entry);
          others++;
          continue;
        }
        if (options.dryRun || api.tcDetachFilter(ifindex, egress, f.handle, f.priority)) {
          report.removed.push(entry);
          removedHere++;
        }
      }
    }
    if (removedHere === 0 || others > 0) continue;
    // Only our leftovers were on it: the qdisc was most likely made by the process that left them. Check again right
    // before removing it, so a filter attached meanwhile keeps its qdisc.
    if (options.dryRun) {
      report.qdiscsRemoved.push({ ifname, ifindex });
      continue;
    }
    const left = [false, true].some((egress) =>
      api.tcListFilters(ifindex, egress).some((f) => f.handle !== 0),
    );
    if (!left && api.tcDestroyClsact(ifindex)) report.qdiscsRemoved.push({ ifname, ifindex });
  }
  return report;
}
