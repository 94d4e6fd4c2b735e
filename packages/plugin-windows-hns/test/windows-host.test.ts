import { fileURLToPath } from 'node:url';
import type * as KoffiModule from 'koffi';
import { beforeAll, describe, expect, it } from 'vitest';
import { HnsUnsupportedPlatformError, VfpError } from '../src/errors.js';
import { guidStruct } from '../src/hns/guid.js';
import { parseVfpPortCounters } from '../src/vfp/counters.js';
import { parseVmSwitchPorts } from '../src/vfp/ports.js';
import {
  GUID_TYPE,
  WINDOWS_DECLARATIONS,
  openWindowsHost,
  registerWindowsTypes,
  runCommand,
  takeWideString,
} from '../src/windows-host.js';
import { EP, PORT, fixture, short } from './fixtures.js';

type Koffi = typeof KoffiModule;
let koffi: Koffi;

beforeAll(async () => {
  koffi = ((await import('koffi')) as unknown as { default: Koffi }).default;
  registerWindowsTypes(koffi);
});

describe('openWindowsHost', () => {
  it('refuses every OS but Windows, saying it requires Windows', async () => {
    await expect(openWindowsHost({ vfpctrlPath: 'vfpctrl.exe', commandTimeoutMs: 1000 })).rejects.toThrow(
      HnsUnsupportedPlatformError,
    );
    await expect(
      openWindowsHost({ vfpctrlPath: 'vfpctrl.exe', commandTimeoutMs: 1000, platform: 'darwin' }),
    ).rejects.toThrow(/^hnsstats requires Windows .*this node runs darwin/);
  });
});

describe('FFI declarations', () => {
  it('parse with koffi and name the function they bind', () => {
    let n = 0;
    for (const [dll, declarations] of Object.entries(WINDOWS_DECLARATIONS)) {
      for (const [name, declaration] of Object.entries(declarations)) {
        expect(declaration, `${dll} ${name}`).toContain(` ${name}(`);
        // koffi.proto registers the function name as a type; a unique name keeps test runs in one process apart.
        const unique = declaration.replace(` ${name}(`, ` ${name}_${process.pid}_${n++}(`);
        expect(() => koffi.proto(unique), `${dll} ${name}`).not.toThrow();
      }
    }
    expect(n).toBe(6);
  });

  it('lay the GUID out as Windows does (little-endian Data1..Data3, Data4 bytes in order)', () => {
    registerWindowsTypes(koffi); // idempotent
    expect(koffi.sizeof(GUID_TYPE)).toBe(16);
    const memory = koffi.alloc('uint8_t', 16);
    try {
      koffi.encode(memory, GUID_TYPE, guidStruct(EP.web));
      const bytes = Buffer.from(koffi.view(memory, 16)).toString('hex');
      // 3F1C9A2E-6B7D-4C1E-9A55-0E2B7C1D4F10 as the bytes of a GUID in memory.
      expect(bytes).toBe('2e9a1c3f7d6b1e4c9a550e2b7c1d4f10');
    } finally {
      koffi.free(memory);
    }
  });

  it('decode UTF-16 out-strings and free each one exactly once', () => {
    const json = '[{"ID":"3F1C9A2E","Name":"café-eth0"}]';
    const memory = koffi.alloc('char16_t', json.length + 1);
    koffi.encode(memory, koffi.array('char16_t', json.length + 1, 'String'), json);
    const freed: unknown[] = [];
    const text = takeWideString(koffi, (p) => freed.push(p), memory);
    expect(text).toBe(json);
    expect(freed).toEqual([memory]);
    koffi.free(memory);
    expect(takeWideString(koffi, (p) => freed.push(p), null)).toBeUndefined();
    expect(freed).toHaveLength(1);
  });
});

describe('runCommand (the vfpctrl path)', () => {
  const script = fileURLToPath(new URL('./bin/fake-vfpctrl.mjs', import.meta.url));
  const run = (args: string[], options: { timeoutMs?: number; signal?: AbortSignal } = {}) =>
    runCommand(process.execPath, [script, ...args], { timeoutMs: options.timeoutMs ?? 30_000, ...options });

  async function failure(p: Promise<unknown>): Promise<VfpError> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(VfpError);
    return err as VfpError;
  }

  it('returns what the command printed, byte for byte', async () => {
    const list = await run(['/list-vmswitch-port']);
    expect(list).toBe(fixture('vfp/list-vmswitch-port.txt'));
    expect(parseVmSwitchPorts(list)).toHaveLength(5);
    const counters = await run(['/port', PORT.api, '/get-port-counter']);
    expect(parseVfpPortCounters(counters, PORT.api)).toEqual(
      parseVfpPortCounters(fixture(`vfp/port-counter-${short(PORT.api)}.txt`), PORT.api),
    );
  });

  it('reports a non-zero exit with the first line printed', async () => {
    const err = await failure(run(['/port', '00000000-0000-0000-0000-000000000000', '/get-port-counter']));
    expect(err.failure).toBe('exit');
    expect(err.message).toMatch(
      /\/get-port-counter exited with code 3: ERROR: failed to execute get-port-counter$/,
    );
    const other = await failure(run(['/bogus']));
    expect(other.message).toMatch(/\/bogus exited with code 87: ERROR: unknown command \/bogus$/);
  });

  it('reports a missing executable and how to configure it', async () => {
    const err = await failure(
      runCommand('/nonexistent/vfpctrl.exe', ['/list-vmswitch-port'], { timeoutMs: 1000 }),
    );
    expect(err.failure).toBe('not-found');
    expect(err.message).toMatch(
      /^\/nonexistent\/vfpctrl.exe was not found: .*plugins\.hnsstats\.vfpctrlPath, or vfpCounters: false/,
    );
  });

  it('kills a command that runs past its timeout', async () => {
    const err = await failure(run(['--hang'], { timeoutMs: 200 }));
    expect(err.failure).toBe('timeout');
    expect(err.message).toMatch(
      /--hang did not finish within 200 ms and was killed \(raise plugins\.hnsstats\.commandTimeoutMs\)$/,
    );
  });

  it('kills a command when its signal aborts', async () => {
    const abort = new AbortController();
    const pending = run(['--hang'], { signal: abort.signal });
    abort.abort();
    const err = await failure(pending);
    expect(err.failure).toBe('aborted');
    expect(err.message).toMatch(/--hang was cancelled$/);
  });
});
