/**
 * The metrics module: Retina's metric families over prom-client, in registries owned by this module (never
 * prom-client's global registry), plus typed handles for plugins and an exposition that negotiates Prometheus
 * text vs OpenMetrics.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { version as coreVersion } from '../../package.json';
import {
  ADVANCED_METRIC_PREFIX,
  BASIC_METRICS,
  METRIC_PREFIX,
  SELF_METRIC_PREFIX,
  SELF_METRICS,
  type MetricSpec,
  type MetricType,
} from './names.js';
import { directFamily } from './direct.js';
import {
  OPENMETRICS_CONTENT_TYPE,
  PROMETHEUS_CONTENT_TYPE,
  negotiateFormat,
  renderFamilies,
  type FamilySnapshot,
} from './exposition.js';

type LabelsOf<S> = S extends { labelNames: readonly (infer L)[] } ? Extract<L, string> : never;
type HandleOf<S> = S extends { type: 'gauge' }
  ? Gauge<LabelsOf<S>>
  : S extends { type: 'counter' }
    ? Counter<LabelsOf<S>>
    : S extends { type: 'histogram' }
      ? Histogram<LabelsOf<S>>
      : never;

/** Typed handles to the basic (node-level) families. */
export type BasicMetrics = { readonly [K in keyof typeof BASIC_METRICS]: HandleOf<(typeof BASIC_METRICS)[K]> };
/** Typed handles to the agent's self-metrics. */
export type SelfMetrics = { readonly [K in keyof typeof SELF_METRICS]: HandleOf<(typeof SELF_METRICS)[K]> };

/** Options of `metrics.gauge/counter/histogram`. */
export interface FamilyOptions<L extends string = string> {
  /** Metric name; gets the `networkobservability_` prefix unless it already has it. */
  name: string;
  help: string;
  labelNames?: readonly L[];
}

/** Options of `metrics.histogram`. */
export interface HistogramOptions<L extends string = string> extends FamilyOptions<L> {
  /** Upper bounds (without +Inf). Default: prom-client's default buckets. */
  buckets?: readonly number[];
}

/** Options of `createMetricsModule`. */
export interface MetricsModuleOptions {
  /** Labels added to every series, only when non-empty. Usually set by the scrape config instead. */
  universalLabels?: { cluster?: string; instance?: string };
  /** Version reported in build_info (default: this package's version). */
  version?: string;
  /** Set false to always serve Prometheus text 0.0.4, whatever the client accepts. Default true. */
  openMetrics?: boolean;
}

/** What `expose` returns: the body and the Content-Type to send with it. */
export interface Exposition {
  contentType: string;
  body: string;
}

/**
 * The advanced (pod-level, `adv_*`) section. It has its own registry because its families are rebuilt whenever
 * the context options change; `reset()` drops them all.
 */
export interface AdvancedMetrics {
  readonly registry: Registry;
  gauge<L extends string = string>(opts: FamilyOptions<L>): Gauge<L>;
  counter<L extends string = string>(opts: FamilyOptions<L>): Counter<L>;
  histogram<L extends string = string>(opts: HistogramOptions<L>): Histogram<L>;
  /** Unregisters every advanced family (their handles stop being exposed). */
  reset(): void;
}

/** The metrics module every plugin receives in its context. */
export interface MetricsModule {
  /** Basic (node-level) families; series appear once set. */
  readonly basic: BasicMetrics;
  /** The agent's own metrics (prefix `controlplane_networkobservability_`). */
  readonly self: SelfMetrics;
  /** Advanced families, in a separate registry. */
  readonly advanced: AdvancedMetrics;
  /** The registry holding basic, self and third-party families. */
  readonly registry: Registry;
  /** Universal labels in effect (only the non-empty ones). */
  readonly universalLabels: Readonly<Record<string, string>>;
  /** A gauge family for a third-party plugin (same name and labels again returns the same object). */
  gauge<L extends string = string>(opts: FamilyOptions<L>): Gauge<L>;
  /** A counter family for a third-party plugin. */
  counter<L extends string = string>(opts: FamilyOptions<L>): Counter<L>;
  /** A histogram family for a third-party plugin. */
  histogram<L extends string = string>(opts: HistogramOptions<L>): Histogram<L>;
  /** Renders every family; `accept` is the HTTP Accept header (OpenMetrics when it asks for it). */
  expose(accept?: string): Promise<Exposition>;
}

/** Thrown when a family is registered twice with different types or labels, or with an invalid name. */
export class MetricRegistrationError extends Error {
  override name = 'MetricRegistrationError';
}

const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

type AnyFamily = Gauge<string> | Counter<string> | Histogram<string>;

interface FamilyEntry {
  spec: MetricSpec;
  metric: AnyFamily;
}

/** Creates prom-client families in one registry and remembers their specs (for conflict checks and rendering). */
class FamilyTable {
  readonly entries = new Map<string, FamilyEntry>();

  constructor(readonly registry: Registry) {}

  get(spec: MetricSpec): AnyFamily {
    if (!METRIC_NAME_RE.test(spec.name)) {
      throw new MetricRegistrationError(`metric name "${spec.name}" is invalid (allowed: letters, digits, _ and :)`);
    }
    for (const l of spec.labelNames) {
      if (!LABEL_NAME_RE.test(l) || l.startsWith('__')) {
        throw new MetricRegistrationError(`metric ${spec.name}: label name "${l}" is invalid (allowed: letters, digits, _)`);
      }
    }
    const existing = this.entries.get(spec.name);
    if (existing) {
      const a = existing.spec;
      if (a.type !== spec.type || a.labelNames.join(',') !== spec.labelNames.join(',')) {
        throw new MetricRegistrationError(
          `metric ${spec.name} is already registered as ${a.type} with labels [${a.labelNames.join(', ')}]; ` +
            `cannot register it again as ${spec.type} with labels [${spec.labelNames.join(', ')}]`,
        );
      }
      return existing.metric;
    }
    const metric = createFamily(spec, this.registry);
    this.entries.set(spec.name, { spec, metric });
    return metric;
  }

  clear(): void {
    this.entries.clear();
    this.registry.clear();
  }

  async snapshot(): Promise<FamilySnapshot[]> {
    const out: FamilySnapshot[] = [];
    for (const { spec, metric } of this.entries.values()) {
      const direct = directFamily(metric);
      if (direct) {
        // Series other writers set through prom-client on the same family are rendered after the direct ones.
        const others = await direct.readOthers(() => metric.get());
        out.push({
          name: spec.name,
          help: spec.help,
          type: spec.type,
          labelNames: spec.labelNames,
          values: (others.values as FamilySnapshot['values']).filter((v) => !direct.owns(v.labels)),
          render: (lines, sampleName, universal) => direct.render(lines, sampleName, universal),
        });
        continue;
      }
      const data = await metric.get();
      out.push({
        name: spec.name,
        help: spec.help,
        type: spec.type,
        labelNames: spec.labelNames,
        values: data.values as FamilySnapshot['values'],
      });
    }
    return out;
  }
}

function createFamily(spec: MetricSpec, registry: Registry): AnyFamily {
  const base = { name: spec.name, help: spec.help, labelNames: [...spec.labelNames], registers: [registry] };
  let metric: AnyFamily;
  switch (spec.type) {
    case 'gauge':
      metric = new Gauge(base);
      break;
    case 'counter':
      metric = new Counter(base);
      break;
    case 'histogram':
      metric = new Histogram(spec.buckets ? { ...base, buckets: [...spec.buckets] } : base);
      break;
  }
  // prom-client starts a label-less family with a zero series; remove it so a series appears only once set.
  if (spec.labelNames.length === 0) metric.remove();
  return metric;
}

/**
 * Adds the data-plane prefix unless the name already carries it or the agent's own prefix (so components such as
 * watchers can register `controlplane_networkobservability_*` self-metrics through the same methods).
 */
export function prefixedMetricName(name: string): string {
  return name.startsWith(METRIC_PREFIX) || name.startsWith(SELF_METRIC_PREFIX) ? name : METRIC_PREFIX + name;
}

function familyMethods(table: FamilyTable, mapName: (name: string) => string) {
  const make = (type: MetricType, opts: HistogramOptions): AnyFamily =>
    table.get({
      name: mapName(opts.name),
      type,
      help: opts.help,
      labelNames: opts.labelNames ?? [],
      ...(opts.buckets ? { buckets: opts.buckets } : {}),
    });
  return {
    gauge: <L extends string = string>(opts: FamilyOptions<L>) => make('gauge', opts) as Gauge<L>,
    counter: <L extends string = string>(opts: FamilyOptions<L>) => make('counter', opts) as Counter<L>,
    histogram: <L extends string = string>(opts: HistogramOptions<L>) => make('histogram', opts) as Histogram<L>,
  };
}

/** Creates a metrics module with its own registries; basic and self families are registered immediately. */
export function createMetricsModule(options: MetricsModuleOptions = {}): MetricsModule {
  const universal: Record<string, string> = {};
  for (const key of ['cluster', 'instance'] as const) {
    const v = options.universalLabels?.[key];
    if (v !== undefined && v !== '') universal[key] = v;
  }
  const universalPairs = Object.entries(universal) as Array<[string, string]>;

  const registry = new Registry();
  const advancedRegistry = new Registry();
  if (universalPairs.length) {
    registry.setDefaultLabels(universal);
    advancedRegistry.setDefaultLabels(universal);
  }
  const table = new FamilyTable(registry);
  const advancedTable = new FamilyTable(advancedRegistry);

  const basic = Object.fromEntries(
    Object.entries(BASIC_METRICS).map(([key, spec]) => [key, table.get(spec)]),
  ) as unknown as BasicMetrics;
  const self = Object.fromEntries(
    Object.entries(SELF_METRICS).map(([key, spec]) => [key, table.get(spec)]),
  ) as unknown as SelfMetrics;
  self.buildInfo.set({ version: options.version ?? coreVersion, nodejs_version: process.version }, 1);

  // Advanced names always read `networkobservability_adv_<name>`, whichever form the caller passes.
  const advancedName = (name: string): string => {
    const bare = name.startsWith(METRIC_PREFIX) ? name.slice(METRIC_PREFIX.length) : name;
    return bare.startsWith('adv_') ? METRIC_PREFIX + bare : ADVANCED_METRIC_PREFIX + bare;
  };
  const advanced: AdvancedMetrics = {
    registry: advancedRegistry,
    ...familyMethods(advancedTable, advancedName),
    reset() {
      advancedTable.clear();
      if (universalPairs.length) advancedRegistry.setDefaultLabels(universal);
    },
  };

  const openMetricsAllowed = options.openMetrics !== false;

  return {
    basic,
    self,
    advanced,
    registry,
    universalLabels: universal,
    ...familyMethods(table, prefixedMetricName),
    async expose(accept?: string): Promise<Exposition> {
      const format = openMetricsAllowed ? negotiateFormat(accept) : 'prometheus';
      const families = [...(await table.snapshot()), ...(await advancedTable.snapshot())];
      return {
        contentType: format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE,
        body: renderFamilies(families, format, universalPairs),
      };
    },
  };
}
