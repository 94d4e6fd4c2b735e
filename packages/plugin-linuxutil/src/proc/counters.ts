/**
 * /proc/net/snmp and /proc/net/netstat: pairs of lines, a header naming the counters of one section and a line
 * with their values, both starting with the section name (`Tcp: RtoAlgorithm RtoMin ...` / `Tcp: 1 200 ...`).
 */
import { ProcFormatError, clip, numberedLines } from './errors.js';

/** The counters of one section, in file order. */
export type CounterSection = ReadonlyMap<string, number>;
/** All sections of one file, by section name (`Tcp`, `TcpExt`, ...). */
export type CounterSections = ReadonlyMap<string, CounterSection>;

const SECTION_LINE = /^([A-Za-z][A-Za-z0-9]*):(.*)$/;
const COUNTER_NAME = /^[A-Za-z0-9_]+$/;
// Most counters are unsigned 64-bit; a few (Tcp MaxConn) are signed and print -1.
const COUNTER_VALUE = /^-?\d+$/;

/**
 * Parses /proc/net/snmp or /proc/net/netstat. Throws ProcFormatError for anything the kernel would not write
 * (a header without values, mismatched section names or counts, non-numeric values), so a torn or foreign file
 * is rejected whole instead of yielding shifted counters.
 */
export function parseCounterTable(text: string, file: string): CounterSections {
  const lines = numberedLines(text);
  if (lines.length === 0) throw new ProcFormatError(file, undefined, 'file is empty');
  const sections = new Map<string, CounterSection>();
  for (let i = 0; i < lines.length; i += 2) {
    const header = lines[i]!;
    const values = lines[i + 1];
    const h = SECTION_LINE.exec(header.text);
    if (!h)
      throw new ProcFormatError(
        file,
        header.line,
        `expected "<Section>: <names>", got "${clip(header.text)}"`,
      );
    const section = h[1]!;
    if (!values) {
      throw new ProcFormatError(
        file,
        header.line,
        `section ${section} has a header but no value line (truncated file?)`,
      );
    }
    const v = SECTION_LINE.exec(values.text);
    if (!v || v[1] !== section) {
      throw new ProcFormatError(
        file,
        values.line,
        `expected the values of section ${section}, got "${clip(values.text)}"`,
      );
    }
    if (sections.has(section))
      throw new ProcFormatError(file, header.line, `section ${section} appears twice`);
    const names = splitFields(h[2]!);
    const numbers = splitFields(v[2]!);
    if (names.length === 0)
      throw new ProcFormatError(file, header.line, `section ${section} names no counters`);
    if (names.length !== numbers.length) {
      throw new ProcFormatError(
        file,
        values.line,
        `section ${section} has ${names.length} counter names but ${numbers.length} values (truncated line?)`,
      );
    }
    const counters = new Map<string, number>();
    names.forEach((name, k) => {
      const raw = numbers[k]!;
      if (!COUNTER_NAME.test(name)) {
        throw new ProcFormatError(
          file,
          header.line,
          `section ${section}: "${clip(name)}" is not a counter name`,
        );
      }
      if (!COUNTER_VALUE.test(raw)) {
        throw new ProcFormatError(
          file,
          values.line,
          `section ${section}: counter ${name} has non-numeric value "${clip(raw)}"`,
        );
      }
      if (counters.has(name))
        throw new ProcFormatError(file, header.line, `section ${section}: counter ${name} appears twice`);
      counters.set(name, Number(raw));
    });
    sections.set(section, counters);
  }
  return sections;
}

function splitFields(s: string): string[] {
  const t = s.trim();
  return t === '' ? [] : t.split(/\s+/);
}
