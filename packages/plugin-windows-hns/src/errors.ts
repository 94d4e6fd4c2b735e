/** Errors of the hnsstats plugin, and the pure helpers that turn Windows error codes and records into text. */

/** The plugin was asked to run somewhere other than Windows. */
export class HnsUnsupportedPlatformError extends Error {
  override name = 'HnsUnsupportedPlatformError';

  constructor(platform: string) {
    super(
      `hnsstats requires Windows (Windows Server 2019 or later with the Containers feature, where the Host ` +
        `Networking Service runs); this node runs ${platform === 'win32' ? 'windows' : platform}. ` +
        `List it only in enabledPlugin_win, or remove it from enabledPlugin on this node`,
    );
  }
}

/** An HCN or HNS function returned a failing HRESULT or an error record. */
export class HnsCallError extends Error {
  override name = 'HnsCallError';

  constructor(
    /** The Windows function that failed, e.g. `HcnOpenEndpoint`. */
    readonly func: string,
    /** The HRESULT as a signed 32-bit number (0 when only an error record was returned). */
    readonly hresult: number,
    /** What the call was about, e.g. `endpoint 3f1c…`. */
    readonly subject: string,
    /** The error record Windows returned, as text (may be empty). */
    readonly record: string,
  ) {
    super(describeHcnFailure(func, hresult, subject, record));
  }

  /** True when Windows says the object does not exist (an endpoint deleted between listing and reading it). */
  get notFound(): boolean {
    return this.hresult >>> 0 === HRESULT_ELEMENT_NOT_FOUND || /not found/i.test(this.record);
  }
}

/** An HNS JSON call answered `Success: false`. */
export class HnsRequestError extends Error {
  override name = 'HnsRequestError';

  constructor(
    readonly path: string,
    readonly hnsError: string,
  ) {
    super(`HNS ${path} failed: ${hnsError || '(no error text)'}`);
  }

  /** True when HNS says the object does not exist. */
  get notFound(): boolean {
    return /not found/i.test(this.hnsError);
  }
}

/** HNS or HCN returned JSON that does not have the expected shape. */
export class HnsDecodeError extends Error {
  override name = 'HnsDecodeError';
}

/** Why a vfpctrl call failed. */
export type VfpFailure = 'not-found' | 'timeout' | 'aborted' | 'exit' | 'report';

/** vfpctrl failed, or printed something that is not the expected report. */
export class VfpError extends Error {
  override name = 'VfpError';

  constructor(
    message: string,
    /** `not-found`: the executable is missing; `report`: it ran but its output was not understood. */
    readonly failure: VfpFailure = 'report',
  ) {
    super(message);
  }
}

/** HRESULT_FROM_WIN32(ERROR_NOT_FOUND): "Element not found." */
export const HRESULT_ELEMENT_NOT_FOUND = 0x80070490;
/** E_ACCESSDENIED. */
export const HRESULT_ACCESS_DENIED = 0x80070005;

const HRESULT_HINTS: ReadonlyMap<number, string> = new Map([
  [HRESULT_ELEMENT_NOT_FOUND, 'element not found'],
  [
    HRESULT_ACCESS_DENIED,
    'access denied: run the agent as a HostProcess container with a SYSTEM or administrator account',
  ],
  [0x80070002, 'file not found'],
  [0x80070057, 'invalid argument'],
  [0x8007000e, 'out of memory'],
]);

/** Formats an HRESULT as Windows tools print it, e.g. `0x80070490`. */
export function formatHresult(hr: number): string {
  return `0x${(hr >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/**
 * The readable part of an HCN error record. Records are JSON objects (`{"Error": <hr>, "ErrorMessage": "..."}`,
 * spelled differently across Windows builds) or plain text; anything unreadable is returned trimmed as it came.
 */
export function describeErrorRecord(record: string): string {
  const text = record.trim();
  if (text === '') return '';
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null) {
      const o = parsed as Record<string, unknown>;
      for (const key of ['ErrorMessage', 'Message', 'Error']) {
        const v = o[key];
        if (typeof v === 'string' && v.trim() !== '') return v.trim();
      }
    }
  } catch {
    // Not JSON: plain text records are shown as they are.
  }
  return text;
}

/** The message of an HnsCallError: function, HRESULT (with a hint for common codes), subject, record text. */
export function describeHcnFailure(func: string, hresult: number, subject: string, record: string): string {
  const hint = HRESULT_HINTS.get(hresult >>> 0);
  const code = hresult === 0 ? '' : ` with HRESULT ${formatHresult(hresult)}${hint ? ` (${hint})` : ''}`;
  const detail = describeErrorRecord(record);
  return `${func} failed${code} for ${subject}${detail ? `: ${detail}` : ''}`;
}
