// Reading what a plugin wrote into a prom-client registry, for tests that compare series rather than exposition text.
// Typed by shape, so the kit depends on neither prom-client nor @retina-ts/core.

/** One sample of a metric as prom-client's `get()` returns it (histograms name each sample). */
export interface MetricSample {
  readonly labels: Readonly<Partial<Record<string, string | number>>>;
  readonly value: number;
  readonly metricName?: string;
}

/** What the helpers read of a prom-client registry. */
export interface MetricRegistryLike {
  getSingleMetric(name: string): { get(): Promise<{ values: readonly MetricSample[] }> } | undefined;
}

/** Options of seriesOf(). */
export interface SeriesOptions {
  /** Key each series `<sample name>{k=v,...}` instead of `k=v,...` (a histogram has several samples per label set). */
  sampleNames?: boolean;
}

/**
 * The series of family `name` as `k=v,k=v → value`, labels in the order the sample lists them, from the first of
 * `registries` that has the family. Throws when none has it.
 */
export async function seriesOf(
  registries: MetricRegistryLike | readonly MetricRegistryLike[],
  name: string,
  options: SeriesOptions = {},
): Promise<Map<string, number>> {
  const list: readonly MetricRegistryLike[] = Array.isArray(registries) ? registries : [registries];
  let metric: ReturnType<MetricRegistryLike['getSingleMetric']>;
  for (const registry of list) {
    metric = registry.getSingleMetric(name);
    if (metric) break;
  }
  if (!metric) throw new Error(`metric ${name} is not registered`);
  const { values } = await metric.get();
  return new Map(
    values.map((v) => {
      const labels = Object.entries(v.labels)
        .map(([k, x]) => `${k}=${String(x)}`)
        .join(',');
      return [options.sampleNames ? `${v.metricName ?? name}{${labels}}` : labels, v.value];
    }),
  );
}
