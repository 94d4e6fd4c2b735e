/**
 * Totals of per-CPU BPF map values: the kernel keeps one copy of a counters struct per CPU, and user space adds
 * them up. Typed by shape (bpf-runtime's defineStruct declarations have `size` and `offsets`), so core stays free
 * of the native runtime.
 */

/** What sumPerCpu reads of a struct declaration. */
export interface PerCpuLayout<K extends string> {
  readonly size: number;
  readonly offsets: { readonly [F in K]: number };
}

/**
 * Sums the u64 fields `fields` of `layout` over one map key's per-CPU values (host little-endian data, as the
 * kernel writes it on x86_64 and arm64). A value shorter than the struct means the BPF object and the package
 * that decodes it are out of step: a RangeError names the CPU and `struct`, the C struct's name.
 */
export function sumPerCpu<K extends string>(
  values: readonly Uint8Array[],
  layout: PerCpuLayout<K>,
  struct: string,
  fields: readonly K[],
): Record<K, bigint> {
  const total = Object.fromEntries(fields.map((f) => [f, 0n])) as Record<K, bigint>;
  for (const [cpu, value] of values.entries()) {
    if (value.byteLength < layout.size) {
      throw new RangeError(
        `per-CPU value of CPU ${cpu} has ${value.byteLength} bytes; ${struct} needs ${layout.size} ` +
          '(the BPF object and this package are out of step: rebuild the package)',
      );
    }
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    for (const f of fields) total[f] += view.getBigUint64(layout.offsets[f], true);
  }
  return total;
}
