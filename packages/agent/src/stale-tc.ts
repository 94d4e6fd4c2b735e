/**
 * Removes, before the plugins attach, the clsact TC filters an earlier agent left when it was killed (SIGKILL, the
 * OOM killer, a native crash): they keep running on every packet until removed. Only filters carrying bpf-runtime's
 * tag whose owner process is gone are removed, with the clsact qdisc when nothing else is left on it; tcx, XDP and
 * tracepoint attachments die with their process and need nothing.
 */
import type { Logger } from '@retina-ts/core';

/** What the cleanup call returns (bpf-runtime's TcCleanupReport, the parts logged). */
interface CleanupReport {
  removed: Array<{ ifname: string; direction: string; handle: number; ownerPid: number; name: string }>;
  qdiscsRemoved: Array<{ ifname: string }>;
}

const loadCleanup = async (): Promise<() => CleanupReport> =>
  (await import('@retina-ts/bpf-runtime')).cleanupTcAttachments;

/**
 * Runs the cleanup in the agent's network namespace. Never fatal: without bpf-runtime, off Linux or without
 * CAP_NET_ADMIN it logs why and the agent starts as before.
 */
export async function clearStaleTcAttachments(
  logger: Logger,
  load: () => Promise<() => CleanupReport> = loadCleanup,
): Promise<CleanupReport | undefined> {
  if (process.platform !== 'linux') return undefined;
  try {
    const cleanup = await load();
    const report = cleanup();
    if (report.removed.length > 0 || report.qdiscsRemoved.length > 0) {
      logger.warn(
        {
          filters: report.removed.map((f) => ({
            ifname: f.ifname,
            direction: f.direction,
            handle: `0x${f.handle.toString(16)}`,
            program: f.name,
            ownerPid: f.ownerPid,
          })),
          qdiscs: report.qdiscsRemoved.map((q) => q.ifname),
        },
        `removed ${report.removed.length} TC filter(s) and ${report.qdiscsRemoved.length} clsact qdisc(s) left by an agent that did not stop cleanly`,
      );
    }
    return report;
  } catch (err) {
    // An agent installed without the BPF runtime attaches nothing, so it has nothing to clean.
    const code = (err as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return undefined;
    logger.warn({ err: (err as Error).message }, 'could not check for TC filters left by an earlier agent');
    return undefined;
  }
}
