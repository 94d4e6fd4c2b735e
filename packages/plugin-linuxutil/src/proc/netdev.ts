/** /proc/net/dev: two header lines, then `<name>: <16 counters>` per interface of the network namespace. */
import { ProcFormatError, clip, numberedLines } from './errors.js';

const INTERFACE_LINE = /^\s*([^\s:/]{1,15}):/;

/** Lists the interface names in /proc/net/dev, in file order. Throws ProcFormatError on a malformed file. */
export function parseInterfaceNames(text: string, file: string): string[] {
  const lines = numberedLines(text);
  if (lines.length < 2)
    throw new ProcFormatError(file, undefined, 'expected two header lines (file empty or truncated?)');
  if (!lines[0]!.text.includes('|') || !lines[1]!.text.includes('|')) {
    throw new ProcFormatError(
      file,
      lines[0]!.line,
      `expected the "Inter-|" header, got "${clip(lines[0]!.text)}"`,
    );
  }
  const names: string[] = [];
  for (const { line, text: t } of lines.slice(2)) {
    const m = INTERFACE_LINE.exec(t);
    if (!m)
      throw new ProcFormatError(file, line, `expected "<interface>: <counters>", got "${clip(t.trim())}"`);
    names.push(m[1]!);
  }
  return names;
}
