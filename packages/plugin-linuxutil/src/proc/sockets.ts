/**
 * /proc/net/{tcp,tcp6,udp,udp6}: one header line, then one line per socket:
 * `sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode ...`.
 * Addresses are the kernel's 32-bit words printed as hex in host byte order; ports are hex in host order.
 */
import { ProcFormatError, clip, numberedLines } from './errors.js';
import { formatEndpoint } from './address.js';

/** 4 for tcp/udp, 6 for tcp6/udp6. */
export type IpFamily = 4 | 6;
/** Byte order of the machine that wrote the file (`os.endianness()`). */
export type Endianness = 'LE' | 'BE';

/** One socket of a /proc/net socket table, reduced to what the metrics need. */
export interface SocketEntry {
  /** Remote endpoint as `IP:port` (see formatEndpoint). */
  readonly remote: string;
  /** False when the socket has no peer (listening, unconnected UDP): all-zero address and port 0. */
  readonly hasPeer: boolean;
  /** Kernel socket state (`st` column), e.g. 0x01 = TCP_ESTABLISHED, 0x0A = TCP_LISTEN. */
  readonly state: number;
}

// Fields up to and including `inode`; every socket line has at least these (TIME_WAIT lines stop soon after).
const MIN_FIELDS = 10;
const HEX = '[0-9A-Fa-f]';

/** One regular expression per address width: a whole well-formed socket line, capturing remote and state. */
function socketLinePattern(digits: number): RegExp {
  const endpoint = `${HEX}{${digits}}:${HEX}{4}`;
  return new RegExp(
    `^\\s*\\d+:\\s+${endpoint}\\s+(${HEX}{${digits}}):(${HEX}{4})\\s+(${HEX}{2})\\s+${HEX}{8}:${HEX}{8}(?:\\s+\\S+){5}`,
  );
}
const LINE_PATTERNS = { 4: socketLinePattern(8), 6: socketLinePattern(32) } as const;

/**
 * Parses a socket table. `family` selects the address width (8 hex digits for IPv4, 32 for IPv6). Throws
 * ProcFormatError when the header is missing or any socket line is malformed or cut short, so counts are never
 * computed from a torn file.
 */
export function parseSocketTable(
  text: string,
  file: string,
  family: IpFamily,
  endianness: Endianness,
): SocketEntry[] {
  const lines = numberedLines(text);
  const header = lines[0];
  if (!header) {
    throw new ProcFormatError(file, undefined, 'file is empty (expected a header line starting with "sl")');
  }
  if (!header.text.trim().startsWith('sl ')) {
    throw new ProcFormatError(
      file,
      header.line,
      `expected the header line starting with "sl", got "${clip(header.text)}"`,
    );
  }
  const digits = family === 4 ? 8 : 32;
  const pattern = LINE_PATTERNS[family];
  // Busy hosts repeat the same peers (API server, DNS, local listeners): format each distinct one once.
  const formatted = new Map<string, { text: string; hasPeer: boolean }>();
  const entries: SocketEntry[] = [];
  for (let i = 1; i < lines.length; i++) {
    const { line, text: t } = lines[i]!;
    const m = pattern.exec(t);
    if (!m) throw diagnose(t, file, line, digits);
    const key = `${m[1]!}:${m[2]!}`;
    let remote = formatted.get(key);
    if (!remote) {
      const port = parseInt(m[2]!, 16);
      const bytes = decodeAddress(m[1]!, endianness);
      remote = { text: formatEndpoint(bytes, port), hasPeer: port !== 0 || bytes.some((b) => b !== 0) };
      formatted.set(key, remote);
    }
    entries.push({ remote: remote.text, hasPeer: remote.hasPeer, state: parseInt(m[3]!, 16) });
  }
  return entries;
}

/** Turns the kernel's host-order 32-bit words back into address bytes. */
function decodeAddress(hex: string, endianness: Endianness): Uint8Array {
  const bytes = new Uint8Array(hex.length / 2);
  const view = new DataView(bytes.buffer);
  for (let w = 0; w < hex.length / 8; w++) {
    view.setUint32(w * 4, parseInt(hex.slice(w * 8, w * 8 + 8), 16), endianness === 'LE');
  }
  return bytes;
}

/** Explains why a line is not a socket line (the slow path, taken only for a bad file). */
function diagnose(t: string, file: string, line: number, digits: number): ProcFormatError {
  const f = t.trim().split(/\s+/);
  if (f.length < MIN_FIELDS) {
    return new ProcFormatError(
      file,
      line,
      `socket line has ${f.length} fields, expected at least ${MIN_FIELDS} (truncated?)`,
    );
  }
  const endpoint = new RegExp(`^${HEX}{${digits}}:${HEX}{4}$`);
  for (const field of [f[1]!, f[2]!]) {
    if (!endpoint.test(field)) {
      return new ProcFormatError(
        file,
        line,
        `"${clip(field)}" is not an address:port with ${digits} hex address digits`,
      );
    }
  }
  return new ProcFormatError(file, line, `not a socket line: "${clip(t.trim())}"`);
}
