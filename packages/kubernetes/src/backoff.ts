/** Exponential backoff with jitter, for reconnects and retries. */
import type { BackoffOptions } from '@retina-ts/core';

/** Resolved backoff settings. */
export interface BackoffSettings {
  initialMs: number;
  maxMs: number;
  factor: number;
  jitter: number;
}

/** Defaults: 1 s, doubling, capped at 30 s, up to 20 % shorter at random. */
export const DEFAULT_BACKOFF: BackoffSettings = { initialMs: 1000, maxMs: 30_000, factor: 2, jitter: 0.2 };

/** Fills unset backoff options with the defaults and checks the values. */
export function backoffSettings(options: BackoffOptions = {}): BackoffSettings {
  const s = { ...DEFAULT_BACKOFF, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  if (!(s.initialMs > 0)) throw new RangeError(`backoff.initialMs: ${s.initialMs} must be > 0`);
  if (!(s.maxMs >= s.initialMs)) throw new RangeError(`backoff.maxMs: ${s.maxMs} must be >= initialMs (${s.initialMs})`);
  if (!(s.factor >= 1)) throw new RangeError(`backoff.factor: ${s.factor} must be >= 1`);
  if (!(s.jitter >= 0 && s.jitter <= 1)) throw new RangeError(`backoff.jitter: ${s.jitter} must be within 0..1`);
  return s;
}

/** Consecutive-failure counter that yields the next delay. */
export class Backoff {
  readonly settings: BackoffSettings;
  #attempt = 0;

  constructor(
    options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    this.settings = backoffSettings(options);
  }

  /** Failures since the last reset. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The delay before the next try: initialMs × factor^n, capped, minus up to `jitter` of it. */
  next(): number {
    const { initialMs, maxMs, factor, jitter } = this.settings;
    const base = Math.min(maxMs, initialMs * factor ** this.#attempt);
    this.#attempt++;
    return Math.round(base * (1 - jitter * this.random()));
  }

  /** Starts over from initialMs after a success. */
  reset(): void {
    this.#attempt = 0;
  }
}
