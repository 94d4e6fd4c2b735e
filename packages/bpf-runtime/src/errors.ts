import { constants } from 'node:os';

/** What the native layer reports about a failed kernel or libbpf call. */
export interface NativeErrorInfo {
  /** Positive errno. */
  errno: number;
  /** Operation that failed, e.g. `load`, `attach tcx ingress`. */
  op: string;
  /** What it was applied to: an object, program or map name, a path. */
  target: string;
  /** Extra context (interface, offsets, hints). */
  detail: string;
  /** libbpf messages captured during the call; holds the verifier log on load failures. */
  log: string;
  /** strerror() text. */
  message: string;
}

// errno values the kernel uses internally that have no name in os.constants.errno.
const KERNEL_ONLY_ERRNO: Record<number, [string, string]> = {
  524: ['ENOTSUPP', 'Operation not supported'],
};

const ERRNO_NAMES: Map<number, string> = new Map(
  Object.entries(constants.errno).map(([name, value]) => [value as number, name]),
);

/** Symbolic name of a positive errno (`ENOENT`), or `E<number>` when unknown. */
export function errnoName(errno: number): string {
  return KERNEL_ONLY_ERRNO[errno]?.[0] ?? ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

function hintFor(errno: number): string {
  if (errno === constants.errno.EPERM) {
    return ' (needs root or CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN; check probes.hasCapabilities())';
  }
  return '';
}

/** Options shared by the error classes. */
export interface BpfErrorOptions {
  errno: number;
  operation: string;
  target?: string;
  detail?: string;
  libbpfLog?: string;
  cause?: unknown;
}

/** A failed BPF operation: carries the errno, its symbolic code, the operation and what it was applied to. */
export class BpfError extends Error {
  /** Positive errno (0 for failures detected before calling the kernel). */
  readonly errno: number;
  /** Symbolic errno, e.g. `EPERM`. */
  readonly code: string;
  /** What was being done, e.g. `attach tcx ingress`. */
  readonly operation: string;
  /** What it was done to: object, program, map, path. */
  readonly target: string | undefined;
  /** Extra context. */
  readonly detail: string | undefined;
  /** libbpf's messages for the failed call, if any. */
  readonly libbpfLog: string | undefined;

  constructor(message: string, options: BpfErrorOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BpfError';
    this.errno = options.errno;
    this.code = options.errno === 0 ? 'EINVAL' : errnoName(options.errno);
    this.operation = options.operation;
    this.target = options.target;
    this.detail = options.detail;
    this.libbpfLog = options.libbpfLog;
  }
}

/** The verifier refused a program; `log` holds the tail of the verifier log. */
export class BpfVerifierError extends BpfError {
  /** Program the verifier refused. */
  readonly program: string;
  /** Last lines of the verifier log (where the reason is). */
  readonly log: string;
  /** The whole verifier log. */
  readonly fullLog: string;

  constructor(message: string, options: BpfErrorOptions & { program: string; log: string; fullLog: string }) {
    super(message, options);
    this.name = 'BpfVerifierError';
    this.program = options.program;
    this.log = options.log;
    this.fullLog = options.fullLog;
  }
}

/** The kernel (or the environment) lacks a feature; says what is missing and the minimum kernel if known. */
export class BpfNotSupportedError extends BpfError {
  /** The missing feature, e.g. `tcx`, `program type tracing`. */
  readonly feature: string;
  /** Minimum Linux version providing it, e.g. `6.6`, when known. */
  readonly minKernel: string | undefined;

  constructor(message: string, options: BpfErrorOptions & { feature: string; minKernel?: string }) {
    super(message, options);
    this.name = 'BpfNotSupportedError';
    this.feature = options.feature;
    this.minKernel = options.minKernel;
  }
}

/** The verifier log found in libbpf's output of a failed load, split into program name and log text. */
export interface ParsedVerifierLog {
  program: string;
  log: string;
}

const LOG_BLOCK = /prog '([^']+)': -- BEGIN PROG LOAD LOG --\n([\s\S]*?)-- END PROG LOAD LOG --/;
const FAILED_PROG = /prog '([^']+)': (?:BPF program load failed|failed to load)/;

/** Extracts the verifier log block libbpf prints for a refused program; undefined when there is none. */
export function parseVerifierLog(libbpfOutput: string): ParsedVerifierLog | undefined {
  const block = LOG_BLOCK.exec(libbpfOutput);
  if (block) return { program: block[1] ?? '', log: block[2] ?? '' };
  const failed = FAILED_PROG.exec(libbpfOutput);
  if (failed) return { program: failed[1] ?? '', log: '' };
  return undefined;
}

/** Last `lines` non-empty lines of a log. */
export function logTail(log: string, lines = 30): string {
  const all = log.split('\n').filter((line) => line.trim() !== '');
  return all.slice(-lines).join('\n');
}

/** Turns a native failure report into the matching error class (used as the addon's error factory). */
export function errorFromNative(info: NativeErrorInfo): BpfError {
  const known = KERNEL_ONLY_ERRNO[info.errno];
  const reason = known ? known[1] : info.message;
  const base = `${info.op} ${info.target} failed: ${errnoName(info.errno)} (${reason})`;
  const detail = info.detail ? `: ${info.detail}` : '';
  const common = {
    errno: info.errno,
    operation: info.op,
    target: info.target,
    detail: info.detail || undefined,
    libbpfLog: info.log || undefined,
  };
  if (info.op === 'load') {
    const verifier = parseVerifierLog(info.log);
    if (verifier) {
      const tail = logTail(verifier.log);
      const lastLine =
        tail
          .split('\n')
          .filter((l) => !l.startsWith('processed '))
          .pop() ?? '';
      return new BpfVerifierError(
        `${base}: the verifier refused program '${verifier.program}'${lastLine ? `: ${lastLine}` : ''}${hintFor(info.errno)}\n${tail}`,
        { ...common, program: verifier.program, log: tail, fullLog: verifier.log },
      );
    }
  }
  return new BpfError(`${base}${detail}${hintFor(info.errno)}`, common);
}
