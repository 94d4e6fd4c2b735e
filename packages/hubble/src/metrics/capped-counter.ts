/**
 * A prom-client counter whose number of series is capped and whose idle series expire. Labels whose values come
 * from traffic (pods, IPs, DNS names, ports) are "open"; once a family holds `maxSeries` series, a new combination
 * is counted with every open label set to `other` (the fixed labels, from small enumerations, are kept), and the
 * fold is counted. Series not updated for `ttlMs` are removed, which makes room for new ones. This is the rule the
 * dns plugin applies to its `query` label, extended to every label that traffic can multiply.
 */
import type { Counter } from 'prom-client';

/** Value that stands for every open label value beyond the cap. */
export const OTHER_LABEL_VALUE = 'other';

interface SeriesEntry {
  labels: Record<string, string>;
  lastUpdate: number;
  /** Counted since the last copy into prom-client. */
  pending: number;
  /** Counted in all. */
  total: number;
  /** The series' sample line up to its value (`name{labels}`), built at its first exposition. */
  prefix?: string;
}

/** prom-client's escaping of a label value (backslash, newline, double quote). */
function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

/** `{a="x",b="y"}` in the labels' own order, as prom-client writes them; empty without labels. */
export function formatLabelSet(labels: Record<string, string | number>): string {
  let out = '';
  for (const name in labels) {
    const value = labels[name];
    out += `${out ? ',' : '{'}${name}="${typeof value === 'string' ? escapeLabelValue(value) : String(value)}"`;
  }
  return out ? `${out}}` : '';
}

/** Reports of a capped family. */
export interface CapHooks {
  /** A new series was folded into the `other` series. */
  onFolded(): void;
  /** `count` idle series were removed. */
  onExpired(count: number): void;
}

/** One capped counter family. */
export class CappedCounter {
  readonly #counter: Counter<string>;
  readonly #labelNames: readonly string[];
  readonly #open: ReadonlySet<string>;
  readonly #maxSeries: number;
  readonly #hooks: CapHooks;
  readonly #series = new Map<string, SeriesEntry>();
  /** Folded (`other`) series: bounded by the fixed labels' enumerations, never refused. */
  readonly #folded = new Map<string, SeriesEntry>();
  /** Every held series in creation order (the exposition's order). */
  readonly #order = new Set<SeriesEntry>();
  /** Series counted since the last scrape. */
  #dirty: SeriesEntry[] = [];

  constructor(
    counter: Counter<string>,
    labelNames: readonly string[],
    openLabels: readonly string[],
    maxSeries: number,
    hooks: CapHooks,
  ) {
    this.#counter = counter;
    this.#labelNames = labelNames;
    this.#open = new Set(openLabels.filter((l) => labelNames.includes(l)));
    this.#maxSeries = maxSeries;
    this.#hooks = hooks;
    // Counts reach prom-client when it reads the family (its documented `collect` hook), once per changed series,
    // so the per-flow path is one key and one map lookup instead of prom-client's label hashing.
    (counter as unknown as { collect: () => void }).collect = () => this.sync();
  }

  /** Copies the counts made since the last read into prom-client. */
  sync(): void {
    const dirty = this.#dirty;
    this.#dirty = [];
    for (const entry of dirty) {
      if (entry.pending === 0) continue;
      this.#counter.inc(entry.labels, entry.pending);
      entry.pending = 0;
    }
  }

  /**
   * Appends the family's sample lines to `out`, named `lineName` (the family name; OpenMetrics adds `_total`), in
   * the order the series were created, as prom-client lists them. Each series' label text is built once, so a
   * scrape costs one string per series rather than prom-client's label formatting of every series.
   */
  render(lineName: string, out: string[]): void {
    for (const entry of this.#order) {
      if (entry.prefix === undefined) entry.prefix = lineName + formatLabelSet(entry.labels);
      out.push(`${entry.prefix} ${entry.total}`);
    }
  }

  /** Series currently held (kept and folded). */
  get size(): number {
    return this.#series.size + this.#folded.size;
  }

  #key(labels: Record<string, string>): string {
    let key = '';
    for (const name of this.#labelNames) key += `${labels[name] ?? ''}\u0000`;
    return key;
  }

  /** Adds `value` to the series of `labels` (or to its `other` series when the cap is reached). */
  inc(labels: Record<string, string>, now: number, value = 1): void {
    const key = this.#key(labels);
    let entry = this.#series.get(key);
    if (entry === undefined) {
      if (this.#series.size < this.#maxSeries) {
        entry = { labels, lastUpdate: now, pending: 0, total: 0 };
        this.#series.set(key, entry);
        this.#order.add(entry);
      } else {
        const folded: Record<string, string> = { ...labels };
        for (const name of this.#open) folded[name] = OTHER_LABEL_VALUE;
        const foldedKey = this.#key(folded);
        entry = this.#folded.get(foldedKey);
        if (entry === undefined) {
          this.#folded.set(foldedKey, (entry = { labels: folded, lastUpdate: now, pending: 0, total: 0 }));
          this.#order.add(entry);
        }
        this.#hooks.onFolded();
      }
    }
    entry.lastUpdate = now;
    if (entry.pending === 0) this.#dirty.push(entry);
    entry.pending += value;
    entry.total += value;
  }

  /** Removes series idle for at least `ttlMs` as of `now`; returns how many. */
  expire(now: number, ttlMs: number): number {
    let removed = 0;
    for (const map of [this.#series, this.#folded]) {
      for (const [key, entry] of map) {
        if (now - entry.lastUpdate < ttlMs) continue;
        map.delete(key);
        this.#order.delete(entry);
        entry.pending = 0; // an expired series must not come back through a pending copy
        this.#counter.remove(entry.labels);
        removed++;
      }
    }
    if (removed > 0) this.#hooks.onExpired(removed);
    return removed;
  }
}
