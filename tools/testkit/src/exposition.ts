// Reading an agent's /metrics from the outside: the series of a Prometheus text exposition with their labels.

/** One series of the exposition: its family, labels and value. */
export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition into series with their labels (comments and blank lines skipped). */
export function parseSeries(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the series of `name` whose labels include `labels`, and how many matched. */
export function select(
  series: readonly Series[],
  name: string,
  labels: Record<string, string>,
): { sum: number; count: number } {
  let sum = 0;
  let count = 0;
  for (const s of series) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) {
      sum += s.value;
      count++;
    }
  }
  return { sum, count };
}

/** How many series of `name` have pod `podName` at either end (`source_podname` or `destination_podname`). */
export function podSeriesCount(series: readonly Series[], name: string, podName: string): number {
  return (
    select(series, name, { source_podname: podName }).count +
    select(series, name, { destination_podname: podName }).count
  );
}
