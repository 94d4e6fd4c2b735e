/**
 * Families that render their own samples. A family with many series that keeps its values outside prom-client
 * (the advanced store) registers a renderer here; the exposition then writes its samples directly instead of asking
 * prom-client, which would hash every label set on each update. prom-client still holds the family: its `collect`
 * hook keeps prom-client's view current for callers that read it there, and series that other writers set on the
 * same family through prom-client are still exposed.
 */

/** Writes a family's samples as exposition lines. */
export interface DirectFamily {
  /**
   * Appends one `name{labels} value` line per series to `out`. `universal` is the pre-rendered universal label
   * pairs (`k="v",...`, possibly empty) to add after the series' own labels.
   */
  render(out: string[], sampleName: string, universal: string): void;
  /**
   * Runs `read` (which reads the prom-client family) without the family's `collect` hook copying the direct series
   * into prom-client, so only series written there by others come back.
   */
  readOthers<T>(read: () => Promise<T>): Promise<T>;
  /** True when a prom-client sample with these labels is one of the direct series (a copy made for a reader). */
  owns(labels: Readonly<Record<string, string | number | undefined>>): boolean;
}

const direct = new WeakMap<object, DirectFamily>();

/** Makes the exposition render `family` through `source` instead of prom-client's `get()`. */
export function setDirectFamily(family: object, source: DirectFamily): void {
  direct.set(family, source);
}

/** The direct renderer of `family`, if it has one. */
export function directFamily(family: object): DirectFamily | undefined {
  return direct.get(family);
}

const NEEDS_ESCAPE = /[\\\n"]/;

/** Escapes a label value for the text formats (backslash, newline, double quote). */
export function escapeLabelValue(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return s;
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** `k1="v1",k2="v2"` for names and values in the same order (no braces); a flat string. */
export function labelPairs(names: readonly string[], values: readonly string[]): string {
  // Array join gives one flat string; `+=` would leave a rope that every later concatenation walks again.
  const parts = new Array<string>(names.length);
  for (let i = 0; i < names.length; i++) {
    parts[i] = `${names[i] as string}="${escapeLabelValue(values[i] as string)}"`;
  }
  return parts.join(',');
}

/** Formats a sample value as the text formats spell it. */
export function formatSampleValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
