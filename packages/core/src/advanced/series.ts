/**
 * The series store behind one advanced family.
 *
 * Per flow, a series is found by walking a small tree keyed by the fixed label values (few distinct strings:
 * directions, flags, reasons) and then by the identity of the cached context objects (WeakMaps, so contexts of
 * deleted pods do not stay reachable from here). Only on a miss is the canonical string key built. Values are plain
 * numbers. The exposition renders them directly (each series' label text is built once); prom-client is only
 * written when someone reads the family there (its `collect` hook copies the series changed since the last read),
 * so label hashing stays off both the per-flow path and the scrape.
 */
import type { Counter, Gauge } from 'prom-client';
import { formatSampleValue, labelPairs, setDirectFamily } from '../metrics/direct.js';
import { KEY_SEP, type SideContext } from './context.js';

/** One series: its label values (in label order), its value and when it was last updated. */
interface Series {
  readonly key: string;
  readonly values: readonly string[];
  labels: Record<string, string> | undefined;
  /** Exposition line up to the value, built at the first scrape that shows the series. */
  text: string | undefined;
  /** Render context `text` was built for (0: none). */
  textGeneration: number;
  value: number;
  /** Value prom-client holds (what the last read through prom-client copied). */
  synced: number;
  lastUpdate: number;
  dirty: boolean;
  /** Set when expired, so stale references in the identity tree are ignored. */
  dead: boolean;
}

/** What the store reports: expired and refused counts. */
export interface SeriesStoreHooks {
  onExpired(count: number): void;
  onRefused(): void;
}

/** Shape of a family's series key: how many fixed labels and whether a destination context follows. */
export interface SeriesShape {
  fixedCount: number;
  remote: boolean;
  /**
   * Whether fixed values come from a small set (directions, flags, reasons) and may key the identity tree. DNS
   * families (query names) use the canonical key only.
   */
  boundedFixed: boolean;
}

type CtxMap = WeakMap<SideContext, unknown>;

const PART_SEP = '\u001e';

/** Series of one family with a cardinality cap and idle expiry. */
export class SeriesStore {
  readonly #series = new Map<string, Series>();
  #dirty: Series[] = [];
  #root: Map<string, unknown> | CtxMap;
  readonly #labelNames: readonly string[];
  readonly #shape: SeriesShape;
  // Exposition reads in progress, during which `collect` must not copy series into prom-client.
  #reading = 0;
  #lineContext = '';
  #lineGeneration = 0;
  // Label values (joined with KEY_SEP) of series copied into prom-client, to tell them from other writers' series.
  readonly #copied = new Set<string>();
  // Whether anyone has read the family through prom-client; until then changes are not tracked for it.
  #mirrored = false;

  constructor(
    readonly family: Gauge<string> | Counter<string>,
    readonly kind: 'gauge' | 'counter',
    labelNames: readonly string[],
    shape: SeriesShape,
    readonly maxSeries: number,
    readonly hooks: SeriesStoreHooks,
  ) {
    this.#labelNames = labelNames;
    this.#shape = shape;
    this.#root = this.#newRoot();
    // prom-client calls a metric's `collect` before reading its values (the documented `collect` option, which it
    // keeps as this property).
    (family as unknown as { collect: () => void }).collect = () => {
      if (this.#reading === 0) this.sync();
    };
    setDirectFamily(family, {
      render: (out, sampleName, universal) => this.#render(out, sampleName, universal),
      readOthers: async (read) => {
        this.#reading++;
        try {
          return await read();
        } finally {
          this.#reading--;
        }
      },
      owns: (labels) => {
        if (this.#copied.size === 0) return false;
        let k = '';
        const names = this.#labelNames;
        for (let i = 0; i < names.length; i++) k += (i ? KEY_SEP : '') + String(labels[names[i] as string]);
        return this.#copied.has(k);
      },
    });
  }

  #render(out: string[], sampleName: string, universal: string): void {
    // A series' line up to its value is built once and reused while the name and universal labels stay the same.
    const context = sampleName + '\n' + universal;
    if (context !== this.#lineContext) {
      this.#lineContext = context;
      this.#lineGeneration++;
    }
    const gen = this.#lineGeneration;
    const names = this.#labelNames;
    for (const s of this.#series.values()) {
      if (s.textGeneration !== gen) {
        const own = labelPairs(names, s.values);
        const pairs = own === '' ? universal : universal === '' ? own : [own, universal].join(',');
        // Joined, so the cached text is flat and each scrape copies it without walking a rope.
        s.text = pairs === '' ? `${sampleName} ` : [sampleName, '{', pairs, '} '].join('');
        s.textGeneration = gen;
      }
      out.push((s.text as string) + formatSampleValue(s.value));
    }
  }

  /** Number of live series. */
  get size(): number {
    return this.#series.size;
  }

  /**
   * Adds `delta` to the series of (`fixed[0..fixedCount)`, `src`, `dst`), creating it if new; false when the cap
   * refused a new series.
   */
  add(
    fixed: readonly string[],
    src: SideContext,
    dst: SideContext | undefined,
    delta: number,
    now: number,
  ): boolean {
    const shape = this.#shape;
    let leafMap: CtxMap | undefined;
    let leafKey: SideContext | undefined;
    if (shape.boundedFixed) {
      let node: Map<string, unknown> | CtxMap = this.#root;
      for (let i = 0; i < shape.fixedCount; i++) {
        const m = node as Map<string, unknown>;
        const v = fixed[i] as string;
        let next = m.get(v) as Map<string, unknown> | CtxMap | undefined;
        if (next === undefined) {
          next = i === shape.fixedCount - 1 ? new WeakMap() : new Map();
          m.set(v, next);
        }
        node = next;
      }
      let ctxMap = node as CtxMap;
      if (shape.remote) {
        let byDst = ctxMap.get(src) as CtxMap | undefined;
        if (byDst === undefined) {
          byDst = new WeakMap();
          ctxMap.set(src, byDst);
        }
        ctxMap = byDst;
        leafKey = dst as SideContext;
      } else {
        leafKey = src;
      }
      const s = ctxMap.get(leafKey) as Series | undefined;
      if (s !== undefined && !s.dead) {
        this.#bump(s, delta, now);
        return true;
      }
      leafMap = ctxMap;
    }
    // Miss: resolve by canonical key (equal contexts may be distinct objects after a context cache was cleared).
    let key = '';
    for (let i = 0; i < shape.fixedCount; i++) key += (fixed[i] as string) + KEY_SEP;
    key += PART_SEP + src.key;
    if (dst) key += PART_SEP + dst.key;
    let s = this.#series.get(key);
    if (s === undefined) {
      if (this.#series.size >= this.maxSeries) {
        this.hooks.onRefused();
        return false;
      }
      const values = fixed.slice(0, shape.fixedCount).concat(src.values, dst ? dst.values : []);
      s = {
        key,
        values,
        labels: undefined,
        text: undefined,
        textGeneration: 0,
        value: 0,
        synced: 0,
        lastUpdate: now,
        dirty: false,
        dead: false,
      };
      this.#series.set(key, s);
    }
    if (leafMap && leafKey) leafMap.set(leafKey, s);
    this.#bump(s, delta, now);
    return true;
  }

  #bump(s: Series, delta: number, now: number): void {
    s.value += delta;
    s.lastUpdate = now;
    if (this.#mirrored && !s.dirty) {
      s.dirty = true;
      this.#dirty.push(s);
    }
  }

  /** Writes changed series into the prom-client family. */
  sync(): void {
    if (!this.#mirrored) {
      // First read through prom-client: from now on changes are tracked for it; copy every series once.
      this.#mirrored = true;
      for (const s of this.#series.values()) {
        s.dirty = true;
        this.#dirty.push(s);
      }
    }
    const dirty = this.#dirty;
    if (dirty.length === 0) return;
    this.#dirty = [];
    for (const s of dirty) {
      s.dirty = false;
      if (s.dead) continue; // expired after its last update: must stay unexported
      let labels = s.labels;
      if (labels === undefined) {
        labels = s.labels = this.#labelsOf(s.values);
        this.#copied.add(s.values.join(KEY_SEP));
      }
      if (this.kind === 'gauge') {
        (this.family as Gauge<string>).set(labels, s.value);
      } else {
        (this.family as Counter<string>).inc(labels, s.value - s.synced);
      }
      s.synced = s.value;
    }
  }

  /** Removes series idle for at least `ttlMs` as of `now`; returns how many. */
  expire(now: number, ttlMs: number): number {
    let removed = 0;
    for (const s of this.#series.values()) {
      if (now - s.lastUpdate < ttlMs) continue;
      s.dead = true;
      this.#series.delete(s.key);
      if (s.labels) {
        this.family.remove(s.labels);
        this.#copied.delete(s.values.join(KEY_SEP));
      }
      removed++;
    }
    // The identity tree's string levels could hold many emptied branches after mass expiry; start it afresh.
    if (removed) {
      this.#root = this.#newRoot();
      // Changes not yet copied to prom-client: forget the expired ones (nothing else would release them).
      if (this.#dirty.length) this.#dirty = this.#dirty.filter((d) => !d.dead);
      this.hooks.onExpired(removed);
    }
    return removed;
  }

  #newRoot(): Map<string, unknown> | CtxMap {
    return this.#shape.boundedFixed && this.#shape.fixedCount === 0 ? new WeakMap() : new Map();
  }

  #labelsOf(values: readonly string[]): Record<string, string> {
    const labels: Record<string, string> = {};
    const names = this.#labelNames;
    for (let i = 0; i < names.length; i++) labels[names[i] as string] = values[i] as string;
    return labels;
  }
}
