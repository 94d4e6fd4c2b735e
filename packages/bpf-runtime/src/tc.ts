// TC attachment policy: tcx when the kernel has it, clsact otherwise. clsact filters are netlink objects that outlive
// the process, so ours carry a recognisable handle (tag + owner pid), are removed at exit, and filters left by a
// process that died without cleaning up are removed before the next attachment to the same hook.
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
}

/** Whether `filter` is one of ours left behind: our tag, and its owner is dead (or is us but no longer tracked). */
export function isStaleClsactFilter(
  filter: Pick<NativeTcFilter, 'kind' | 'handle'>,
  ctx: StaleContext,
): boolean {
  if (filter.kind !== 'bpf' || filter.handle === 0) return false;
  const owner = decodeClsactHandle(filter.handle);
  if (!owner) return false;
  // A restarted container often reuses its pid (1): a filter with our pid that we do not track is a leftover.
  if (owner.pid === ctx.ownPid) return !ctx.isLive(filter.handle);
  return !ctx.pidAlive(owner.pid);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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
