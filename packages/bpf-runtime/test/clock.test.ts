import { describe, expect, it } from 'vitest';
import { monotonicToEpochOffsetNs } from '../src/clock.js';

describe('monotonicToEpochOffsetNs', () => {
  it('is the wall clock minus the monotonic clock in nanoseconds, fractions of a millisecond kept', () => {
    expect(monotonicToEpochOffsetNs(1_700_000_000_123, 5_000_000_000n)).toBe(1_700_000_000_123_000_000n - 5_000_000_000n);
    expect(monotonicToEpochOffsetNs(1_700_000_000_123.25, 0n)).toBe(1_700_000_000_123_250_000n);
  });

  it('defaults to now: adding it to the monotonic clock gives the wall clock', () => {
    const epochNs = monotonicToEpochOffsetNs() + process.hrtime.bigint();
    const diffMs = Number(epochNs / 1_000_000n) - Date.now();
    expect(Math.abs(diffMs)).toBeLessThan(1_000);
  });
});
