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
        entry = { labels, lastUpdate: now };
        this.#series.set(key, entry);
      } else {
        const folded: Record<string, string> = { ...labels };
        for (const name of this.#open) folded[name] = OTHER_LABEL_VALUE;
        const foldedKey = this.#key(folded);
        entry = this.#folded.get(foldedKey);
        if (entry === undefined) this.#folded.set(foldedKey, (entry = { labels: folded, lastUpdate: now }));
        this.#hooks.onFolded();
      }
    }
    entry.lastUpdate = now;
    this.#counter.inc(entry.labels, value);
  }

  /** Removes series idle for at least `ttlMs` as of `now`; returns how many. */
  expire(now: number, ttlMs: number): number {
    let removed = 0;
    for (const map of [this.#series, this.#folded]) {
      for (const [key, entry] of map) {
        if (now - entry.lastUpdate < ttlMs) continue;
        map.delete(key);
        this.#counter.remove(entry.labels);
        removed++;
      }
    }
    if (removed > 0) this.#hooks.onExpired(removed);
    return removed;
  }
}
