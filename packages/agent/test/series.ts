/**
 * Reading the agent from the outside in kernel tests: series of a /metrics exposition with their labels, and the
 * tcx links a process holds on an interface.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One series of the exposition: its family, labels and value. */
export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text exposition into series with their labels (label values are simple here). */
export function parseSeries(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the series of `name` whose labels include `labels`, and how many matched. */
export function select(series: Series[], name: string, labels: Record<string, string>): { sum: number; count: number } {
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

/** The tcx link ids the process `pid` holds on interface `ifindex`, read from its fdinfo. */
export function tcxLinksOf(pid: number, ifindex: number): number[] {
  const ids: number[] = [];
  const dir = `/proc/${pid}/fdinfo`;
  for (const fd of readdirSync(dir)) {
    let text: string;
    try {
      text = readFileSync(join(dir, fd), 'utf8');
    } catch {
      continue; // the descriptor closed meanwhile
    }
    const field = (k: string): string | undefined => new RegExp(`^${k}:\\s+(\\S+)`, 'm').exec(text)?.[1];
    if (field('link_type') !== 'tcx' || Number(field('ifindex')) !== ifindex) continue;
    ids.push(Number(field('link_id')));
  }
  return ids.sort((x, y) => x - y);
}
