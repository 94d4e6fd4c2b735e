/** A /proc file whose content does not have the layout the kernel writes. */
export class ProcFormatError extends Error {
  override name = 'ProcFormatError';

  constructor(
    /** The file, relative to the proc root (e.g. `net/snmp`). */
    readonly file: string,
    /** 1-based line number, when the problem is on one line. */
    readonly line: number | undefined,
    /** What is wrong with it. */
    readonly reason: string,
  ) {
    super(`${file}${line === undefined ? '' : ` line ${line}`}: ${reason}`);
  }
}

/** Splits a /proc file into numbered lines, leaving out blank ones (the file ends with a newline). */
export function numberedLines(text: string): Array<{ line: number; text: string }> {
  const out: Array<{ line: number; text: string }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const t = lines[i] ?? '';
    if (t.trim() !== '') out.push({ line: i + 1, text: t });
  }
  return out;
}

/** Shortens file content quoted in an error message. */
export function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}
