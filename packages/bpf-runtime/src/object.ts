import {
  decodeConstant,
  encodeConstant,
  type ConstantInfo,
  type ConstantValue,
  type GlobalInfo,
} from './constants.js';
import { BpfError } from './errors.js';
import type { Releasable, ResourceOwner } from './link.js';
import { BpfMap } from './map.js';
import { native, type NativeConstantInfo, type NativeObjectHandle } from './native.js';
import { BpfProgram } from './program.js';
import { setMapOwner } from './ringbuf.js';

/** Options of BpfObject.open(). */
export interface BpfObjectOpenOptions {
  /** Object name (prefix of internal map names); defaults to the file name, required for clarity with Buffers. */
  name?: string;
  /** BTF file to use for CO-RE relocations instead of /sys/kernel/btf/vmlinux (kernels without BTF). */
  btfCustomPath?: string;
}

function list(names: readonly string[]): string {
  return names.length === 0 ? '(none)' : names.join(', ');
}

/**
 * A compiled BPF ELF object. Lifecycle: open() → set constants / map sizes / autoload → load() → attach programs,
 * use maps, read ring buffers → close(). Closing detaches every link and stops every reader made from it; an
 * unreachable object and its links are also released by garbage collection.
 */
/** Name prefix of the `.rodata` anchors `RETINA_BTF_STRUCT(name)` (retina/common.h) declares. */
const BTF_ANCHOR_PREFIX = 'retina_btf_';

export class BpfObject implements ResourceOwner {
  readonly #native: NativeObjectHandle;
  readonly #resources = new Set<Releasable>();
  readonly #programs = new Map<string, BpfProgram>();
  readonly #maps = new Map<string, BpfMap>();
  #constants: NativeConstantInfo[] | undefined;
  #globals: NativeConstantInfo[] | undefined;

  private constructor(handle: NativeObjectHandle) {
    this.#native = handle;
  }

  /** Opens a BPF ELF object from a file path or from its bytes (e.g. read from the plugin's dist/bpf). */
  static open(pathOrBuffer: string | Buffer, options: BpfObjectOpenOptions = {}): BpfObject {
    if (typeof pathOrBuffer !== 'string' && !Buffer.isBuffer(pathOrBuffer)) {
      throw new TypeError('BpfObject.open: pass a file path or a Buffer with the ELF bytes');
    }
    const api = native();
    return new BpfObject(new api.NativeObject(pathOrBuffer, options.name, options.btfCustomPath));
  }

  /** Object name. */
  get name(): string {
    return this.#native.name;
  }

  /** True after a successful load(). */
  get loaded(): boolean {
    return this.#native.loaded;
  }

  /** True after close(). */
  get closed(): boolean {
    return this.#native.closed;
  }

  /** Names of the object's programs. */
  get programs(): string[] {
    return this.#native.programs().map((p) => p.name);
  }

  /** Names of the object's maps (without libbpf's internal .rodata/.bss/.data maps). */
  get maps(): string[] {
    return this.#native
      .maps()
      .filter((m) => !m.internal)
      .map((m) => m.name);
  }

  /** The `const volatile` globals that setConstant() can change. */
  get constants(): ConstantInfo[] {
    return this.#constantList().map(({ name, size, kind, signed }) => ({ name, size, kind, signed }));
  }

  #constantList(): NativeConstantInfo[] {
    // RETINA_BTF_STRUCT anchors only keep a struct in the object's BTF; they are not settings.
    this.#constants ??= this.#native.constants().filter((c) => !c.name.startsWith(BTF_ANCHOR_PREFIX));
    return this.#constants;
  }

  /** Every global variable: the `.rodata` constants and the `.data` / `.bss` variables, with their section. */
  get globals(): GlobalInfo[] {
    return this.#globalList().map(({ name, section, size, kind, signed }) => ({
      name,
      section,
      size,
      kind,
      signed,
    }));
  }

  #globalList(): NativeConstantInfo[] {
    this.assertOpen('list globals');
    this.#globals ??= this.#native.globals();
    return this.#globals;
  }

  #global(name: string, operation: string): NativeConstantInfo {
    const info = this.#globalList().find((g) => g.name === name);
    if (!info) {
      throw new BpfError(
        `${operation}: object '${this.name}' has no global '${name}'; its globals are: ${list(this.#globalList().map((g) => g.name))}`,
        { errno: 2, operation, target: name },
      );
    }
    return info;
  }

  /**
   * Reads a global variable: after load its live value (what the programs see now, e.g. a counter in `.bss`),
   * before load its initial value. Integers decode to number (up to 4 bytes) or bigint (8 bytes), bools to
   * boolean, arrays and structs to a Buffer copy.
   */
  readGlobal(name: string): ConstantValue {
    const operation = 'read global';
    this.assertOpen(operation);
    const info = this.#global(name, operation);
    return decodeConstant(info, this.#native.readGlobal(info.section, info.offset, info.size));
  }

  /**
   * Writes a global variable. After load: a `.data` or `.bss` variable, in place (the programs see it at once;
   * `.rodata` is read-only then). Before load: the initial value of any global, constants included.
   */
  writeGlobal(name: string, value: ConstantValue): this {
    const operation = 'write global';
    this.assertOpen(operation);
    const info = this.#global(name, operation);
    this.#native.writeGlobal(info.section, info.offset, encodeConstant(info, value));
    return this;
  }

  /** Throws if the object is closed; used by its programs and maps. */
  assertOpen(operation: string): void {
    if (this.closed) {
      throw new BpfError(`${operation}: object '${this.name}' is closed`, {
        errno: 9,
        operation,
        target: this.name,
      });
    }
  }

  #beforeLoad(operation: string): void {
    this.assertOpen(operation);
    if (this.loaded) {
      throw new BpfError(`${operation}: object '${this.name}' is already loaded; do this before load()`, {
        errno: 16,
        operation,
        target: this.name,
      });
    }
  }

  /** Sets a `.rodata` `const volatile` global before load; the verifier then treats it as a constant. */
  setConstant(name: string, value: ConstantValue): this {
    const operation = 'set constant';
    this.#beforeLoad(operation);
    const info = this.#constantList().find((c) => c.name === name);
    if (!info) {
      throw new BpfError(
        `${operation}: object '${this.name}' has no constant '${name}'; its constants are: ${list(this.#constantList().map((c) => c.name))} (declare it as a const volatile global)`,
        { errno: 2, operation, target: name },
      );
    }
    this.#native.writeConstant(info.section, info.offset, encodeConstant(info, value));
    return this;
  }

  /** Changes a map's max_entries before load (e.g. a ring buffer size, a power of two multiple of the page size). */
  setMapMaxEntries(mapName: string, maxEntries: number): this {
    const operation = 'set map max entries';
    this.#beforeLoad(operation);
    this.#assertMap(mapName, operation);
    if (!Number.isInteger(maxEntries) || maxEntries <= 0 || maxEntries > 0xffffffff) {
      throw new BpfError(
        `${operation}: map '${mapName}' needs a positive 32-bit integer, got ${maxEntries}`,
        {
          errno: 22,
          operation,
          target: mapName,
        },
      );
    }
    this.#native.setMapMaxEntries(mapName, maxEntries);
    return this;
  }

  /** Pins a map at `path` on load, or reuses the map already pinned there (maps shared across plugins). */
  setMapPinPath(mapName: string, path: string): this {
    const operation = 'set map pin path';
    this.#beforeLoad(operation);
    this.#assertMap(mapName, operation);
    this.#native.setMapPinPath(mapName, path);
    return this;
  }

  /** Chooses whether a program is loaded (false skips it, e.g. a variant the kernel cannot verify). */
  setProgramAutoload(programName: string, autoload: boolean): this {
    const operation = 'set program autoload';
    this.#beforeLoad(operation);
    this.#assertProgram(programName, operation);
    this.#native.setProgramAutoload(programName, autoload);
    return this;
  }

  /** Creates the maps and loads the programs; a verifier refusal throws BpfVerifierError with the log. */
  load(): this {
    this.#beforeLoad('load');
    this.#native.load();
    return this;
  }

  #assertProgram(name: string, operation: string): void {
    if (!this.programs.includes(name)) {
      throw new BpfError(
        `${operation}: object '${this.name}' has no program '${name}'; its programs are: ${list(this.programs)}`,
        { errno: 2, operation, target: name },
      );
    }
  }

  #assertMap(name: string, operation: string): void {
    if (!this.maps.includes(name)) {
      throw new BpfError(
        `${operation}: object '${this.name}' has no map '${name}'; its maps are: ${list(this.maps)}`,
        {
          errno: 2,
          operation,
          target: name,
        },
      );
    }
  }

  /** The program named `name` (the C function name). */
  program(name: string): BpfProgram {
    const operation = 'find program';
    this.assertOpen(operation);
    let prog = this.#programs.get(name);
    if (!prog) {
      this.#assertProgram(name, operation);
      prog = new BpfProgram(this.#native.program(name), this);
      this.#programs.set(name, prog);
    }
    return prog;
  }

  /** The map named `name`; maps exist after load(). */
  map(name: string): BpfMap {
    const operation = 'find map';
    this.assertOpen(operation);
    let map = this.#maps.get(name);
    if (!map) {
      this.#assertMap(name, operation);
      if (!this.loaded) {
        throw new BpfError(`${operation}: map '${name}' exists only after load()`, {
          errno: 9,
          operation,
          target: name,
        });
      }
      map = new BpfMap(this.#native.map(name), this);
      setMapOwner(map, this);
      this.#maps.set(name, map);
    }
    return map;
  }

  /** Registers a link or reader to release on close(). */
  track(resource: Releasable): void {
    this.#resources.add(resource);
  }

  /** Forgets a released link or reader. */
  untrack(resource: Releasable): void {
    this.#resources.delete(resource);
  }

  /** Detaches all links, stops all readers, closes sockets, then frees the object. Idempotent. */
  close(): void {
    if (this.closed) return;
    const errors: unknown[] = [];
    for (const resource of [...this.#resources]) {
      try {
        resource.release();
      } catch (err) {
        errors.push(err);
      }
    }
    this.#resources.clear();
    this.#native.close();
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1)
      throw new AggregateError(errors, `close object '${this.name}': ${errors.length} failures`);
  }
}
