/**
 * Bridges the agent's prom-client registries into the OpenTelemetry metrics SDK as a MetricProducer: at every
 * collection it reads the registries exactly as /metrics does (prom-client's `getMetricsAsJSON`, which runs each
 * family's `collect` hook, so custom collectors and the advanced series store are current) and turns each family
 * into one OTLP metric of the same name: counters as cumulative monotonic sums, gauges as gauges, histograms as
 * cumulative explicit-bucket histograms. Labels become attributes, the registries' default labels included.
 *
 * Why a producer and not SDK instruments: the values already live in prom-client, written by plugins and core;
 * mirroring every write into OTel instruments would double the hot-path cost and could drift from /metrics.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type MetricCollectOptions,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { emptyResource } from '@opentelemetry/resources';
import type { Registry } from 'prom-client';

/** Instrumentation scope of the bridged metrics. */
export const METRICS_SCOPE = { name: '@retina-ts/exporter-otlp' } as const;

type Labels = Record<string, string | number | undefined>;
interface Sample {
  value: number;
  labels: Labels;
  metricName?: string;
}
interface Family {
  name: string;
  help: string;
  type: string;
  values: Sample[];
}

/** When a cumulative series started, and its last value (a drop means the series was reset). */
interface SeriesStart {
  start: HrTime;
  last: number;
}

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}

function attributesOf(labels: Labels, skip?: string): Attributes {
  const out: Attributes = {};
  for (const [k, v] of Object.entries(labels)) {
    if (v === undefined || k === skip) continue;
    out[k] = typeof v === 'number' ? String(v) : v;
  }
  return out;
}

/** A stable key of an attribute set (label order in prom-client objects is not guaranteed). */
function seriesKey(attrs: Attributes): string {
  return JSON.stringify(Object.keys(attrs).sort().map((k) => [k, attrs[k]]));
}

function leOf(v: string | number | undefined): number {
  if (v === '+Inf' || v === Infinity) return Infinity;
  return typeof v === 'number' ? v : Number(v);
}

/** What a collection skipped (families of types OTLP has no place for here). */
export interface ProducerStats {
  /** Names of families not exported (prom-client summaries). */
  skippedFamilies: readonly string[];
}

/** Reads prom-client registries into OTLP metric data. */
export class PromRegistryProducer implements MetricProducer {
  readonly #registries: readonly Registry[];
  readonly #starts = new Map<string, Map<string, SeriesStart>>();
  readonly #now: () => number;
  readonly #skipped = new Set<string>();
  /** End of the previous collection: a series first seen now began counting after it. */
  #previousMs: number;

  /**
   * `registries` in /metrics order; `startedMs` is when counting began (the agent's start), the start time of the
   * series present at the first collection; `now` is the clock (ms since the epoch).
   */
  constructor(registries: readonly Registry[], startedMs: number = Date.now(), now: () => number = Date.now) {
    this.#registries = registries;
    this.#now = now;
    this.#previousMs = startedMs;
  }

  /** What the last collections skipped. */
  stats(): ProducerStats {
    return { skippedFamilies: [...this.#skipped] };
  }

  async collect(_options?: MetricCollectOptions): Promise<CollectionResult> {
    const errors: unknown[] = [];
    const metrics: MetricData[] = [];
    const seen = new Set<string>();
    for (const registry of this.#registries) {
      let families: Family[];
      try {
        families = (await registry.getMetricsAsJSON()) as unknown as Family[];
      } catch (err) {
        errors.push(err);
        continue;
      }
      const endMs = this.#now();
      for (const family of families) {
        if (seen.has(family.name)) continue;
        seen.add(family.name);
        try {
          const data = this.#convert(family, endMs);
          if (data) metrics.push(data);
        } catch (err) {
          errors.push(new Error(`metric ${family.name}: ${(err as Error).message}`));
        }
      }
    }
    // Families that disappeared (the advanced registry resets) forget their start times.
    for (const name of this.#starts.keys()) if (!seen.has(name)) this.#starts.delete(name);
    this.#previousMs = this.#now();
    return {
      resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: METRICS_SCOPE, metrics }] },
      errors,
    };
  }

  #convert(family: Family, endMs: number): MetricData | undefined {
    if (family.values.length === 0) return undefined;
    const descriptor = { name: family.name, description: family.help, unit: '', valueType: ValueType.DOUBLE };
    const end = hrTime(endMs);
    switch (family.type) {
      case 'counter': {
        const starts = this.#startsOf(family.name);
        const live = new Set<string>();
        const dataPoints = family.values.map((s): DataPoint<number> => {
          const attributes = attributesOf(s.labels);
          const key = seriesKey(attributes);
          live.add(key);
          return { startTime: this.#startOf(starts, key, s.value), endTime: end, attributes, value: s.value };
        });
        prune(starts, live);
        return {
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.SUM,
          isMonotonic: true,
          dataPoints,
        };
      }
      case 'gauge':
        return {
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.GAUGE,
          dataPoints: family.values.map((s) => ({
            startTime: end,
            endTime: end,
            attributes: attributesOf(s.labels),
            value: s.value,
          })),
        };
      case 'histogram':
        return {
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: this.#histogramPoints(family, endMs),
        };
      default:
        // prom-client summaries (quantiles over a sliding window) have no OTLP SDK data type; no agent family is one.
        this.#skipped.add(family.name);
        return undefined;
    }
  }

  #histogramPoints(family: Family, endMs: number): DataPoint<Histogram>[] {
    interface Acc {
      attributes: Attributes;
      buckets: Array<[number, number]>;
      sum: number;
      count: number;
    }
    const series = new Map<string, Acc>();
    for (const s of family.values) {
      const attributes = attributesOf(s.labels, 'le');
      const key = seriesKey(attributes);
      let acc = series.get(key);
      if (!acc) series.set(key, (acc = { attributes, buckets: [], sum: 0, count: 0 }));
      const which = s.metricName ?? '';
      if (which.endsWith('_bucket')) acc.buckets.push([leOf(s.labels['le']), s.value]);
      else if (which.endsWith('_sum')) acc.sum = s.value;
      else if (which.endsWith('_count')) acc.count = s.value;
    }
    const starts = this.#startsOf(family.name);
    const end = hrTime(endMs);
    const points: DataPoint<Histogram>[] = [];
    for (const [key, acc] of series) {
      // prom-client buckets are cumulative (`le`); OTLP wants the count of each bucket, the last one unbounded.
      acc.buckets.sort((a, b) => a[0] - b[0]);
      const boundaries: number[] = [];
      const counts: number[] = [];
      let previous = 0;
      for (const [le, cumulative] of acc.buckets) {
        if (le === Infinity) continue;
        boundaries.push(le);
        counts.push(cumulative - previous);
        previous = cumulative;
      }
      counts.push(acc.count - previous);
      points.push({
        startTime: this.#startOf(starts, key, acc.count),
        endTime: end,
        attributes: acc.attributes,
        value: { buckets: { boundaries, counts }, sum: acc.sum, count: acc.count },
      });
    }
    prune(starts, new Set(series.keys()));
    return points;
  }

  #startsOf(name: string): Map<string, SeriesStart> {
    let m = this.#starts.get(name);
    if (!m) this.#starts.set(name, (m = new Map()));
    return m;
  }

  /**
   * The series' start time: the previous collection when it is new (it began counting since then), renewed the
   * same way when its cumulative value went down (a reset).
   */
  #startOf(starts: Map<string, SeriesStart>, key: string, value: number): HrTime {
    const known = starts.get(key);
    if (known && value >= known.last) {
      known.last = value;
      return known.start;
    }
    const start = hrTime(this.#previousMs);
    starts.set(key, { start, last: value });
    return start;
  }
}

function prune(starts: Map<string, SeriesStart>, live: ReadonlySet<string>): void {
  if (starts.size === live.size) return;
  for (const key of starts.keys()) if (!live.has(key)) starts.delete(key);
}
