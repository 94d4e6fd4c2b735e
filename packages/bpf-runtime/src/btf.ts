// BTF through libbpf: kernel enums by name (drop reasons and the like) and struct layouts of compiled BPF objects,
// so user space takes names from the running kernel and checks its record layouts against what clang compiled.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { native, type NativeBtfHandle } from './native.js';
import type { StructLayout } from './struct.js';

/** One enumerator: its name and value (bigint: ENUM64 values may exceed 2^53). */
export interface BtfEnumMember {
  readonly name: string;
  readonly value: bigint;
}

/** An enum type read from BTF. */
export interface BtfEnum {
  readonly name: string;
  /** Type id inside the BTF it came from. */
  readonly typeId: number;
  /** Size in bytes (4 for ENUM, usually 8 for ENUM64). */
  readonly size: number;
  /** Members are signed. */
  readonly signed: boolean;
  readonly members: readonly BtfEnumMember[];
}

/** An enum found in a kernel module's BTF, with the module's name. */
export interface ModuleBtfEnum extends BtfEnum {
  readonly module: string;
}

/** One member of a struct or union as BTF describes it. */
export interface BtfMember {
  /** Empty for an anonymous struct or union member. */
  readonly name: string;
  /** Byte offset (bitOffset / 8, rounded down for bitfields). */
  readonly offset: number;
  readonly bitOffset: number;
  /** Width of a bitfield, 0 for an ordinary member. */
  readonly bitSize: number;
  /** Size in bytes of the member's type (-1 when BTF cannot size it). */
  readonly size: number;
}

/** A struct or union as BTF describes it. */
export interface BtfStruct {
  readonly name: string;
  readonly kind: 'struct' | 'union';
  readonly size: number;
  readonly members: readonly BtfMember[];
}

/** Where the kernel exposes its own BTF and the split BTF of each loaded module. */
export const KERNEL_BTF_DIR = '/sys/kernel/btf';

/**
 * Parsed BTF: the running kernel's, a module's split BTF on top of it, or the `.BTF` section of a compiled BPF
 * object. Holds native memory until close() (or garbage collection).
 */
export class Btf {
  readonly #handle: NativeBtfHandle;
  /** The file it was read from (`vmlinux` for libbpf's own search). */
  readonly path: string;

  private constructor(handle: NativeBtfHandle, path: string) {
    this.#handle = handle;
    this.path = path;
  }

  /** The running kernel's BTF, found where libbpf looks (/sys/kernel/btf/vmlinux first). */
  static kernel(): Btf {
    return new Btf(new (native().NativeBtf)(null), 'vmlinux');
  }

  /**
   * Reads BTF from `path`: a raw BTF file (/sys/kernel/btf/*) or an ELF object with a `.BTF` section (a compiled
   * `.bpf.o`). With `base`, `path` is split BTF on top of it (a kernel module's). Throws BpfError naming the path.
   */
  static open(path: string, opts: { base?: Btf } = {}): Btf {
    if (typeof path !== 'string' || path.length === 0) throw new TypeError('BTF path must be a non-empty string');
    const base = opts.base ? opts.base.#handle : undefined;
    return new Btf(new (native().NativeBtf)(path, base), path);
  }

  /** Number of type ids (type 0, void, included). */
  get typeCount(): number {
    return this.#handle.typeCount;
  }

  /** Named enums whose name is listed in `match` or accepted by it; the first of two same-named enums wins. */
  enums(match: readonly string[] | ((name: string) => boolean)): Map<string, BtfEnum> {
    const arg = typeof match === 'function' ? match : [...match];
    const out = new Map<string, BtfEnum>();
    for (const e of this.#handle.enums(arg)) {
      out.set(e.name, {
        name: e.name,
        typeId: e.typeId,
        size: e.size,
        signed: e.signed,
        members: e.names.map((name, i) => ({ name, value: e.values[i] ?? 0n })),
      });
    }
    return out;
  }

  /** One enum by name, or undefined. */
  enum(name: string): BtfEnum | undefined {
    return this.enums([name]).get(name);
  }

  /** The struct (or, failing that, union) named `name`, or undefined. */
  struct(name: string): BtfStruct | undefined {
    const s = this.#handle.struct(name);
    if (!s) return undefined;
    return {
      ...s,
      members: s.members.map((m) => ({ ...m, offset: Math.floor(m.bitOffset / 8) })),
    };
  }

  /** Frees the native BTF; further calls throw. Split BTF opened on this one stays usable. */
  close(): void {
    this.#handle.close();
  }
}

/** Runs `fn` with BTF opened from `path` (the running kernel's when undefined), closing it afterwards. */
function withBtf<T>(path: string | undefined, fn: (btf: Btf) => T): T {
  const btf = path === undefined ? Btf.kernel() : Btf.open(path);
  try {
    return fn(btf);
  } finally {
    btf.close();
  }
}

/** Enums by name from the kernel's BTF (`path`, default: the running kernel's). */
export function kernelEnums(names: readonly string[], path?: string): Map<string, BtfEnum> {
  return withBtf(path, (btf) => btf.enums(names));
}

/** One kernel enum as value → member name, or undefined when the kernel has no enum of that name. */
export function kernelEnum(name: string, path?: string): Map<number, string> | undefined {
  const e = kernelEnums([name], path).get(name);
  if (!e) return undefined;
  const out = new Map<number, string>();
  for (const m of e.members) if (!out.has(Number(m.value))) out.set(Number(m.value), m.name);
  return out;
}

/**
 * Enums whose names satisfy `match` in every loaded module's split BTF (`<dir>/<module>`, vmlinux excluded).
 * Modules whose BTF cannot be read are skipped: a module can unload while we read.
 */
export function moduleEnums(
  match: (name: string) => boolean,
  opts: { dir?: string; basePath?: string } = {},
): ModuleBtfEnum[] {
  const dir = opts.dir ?? KERNEL_BTF_DIR;
  const basePath = opts.basePath ?? join(dir, 'vmlinux');
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  const out: ModuleBtfEnum[] = [];
  withBtf(basePath, (base) => {
    for (const module of entries.sort()) {
      const path = join(dir, module);
      if (path === basePath) continue;
      let btf: Btf;
      try {
        btf = Btf.open(path, { base });
      } catch {
        continue; // unreadable or unloaded meanwhile: nothing to learn from it
      }
      try {
        for (const e of btf.enums(match).values()) out.push({ ...e, module });
      } finally {
        btf.close();
      }
    }
  });
  return out;
}

/**
 * Differences between a declared layout and the struct `name` in `btf`, one sentence each (empty when they
 * agree): the struct's size, and each member's presence, offset and size. Members of the BPF struct that the
 * declaration leaves out are differences too, so a field added in C is noticed.
 */
export function layoutMismatches(btf: Btf, name: string, layout: StructLayout<object>): string[] {
  const s = btf.struct(name);
  if (!s) return [`struct ${name}: not in the BTF of ${btf.path}`];
  const problems: string[] = [];
  if (s.size !== layout.size) {
    problems.push(`struct ${name}: size ${s.size} in ${btf.path}, ${layout.size} declared`);
  }
  const byName = new Map(s.members.map((m) => [m.name, m]));
  const declared = new Set<string>();
  for (const f of layout.fields) {
    declared.add(f.name);
    const m = byName.get(f.name);
    if (!m) {
      problems.push(`${name}.${f.name}: declared at offset ${f.offset} but the BPF struct has no such member`);
      continue;
    }
    if (m.bitSize !== 0) {
      problems.push(`${name}.${f.name}: is a ${m.bitSize}-bit bitfield in the BPF struct; declare its container`);
      continue;
    }
    if (m.offset !== f.offset) {
      problems.push(`${name}.${f.name}: offset ${m.offset} in ${btf.path}, ${f.offset} declared`);
    }
    if (m.size !== f.size) {
      problems.push(`${name}.${f.name}: size ${m.size} in ${btf.path}, ${f.size} declared`);
    }
  }
  for (const m of s.members) {
    if (!declared.has(m.name)) {
      problems.push(
        `${name}.${m.name || '(anonymous)'}: in ${btf.path} at offset ${m.offset} (size ${m.size}) but not declared`,
      );
    }
  }
  return problems;
}

/** layoutMismatches() against the BTF of the compiled BPF object at `objectPath`. */
export function objectLayoutMismatches(objectPath: string, name: string, layout: StructLayout<object>): string[] {
  return withBtf(objectPath, (btf) => layoutMismatches(btf, name, layout));
}
