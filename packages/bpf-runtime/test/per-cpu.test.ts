import { describe, expect, it } from 'vitest';
import { sumPerCpuFields } from '../src/index.js';

/** `struct { u64 a; u32 pad[2]; u64 b; }` as defineStruct declares it. */
const LAYOUT = { size: 24, offsets: { a: 0, b: 16 } } as const;

/** One CPU's value of LAYOUT, little-endian as the kernel writes it on x86_64 and arm64. */
function value(a: bigint, b: bigint): Uint8Array {
  const view = new DataView(new ArrayBuffer(LAYOUT.size));
  view.setBigUint64(LAYOUT.offsets.a, a, true);
  view.setBigUint64(LAYOUT.offsets.b, b, true);
  return new Uint8Array(view.buffer);
}

describe('sumPerCpuFields', () => {
  it('adds each field over the CPUs, exactly beyond 2^53', () => {
    const big = 2n ** 62n;
    expect(
      sumPerCpuFields([value(1n, 10n), value(0n, 0n), value(big, 5n)], LAYOUT, 'demo', ['a', 'b']),
    ).toEqual({
      a: big + 1n,
      b: 15n,
    });
    expect(sumPerCpuFields([value(3n, 4n)], LAYOUT, 'demo', ['b'])).toEqual({ b: 4n });
  });

  it('gives zeros for no CPUs and reads values that start inside a larger buffer', () => {
    expect(sumPerCpuFields([], LAYOUT, 'demo', ['a', 'b'])).toEqual({ a: 0n, b: 0n });
    const backing = Buffer.alloc(LAYOUT.size + 3);
    Buffer.from(value(7n, 9n)).copy(backing, 3);
    expect(sumPerCpuFields([backing.subarray(3)], LAYOUT, 'demo', ['a', 'b'])).toEqual({ a: 7n, b: 9n });
  });

  it('names the CPU and the struct of a value that is too short', () => {
    expect(() => sumPerCpuFields([value(1n, 1n), Buffer.alloc(8)], LAYOUT, 'demo', ['a'])).toThrow(
      'per-CPU value of CPU 1 has 8 bytes; demo needs 24 (the BPF object and this package are out of step: rebuild the package)',
    );
  });
});
