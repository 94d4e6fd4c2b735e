/**
 * Retries of uploads with exponential backoff. Every failed attempt is logged with the error text only (the
 * callers make sure no credential is in it), and the last error is returned to the caller for the report.
 */
import pRetry from 'p-retry';
import type { Logger } from '@retina-ts/core';

/** Backoff settings. */
export interface RetryOptions {
  /** Retries after the first attempt (default 4). */
  retries?: number;
  /** First delay (default 1 s), doubled each time up to maxTimeoutMs (default 30 s). */
  minTimeoutMs?: number;
  maxTimeoutMs?: number;
}

/** Runs `fn` until it succeeds or the retries are used up; rethrows the last error. */
export async function withRetry<T>(what: string, fn: () => Promise<T>, logger: Logger, o: RetryOptions = {}): Promise<T> {
  return pRetry(fn, {
    retries: o.retries ?? 4,
    factor: 2,
    minTimeout: o.minTimeoutMs ?? 1000,
    maxTimeout: o.maxTimeoutMs ?? 30_000,
    randomize: true,
    onFailedAttempt: (err) => {
      logger.warn(
        { output: what, attempt: err.attemptNumber, retriesLeft: err.retriesLeft, error: err.message },
        'upload attempt failed',
      );
    },
  });
}
