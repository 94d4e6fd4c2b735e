/**
 * Gives free native heap pages back to the system now and then. Loading BPF objects (libbpf parses the kernel's
 * BTF) and the threads that read ring buffers leave freed memory in glibc's arenas, which glibc keeps resident;
 * trimming after start-up and then periodically takes about 10 MB off an idle agent's RSS.
 */
import type { Logger } from '@retina-ts/core';

/** Options of startNativeHeapTrim. */
export interface NativeHeapTrimOptions {
  logger: Logger;
  /** Delay of the first trim, once plugins have loaded their objects (ms, default 5000). */
  firstMs?: number;
  /** Interval of the later trims (ms, default 15000). */
  everyMs?: number;
  /** The trim call; by default bpf-runtime's `trimNativeHeap`, loaded when first needed. */
  load?: () => Promise<() => boolean>;
}

const loadTrim = async (): Promise<() => boolean> => (await import('@retina-ts/bpf-runtime')).trimNativeHeap;

/** Starts the periodic trim; the returned function stops it. A platform without the call stops it quietly. */
export function startNativeHeapTrim(options: NativeHeapTrimOptions): () => void {
  const { logger, firstMs = 5_000, everyMs = 15_000, load = loadTrim } = options;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const tick = async (): Promise<void> => {
    try {
      const trim = await load();
      if (stopped) return;
      trim();
    } catch (err) {
      // No addon on this platform (or no glibc): nothing to trim, and nothing to retry.
      logger.debug({ err: (err as Error).message }, 'native heap trimming unavailable');
      return;
    }
    timer = setTimeout(() => void tick(), everyMs).unref();
  };
  timer = setTimeout(() => void tick(), firstMs).unref();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
