/**
 * Reading the agent from the outside in kernel tests: series of a /metrics exposition with their labels, and the
 * BPF links and programs a process holds.
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
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Sum of the series of `name` whose labels include `labels`, and how many matched. */
export function select(
  series: Series[],
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
export function podSeriesCount(series: Series[], name: string, podName: string): number {
  return (
    select(series, name, { source_podname: podName }).count +
    select(series, name, { destination_podname: podName }).count
  );
}

/** The fdinfo text of each descriptor the process `pid` holds (descriptors closed meanwhile are skipped). */
function fdinfos(pid: number): string[] {
  const dir = `/proc/${pid}/fdinfo`;
  const out: string[] = [];
  for (const fd of readdirSync(dir)) {
    try {
      out.push(readFileSync(join(dir, fd), 'utf8'));
    } catch {
      // the descriptor closed meanwhile
    }
  }
  return out;
}

const fdField = (text: string, key: string): string | undefined =>
  new RegExp(`^${key}:\\s+(\\S+)`, 'm').exec(text)?.[1];

/** The tcx link ids the process `pid` holds on interface `ifindex`, read from its fdinfo. */
export function tcxLinksOf(pid: number, ifindex: number): number[] {
  const ids: number[] = [];
  for (const text of fdinfos(pid)) {
    if (fdField(text, 'link_type') !== 'tcx' || Number(fdField(text, 'ifindex')) !== ifindex) continue;
    ids.push(Number(fdField(text, 'link_id')));
  }
  return ids.sort((x, y) => x - y);
}

/** The BPF link and program ids the process `pid` holds, read from its fdinfo. */
export function bpfHandlesOf(pid: number): { links: number[]; programs: number[] } {
  const links: number[] = [];
  const programs: number[] = [];
  for (const text of fdinfos(pid)) {
    const link = fdField(text, 'link_id');
    const prog = fdField(text, 'prog_id');
    if (link !== undefined) links.push(Number(link));
    else if (prog !== undefined) programs.push(Number(prog));
  }
  return { links: links.sort((x, y) => x - y), programs: programs.sort((x, y) => x - y) };
}
