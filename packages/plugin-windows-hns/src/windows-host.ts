/**
 * The real WindowsNetworkHost: HCN (computenetwork.dll) and HNS (vmcompute.dll) through koffi, vfpctrl through
 * child_process. This is the only module that touches the OS. koffi is loaded on first use, so importing the
 * package on Linux costs nothing; `openWindowsHost` refuses to run anywhere but Windows.
 */
import { execFile, type ExecFileException } from 'node:child_process';
import type * as KoffiModule from 'koffi';
import { HnsCallError, HnsUnsupportedPlatformError, VfpError } from './errors.js';
import { guidStruct } from './hns/guid.js';
import type { WindowsNetworkHost } from './host.js';

type Koffi = typeof KoffiModule;
type KoffiFunction = ReturnType<KoffiModule.IKoffiLib['func']>;

/** Name of the GUID struct type registered with koffi. */
export const GUID_TYPE = 'HCN_GUID';

/**
 * The C declarations of the functions called, in koffi's syntax. Strings come back as CoTaskMemAlloc'ed UTF-16
 * buffers (declared `void **` so they can be decoded and then freed with CoTaskMemFree).
 */
export const WINDOWS_DECLARATIONS = {
  'computenetwork.dll': {
    HcnEnumerateEndpoints:
      'int32_t __stdcall HcnEnumerateEndpoints(const char16_t *query, _Out_ void **endpoints, _Out_ void **errorRecord)',
    HcnOpenEndpoint: `int32_t __stdcall HcnOpenEndpoint(const ${GUID_TYPE} *id, _Out_ void **endpoint, _Out_ void **errorRecord)`,
    HcnQueryEndpointProperties:
      'int32_t __stdcall HcnQueryEndpointProperties(void *endpoint, const char16_t *query, _Out_ void **properties, _Out_ void **errorRecord)',
    HcnCloseEndpoint: 'int32_t __stdcall HcnCloseEndpoint(void *endpoint)',
  },
  'vmcompute.dll': {
    HNSCall:
      'int32_t __stdcall HNSCall(const char16_t *method, const char16_t *path, const char16_t *request, _Out_ void **response)',
  },
  'ole32.dll': {
    CoTaskMemFree: 'void __stdcall CoTaskMemFree(void *pv)',
  },
} as const;

/** Registers the struct types the declarations use (once per process: koffi's type names are global). */
export function registerWindowsTypes(koffi: Koffi): void {
  try {
    koffi.resolve(GUID_TYPE);
  } catch {
    koffi.struct(GUID_TYPE, {
      Data1: 'uint32_t',
      Data2: 'uint16_t',
      Data3: 'uint16_t',
      Data4: koffi.array('uint8_t', 8),
    });
  }
}

/**
 * Decodes a NUL-terminated UTF-16 string returned through an out-parameter and releases it with `free`
 * (CoTaskMemFree on Windows). Null pointers give undefined.
 */
export function takeWideString(
  koffi: Koffi,
  free: (p: unknown) => void,
  pointer: unknown,
): string | undefined {
  if (pointer === null || pointer === undefined) return undefined;
  try {
    return koffi.decode(pointer, 'char16_t', -1) as string;
  } finally {
    free(pointer);
  }
}

interface Bindings {
  koffi: Koffi;
  enumerateEndpoints: KoffiFunction;
  openEndpoint: KoffiFunction;
  queryEndpointProperties: KoffiFunction;
  closeEndpoint: KoffiFunction;
  hnsCall: KoffiFunction;
  free: (p: unknown) => void;
}

let bindings: Promise<Bindings> | undefined;

const LIBRARY_HINTS: Record<keyof typeof WINDOWS_DECLARATIONS, string> = {
  'computenetwork.dll':
    'the HCN API ships with Windows Server 2019 / Windows 10 1809 or later with the Containers feature',
  'vmcompute.dll': 'the HNS API ships with the Containers (or Hyper-V) feature',
  'ole32.dll': 'a core Windows library; the container image may be too minimal',
};

/** Loads the three libraries and binds the functions, once per process. A failure is retried on the next call. */
function loadBindings(): Promise<Bindings> {
  bindings ??= (async () => {
    // koffi is CommonJS: its API is the default export of the ES module namespace.
    const { default: koffi } = (await import('koffi')) as unknown as { default: Koffi };
    registerWindowsTypes(koffi);
    const fns = new Map<string, KoffiFunction>();
    for (const [dll, declarations] of Object.entries(WINDOWS_DECLARATIONS) as Array<
      [keyof typeof WINDOWS_DECLARATIONS, Record<string, string>]
    >) {
      let lib: KoffiModule.IKoffiLib;
      try {
        lib = koffi.load(dll);
      } catch (err) {
        throw new Error(`hnsstats cannot load ${dll} (${(err as Error).message}); ${LIBRARY_HINTS[dll]}`);
      }
      for (const [name, declaration] of Object.entries(declarations)) {
        try {
          fns.set(name, lib.func(declaration));
        } catch (err) {
          throw new Error(
            `hnsstats cannot bind ${name} in ${dll} (${(err as Error).message}); ${LIBRARY_HINTS[dll]}`,
          );
        }
      }
    }
    const fn = (name: string) => fns.get(name)!;
    const coTaskMemFree = fn('CoTaskMemFree');
    return {
      koffi,
      enumerateEndpoints: fn('HcnEnumerateEndpoints'),
      openEndpoint: fn('HcnOpenEndpoint'),
      queryEndpointProperties: fn('HcnQueryEndpointProperties'),
      closeEndpoint: fn('HcnCloseEndpoint'),
      hnsCall: fn('HNSCall'),
      free: (p) => void coTaskMemFree(p),
    };
  })();
  bindings.catch(() => (bindings = undefined));
  return bindings;
}

/** Calls a bound function on koffi's worker threads, so slow HNS calls do not block the event loop. */
function callAsync(fn: KoffiFunction, ...args: unknown[]): Promise<number> {
  return new Promise((resolve, reject) => {
    fn.async(...args, (err: unknown, result: number) => (err ? reject(err) : resolve(result)));
  });
}

/** Options of openWindowsHost. */
export interface WindowsHostOptions {
  /** vfpctrl executable (name on PATH or full path). */
  vfpctrlPath: string;
  /** Kill a vfpctrl run after this long. */
  commandTimeoutMs: number;
  /** The OS to check (default process.platform); only `win32` is accepted. */
  platform?: NodeJS.Platform;
}

/**
 * Opens the real host: checks the OS, loads computenetwork.dll, vmcompute.dll and ole32.dll and binds the HCN and
 * HNS functions. Throws HnsUnsupportedPlatformError ("requires Windows") anywhere else.
 */
export async function openWindowsHost(options: WindowsHostOptions): Promise<WindowsNetworkHost> {
  const platform = options.platform ?? process.platform;
  if (platform !== 'win32') throw new HnsUnsupportedPlatformError(platform);
  return new FfiWindowsNetworkHost(await loadBindings(), options);
}

class FfiWindowsNetworkHost implements WindowsNetworkHost {
  readonly #b: Bindings;
  readonly #options: WindowsHostOptions;
  #closed = false;

  constructor(b: Bindings, options: WindowsHostOptions) {
    this.#b = b;
    this.#options = options;
  }

  #take(pointer: unknown): string | undefined {
    return takeWideString(this.#b.koffi, this.#b.free, pointer);
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('hnsstats: the Windows host was closed');
  }

  async enumerateEndpoints(query: string): Promise<string> {
    this.#checkOpen();
    const list: unknown[] = [null];
    const record: unknown[] = [null];
    const hr = await callAsync(this.#b.enumerateEndpoints, query, list, record);
    // Both buffers are decoded (and freed) before deciding whether the call failed.
    const text = this.#take(list[0]);
    const error = this.#take(record[0]);
    if (hr < 0 || error)
      throw new HnsCallError('HcnEnumerateEndpoints', hr, 'the endpoint list', error ?? '');
    return text ?? '';
  }

  async queryEndpointProperties(endpointId: string, query: string): Promise<string> {
    this.#checkOpen();
    const subject = `endpoint ${endpointId}`;
    const handle: unknown[] = [null];
    const openRecord: unknown[] = [null];
    const openHr = await callAsync(this.#b.openEndpoint, guidStruct(endpointId), handle, openRecord);
    const openError = this.#take(openRecord[0]);
    if (openHr < 0 || openError || !handle[0]) {
      throw new HnsCallError('HcnOpenEndpoint', openHr, subject, openError ?? '');
    }
    try {
      const properties: unknown[] = [null];
      const record: unknown[] = [null];
      const hr = await callAsync(this.#b.queryEndpointProperties, handle[0], query, properties, record);
      const text = this.#take(properties[0]);
      const error = this.#take(record[0]);
      if (hr < 0 || error) throw new HnsCallError('HcnQueryEndpointProperties', hr, subject, error ?? '');
      return text ?? '';
    } finally {
      // A failing close only leaks a handle; it must not hide the query's own result or error.
      await callAsync(this.#b.closeEndpoint, handle[0]).catch(() => undefined);
    }
  }

  async hnsCall(method: 'GET', path: string, request: string): Promise<string> {
    this.#checkOpen();
    const response: unknown[] = [null];
    const hr = await callAsync(this.#b.hnsCall, method, path, request, response);
    const text = this.#take(response[0]);
    if (hr < 0) throw new HnsCallError('HNSCall', hr, `${method} ${path}`, text ?? '');
    return text ?? '';
  }

  vfpctrl(args: readonly string[], signal?: AbortSignal): Promise<string> {
    this.#checkOpen();
    return runCommand(this.#options.vfpctrlPath, args, {
      timeoutMs: this.#options.commandTimeoutMs,
      ...(signal ? { signal } : {}),
    });
  }

  close(): void {
    // The libraries stay loaded: calls still running on koffi's threads must not find them unloaded.
    this.#closed = true;
  }
}

/** Options of runCommand. */
export interface RunCommandOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Output above this is not a vfpctrl report; the command is killed rather than buffered without bound. */
const MAX_OUTPUT_BYTES = 16 * 1024 * 1024;

/**
 * Runs `file` with `args` (no shell) and resolves with its stdout. Rejects with a VfpError saying whether the
 * executable is missing, timed out, was aborted or exited non-zero (with the first line it printed).
 */
export function runCommand(
  file: string,
  args: readonly string[],
  options: RunCommandOptions,
): Promise<string> {
  const command = [file, ...args].join(' ');
  return new Promise((resolve, reject) => {
    execFile(
      file,
      [...args],
      {
        encoding: 'utf8',
        timeout: options.timeoutMs,
        killSignal: 'SIGKILL',
        maxBuffer: MAX_OUTPUT_BYTES,
        windowsHide: true,
        ...(options.signal ? { signal: options.signal } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) return resolve(stdout);
        reject(commandError(command, file, err, stdout, stderr, options.timeoutMs));
      },
    );
  });
}

function firstLine(...texts: string[]): string {
  for (const t of texts) {
    const line = t
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l !== '');
    if (line) return line;
  }
  return '';
}

function commandError(
  command: string,
  file: string,
  err: ExecFileException,
  stdout: string,
  stderr: string,
  timeoutMs: number,
): VfpError {
  if (err.code === 'ENOENT') {
    return new VfpError(
      `${file} was not found: vfpctrl.exe is part of Windows hosts with the Containers or Hyper-V feature ` +
        `(C:\\Windows\\System32); set plugins.hnsstats.vfpctrlPath, or vfpCounters: false to read HNS counters only`,
      'not-found',
    );
  }
  if (err.name === 'AbortError') return new VfpError(`${command} was cancelled`, 'aborted');
  if (err.killed && err.signal === 'SIGKILL') {
    return new VfpError(
      `${command} did not finish within ${timeoutMs} ms and was killed (raise plugins.hnsstats.commandTimeoutMs)`,
      'timeout',
    );
  }
  if (err.code === 'ERR_CHILD_PROCESS_STDIO_MAXBUFFER') {
    return new VfpError(
      `${command} printed more than ${MAX_OUTPUT_BYTES} bytes; this is not a vfpctrl report`,
      'report',
    );
  }
  const printed = firstLine(stderr, stdout);
  const status = typeof err.code === 'number' ? `exited with code ${err.code}` : `failed (${err.message})`;
  return new VfpError(`${command} ${status}${printed ? `: ${printed}` : ''}`, 'exit');
}
