/**
 * BPF timestamps (`bpf_ktime_get_ns`) count CLOCK_MONOTONIC, as `process.hrtime` does. Adding this offset turns one
 * into nanoseconds since the Unix epoch; refresh it now and then, as the wall clock may be stepped.
 */

/** Wall clock minus CLOCK_MONOTONIC, in ns (defaults: now). Fractions of a millisecond are kept exactly. */
export function monotonicToEpochOffsetNs(
  nowEpochMs: number = Date.now(),
  nowMonotonicNs: bigint = process.hrtime.bigint(),
): bigint {
  // Whole milliseconds and the fraction separately: ms * 1e6 as a double would lose the low digits.
  const whole = Math.trunc(nowEpochMs);
  return BigInt(whole) * 1_000_000n + BigInt(Math.round((nowEpochMs - whole) * 1e6)) - nowMonotonicNs;
}
