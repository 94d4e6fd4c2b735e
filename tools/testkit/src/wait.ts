import { setTimeout as sleep } from 'node:timers/promises';

/** Options of waitFor(). */
export interface WaitOptions {
  /** Give up after this many milliseconds (default 5000). */
  timeoutMs?: number;
  /** Poll interval in milliseconds (default 20). */
  intervalMs?: number;
  /** Text for the timeout error. */
  description?: string;
}

/**
 * Polls `probe` until it returns a value other than undefined/false and returns that value. Used for kernel
 * state that settles asynchronously (objects freed after a process exits); not a timing assertion.
 */
export async function waitFor<T>(probe: () => T | undefined | false, options: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${options.description ?? 'condition'}`);
    }
    await sleep(options.intervalMs ?? 20);
  }
}

/**
 * Like waitFor() for an asynchronous probe: a probe that throws counts as not yet (the last error is named in the
 * timeout message), e.g. an HTTP request to a listener that is still starting.
 */
export async function waitForAsync<T>(probe: () => Promise<T | undefined | false>, options: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${options.description ?? 'condition'}${last ? ` (${String(last)})` : ''}`);
    }
    await sleep(options.intervalMs ?? 200);
  }
}
