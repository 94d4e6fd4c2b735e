import { BpfError, BpfNotSupportedError } from './errors.js';
import { BpfLink, type ResourceOwner } from './link.js';
import { native, type NativeProgramHandle, type NativeTestRunArgs } from './native.js';
import { explainUnsupported, tracefsAvailable } from './probes.js';
import { RawSocket, type RawSocketOptions } from './socket.js';
import { attachTc, resolveIfindex, type TcAttachOptions } from './tc.js';

/** Options of attachXdp(). */
export interface XdpAttachOptions {
  ifname?: string;
  ifindex?: number;
  /** `skb` (generic), `native` (driver), or `auto` (default: the kernel picks native when the driver has it). */
  mode?: 'skb' | 'native' | 'auto';
}

/** Options of attachCgroup(). */
export interface CgroupAttachOptions {
  /** cgroup v2 directory, e.g. /sys/fs/cgroup/kubepods.slice. */
  path: string;
  /** `ingress` / `egress` for cgroup_skb programs (default: from the section name), or a libbpf attach type name. */
  attachType?: 'ingress' | 'egress' | (string & {});
}

/** Options of testRun(). */
export interface TestRunOptions {
  /** Runs of the program (default 1); durationNs is the average. Raw tracepoint programs run once per call. */
  repeat?: number;
  /**
   * Run on this CPU (BPF_F_TEST_RUN_ON_CPU; raw tracepoint programs only), e.g. to fill one CPU's perf buffer.
   * Default: the CPU the calling thread is on.
   */
  cpu?: number;
  /** Context passed in (e.g. a struct __sk_buff for TC programs, raw tracepoint args). */
  ctxIn?: Buffer;
  /** Room for the packet as the program left it; dataOut is returned when > 0. */
  dataOutSize?: number;
  /** Room for the context as the program left it; ctxOut is returned when > 0. */
  ctxOutSize?: number;
}

/** Result of testRun(). */
export interface TestRunResult {
  retval: number;
  durationNs: number;
  dataOut?: Buffer;
  ctxOut?: Buffer;
}

const XDP_FLAGS = { auto: 0, skb: 1 << 1, native: 1 << 2 } as const;

/** Something that must be open for its programs to be used. */
interface ProgramOwner extends ResourceOwner {
  assertOpen(operation: string): void;
}

function linkKindFor(type: string, section: string): string {
  if (type === 'tracepoint') return 'tracepoint';
  if (type === 'raw_tracepoint' || type === 'raw_tracepoint_writable') return 'raw_tracepoint';
  if (type === 'tracing' && section.startsWith('tp_btf/')) return 'tp_btf';
  return type;
}

/** A program of a BpfObject. */
export class BpfProgram {
  readonly #native: NativeProgramHandle;
  readonly #owner: ProgramOwner;

  /** Wraps a native program; obtain programs from BpfObject.program(). */
  constructor(handle: NativeProgramHandle, owner: ProgramOwner) {
    this.#native = handle;
    this.#owner = owner;
  }

  /** Program name (the C function name). */
  get name(): string {
    return this.#native.name;
  }

  /** ELF section, e.g. `tc`, `tracepoint/syscalls/sys_enter_getppid`. */
  get sectionName(): string {
    return this.#native.sectionName;
  }

  /** libbpf's program type name: `sched_cls`, `xdp`, `tracepoint`, `raw_tracepoint`, `tracing`, ... */
  get type(): string {
    return this.#native.type;
  }

  /** Program file descriptor (-1 before load or after close). */
  get fd(): number {
    return this.#native.fd;
  }

  /** Kernel program id as bpftool shows it (0 before load). */
  get id(): number {
    return this.#native.id;
  }

  #loaded(operation: string): void {
    this.#owner.assertOpen(`${operation} program '${this.name}'`);
    if (this.fd < 0) {
      throw new BpfError(`${operation} program '${this.name}': load the object first`, {
        errno: 0,
        operation,
        target: this.name,
      });
    }
  }

  #expectType(operation: string, types: readonly string[], hint: string): void {
    if (!types.includes(this.type)) {
      throw new BpfError(
        `${operation}: program '${this.name}' is ${this.type} (section '${this.sectionName}'); this needs ${hint}`,
        { errno: 0, operation, target: this.name },
      );
    }
  }

  #link(handle: ReturnType<NativeProgramHandle['attachTcx']>, onDetach?: () => void): BpfLink {
    return new BpfLink(handle, this.name, this.#owner, onDetach);
  }

  /** Attaches to a classic tracepoint; category/name default to those in the section `tracepoint/<cat>/<name>`. */
  attachTracepoint(category?: string, name?: string): BpfLink {
    const operation = 'attach tracepoint';
    this.#loaded(operation);
    this.#expectType(operation, ['tracepoint'], 'a tracepoint program (SEC("tracepoint/<category>/<name>"))');
    let cat = category;
    let event = name;
    if (cat === undefined || event === undefined) {
      const m = /^(?:tracepoint|tp)\/([^/]+)\/([^/]+)$/.exec(this.sectionName);
      if (!m) {
        throw new BpfError(
          `${operation}: give category and name; section '${this.sectionName}' does not name a tracepoint`,
          { errno: 0, operation, target: this.name },
        );
      }
      cat ??= m[1];
      event ??= m[2];
    }
    if (!tracefsAvailable()) {
      throw new BpfNotSupportedError(explainUnsupported({ feature: 'tracefs' }), {
        errno: 0,
        operation,
        target: `${cat}/${event}`,
        feature: 'tracefs',
      });
    }
    return this.#link(this.#native.attachTracepoint(cat ?? '', event ?? ''));
  }

  /** Attaches to a raw tracepoint; the name defaults to the one in the section `raw_tracepoint/<name>`. */
  attachRawTracepoint(name?: string): BpfLink {
    const operation = 'attach raw tracepoint';
    this.#loaded(operation);
    this.#expectType(operation, ['raw_tracepoint', 'raw_tracepoint_writable'], 'a raw_tracepoint program');
    let event = name;
    if (event === undefined) {
      const m = /^(?:raw_tracepoint|raw_tp)(?:\.w)?\/(.+)$/.exec(this.sectionName);
      if (!m) {
        throw new BpfError(`${operation}: give a name; section '${this.sectionName}' does not name one`, {
          errno: 0,
          operation,
          target: this.name,
        });
      }
      event = m[1];
    }
    return this.#link(this.#native.attachRawTracepoint(event ?? ''));
  }

  /** Attaches a BTF tracepoint program (SEC("tp_btf/<name>")); the target comes from the section. */
  attachBtfTracepoint(): BpfLink {
    const operation = 'attach tp_btf';
    this.#loaded(operation);
    this.#expectType(operation, ['tracing'], 'a tp_btf program (SEC("tp_btf/<tracepoint>"))');
    return this.#link(this.#native.attachTrace());
  }

  /** Attaches according to the section name (tracepoint, raw tracepoint, tp_btf and other auto-attachable kinds). */
  attach(): BpfLink {
    const operation = 'attach';
    this.#loaded(operation);
    const manual: Record<string, string> = {
      sched_cls: 'attachTc()',
      xdp: 'attachXdp()',
      cgroup_skb: 'attachCgroup()',
      socket_filter: 'attachSocketFilter() or openRawSocket()',
    };
    const method = manual[this.type];
    if (method) {
      throw new BpfError(`attach: ${this.type} program '${this.name}' needs a target; use ${method}`, {
        errno: 0,
        operation,
        target: this.name,
      });
    }
    if (this.type === 'tracepoint' && !tracefsAvailable()) {
      throw new BpfNotSupportedError(explainUnsupported({ feature: 'tracefs' }), {
        errno: 0,
        operation,
        target: this.name,
        feature: 'tracefs',
      });
    }
    return this.#link(this.#native.attachAuto(linkKindFor(this.type, this.sectionName)));
  }

  /** Attaches a sched_cls program to an interface: tcx on Linux 6.6+, clsact otherwise (see TcAttachOptions). */
  attachTc(options: TcAttachOptions): BpfLink {
    this.#loaded('attach tc');
    const { link, onDetach } = attachTc(this.#native, options);
    return this.#link(link, onDetach);
  }

  /** Attaches an XDP program to an interface through a BPF link (Linux 5.9+). */
  attachXdp(options: XdpAttachOptions): BpfLink {
    const operation = 'attach xdp';
    this.#loaded(operation);
    this.#expectType(operation, ['xdp'], 'an xdp program (SEC("xdp"))');
    const mode = options.mode ?? 'auto';
    const flags = XDP_FLAGS[mode];
    if (flags === undefined) {
      throw new BpfError(`${operation}: mode must be skb, native or auto, got '${String(mode)}'`, {
        errno: 0,
        operation,
        target: this.name,
      });
    }
    return this.#link(this.#native.attachXdp(resolveIfindex(options, operation), flags));
  }

  /** Attaches a cgroup program (cgroup_skb ingress/egress, or any cgroup attach type) to a cgroup v2 directory. */
  attachCgroup(options: CgroupAttachOptions): BpfLink {
    const operation = 'attach cgroup';
    this.#loaded(operation);
    if (typeof options?.path !== 'string' || options.path === '') {
      throw new BpfError(`${operation}: options.path must be a cgroup v2 directory`, { errno: 0, operation });
    }
    const fromSection = /\/(ingress|egress)$/.exec(this.sectionName)?.[1];
    const requested = options.attachType ?? fromSection;
    if (requested === undefined) {
      throw new BpfError(`${operation}: give attachType; section '${this.sectionName}' does not imply one`, {
        errno: 0,
        operation,
        target: this.name,
      });
    }
    if (this.type === 'cgroup_skb' && fromSection && requested !== fromSection) {
      throw new BpfError(
        `${operation}: program '${this.name}' was loaded for ${fromSection} (section '${this.sectionName}'), not ${requested}`,
        { errno: 0, operation, target: this.name },
      );
    }
    const names = native().attachTypeNames();
    const libbpfName =
      requested === 'ingress'
        ? 'cgroup_inet_ingress'
        : requested === 'egress'
          ? 'cgroup_inet_egress'
          : requested;
    const attachType = names.indexOf(libbpfName);
    if (attachType < 0) {
      throw new BpfError(
        `${operation}: unknown attach type '${requested}'; use ingress, egress or a libbpf name`,
        {
          errno: 0,
          operation,
          target: this.name,
        },
      );
    }
    return this.#link(this.#native.attachCgroup(options.path, attachType));
  }

  /** Attaches a socket filter to an open socket; the link keeps its own reference to the socket until detach. */
  attachSocketFilter(socketFd: number): BpfLink {
    const operation = 'attach socket filter';
    this.#loaded(operation);
    this.#expectType(operation, ['socket_filter'], 'a socket filter program (SEC("socket"))');
    if (!Number.isInteger(socketFd) || socketFd < 0) {
      throw new BpfError(`${operation}: socketFd must be a file descriptor, got ${socketFd}`, {
        errno: 0,
        operation,
      });
    }
    return this.#link(this.#native.attachSocketFilter(socketFd));
  }

  /** Opens an AF_PACKET socket (optionally bound to one interface) with this socket filter attached. */
  openRawSocket(options: RawSocketOptions = {}): RawSocket {
    const operation = 'open raw socket';
    this.#loaded(operation);
    this.#expectType(operation, ['socket_filter'], 'a socket filter program (SEC("socket"))');
    return new RawSocket(this.fd, this.name, options, this.#owner);
  }

  #testRunArgs(data: Buffer, options: TestRunOptions): NativeTestRunArgs {
    if (!Buffer.isBuffer(data)) throw new TypeError('testRun: data must be a Buffer');
    const repeat = options.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1 || repeat > 0xffffffff) {
      throw new TypeError(`testRun: repeat must be a positive 32-bit integer, got ${repeat}`);
    }
    const rawTracepoint = this.type === 'raw_tracepoint' || this.type === 'raw_tracepoint_writable';
    if (rawTracepoint && repeat !== 1) {
      throw new TypeError(`testRun: raw tracepoint programs run once per call; got repeat ${repeat}`);
    }
    const cpu = options.cpu ?? -1;
    if (options.cpu !== undefined && (!Number.isInteger(cpu) || cpu < 0)) {
      throw new TypeError(`testRun: cpu must be a non-negative integer, got ${cpu}`);
    }
    if (options.cpu !== undefined && !rawTracepoint) {
      throw new TypeError(
        `testRun: cpu applies to raw tracepoint programs only; '${this.name}' is ${this.type}`,
      );
    }
    const dataOutSize = options.dataOutSize ?? 0;
    const ctxOutSize = options.ctxOutSize ?? 0;
    for (const [name, v] of [
      ['dataOutSize', dataOutSize],
      ['ctxOutSize', ctxOutSize],
    ] as const) {
      if (!Number.isInteger(v) || v < 0)
        throw new TypeError(`testRun: ${name} must be a non-negative integer, got ${v}`);
    }
    // The kernel refuses a repeat count for raw tracepoints (they always run once).
    return [data, options.ctxIn ?? null, rawTracepoint ? 0 : repeat, dataOutSize, ctxOutSize, cpu];
  }

  /** Runs the program in the kernel on `data` with BPF_PROG_TEST_RUN (packet programs, raw tracepoints, ...). */
  testRun(data: Buffer, options: TestRunOptions = {}): TestRunResult {
    this.#loaded('test run');
    return this.#native.testRun(...this.#testRunArgs(data, options));
  }

  /** testRun() on a worker thread, for long runs (large `repeat`) that must not block the event loop. */
  testRunAsync(data: Buffer, options: TestRunOptions = {}): Promise<TestRunResult> {
    this.#loaded('test run');
    return this.#native.testRunAsync(...this.#testRunArgs(data, options));
  }
}
