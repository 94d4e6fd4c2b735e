/** Line handling shared by the vfpctrl report parsers. */
import { VfpError } from '../errors.js';

/** A `name : value` line, split at the first colon, both sides trimmed; undefined for lines without a colon. */
export interface KeyValueLine {
  /** 1-based line number, for error messages. */
  line: number;
  key: string;
  value: string;
}

/** The lines of a vfpctrl report (CRLF or LF), trimmed, with their 1-based numbers. */
export function reportLines(text: string): Array<{ line: number; text: string }> {
  return text.split(/\r?\n|\r/).map((t, i) => ({ line: i + 1, text: t.trim() }));
}

/** Splits `name : value` at the first colon. */
export function keyValue(line: number, text: string): KeyValueLine | undefined {
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  return { line, key: text.slice(0, i).trim(), value: text.slice(i + 1).trim() };
}

/** A key reduced to lower-case letters, digits and dashes, so "SYN-ACK packets" and "SYN-ACKpackets" match. */
export function normalizeKey(key: string): string {
  return key.replace(/\s+/g, '').toLowerCase();
}

/**
 * Throws a VfpError when vfpctrl reported a failure in its output (it prints `ERROR: ...` and may still exit 0,
 * e.g. for an unknown port).
 */
export function throwOnReportedError(text: string, command: string): void {
  for (const { line, text: t } of reportLines(text)) {
    if (/^error\b/i.test(t)) throw new VfpError(`${command} reported an error (line ${line}): ${t}`);
  }
}
