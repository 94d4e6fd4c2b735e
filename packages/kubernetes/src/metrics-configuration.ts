/**
 * MetricsConfiguration custom resources (retina.sh/v1alpha1, cluster-scoped): parsing, validation as Retina's
 * operator does it, and choosing the one in force. Retina's agents apply only a configuration the operator marked
 * `Accepted`, and only one per cluster (the first accepted); the same rules apply here by default.
 */
import { parseDuration, VALID_METRIC_NAMES } from '@retina-ts/core';
import { z } from 'zod';
import { timeMs, type KubeObjectLike } from './objects.js';

/** Metric names a context option may name (Retina's advanced metric list; core keeps the one copy). */
export const ADVANCED_METRIC_NAMES = VALID_METRIC_NAMES;

/** One `spec.contextOptions[]` entry. */
export interface MetricsContextOption {
  metricName: string;
  sourceLabels: string[];
  destinationLabels: string[];
  additionalLabels: string[];
  /** `ttl` in ms; 0 = series never expire. */
  ttlMs: number;
}

/** A validated `spec`. Exactly one of include/exclude is set. */
export interface MetricsConfigurationSpec {
  contextOptions: MetricsContextOption[];
  namespaces: { include?: string[]; exclude?: string[] };
}

/** A MetricsConfiguration as the watcher reports it. */
export interface MetricsConfigurationInfo {
  name: string;
  /** `status.state`: Initialized, Accepted, Errored, Warning (Initialized when unset). */
  state: string;
  createdMs: number;
  spec: MetricsConfigurationSpec;
}

const stringSet = z.array(z.string()).nullish().transform((v) => [...new Set(v ?? [])]);

const specSchema = z.object({
  contextOptions: z
    .array(
      z.object({
        metricName: z.string().min(1, 'metricName is required'),
        sourceLabels: stringSet,
        destinationLabels: stringSet,
        additionalLabels: stringSet,
        ttl: z.string().nullish(),
      }),
    )
    .min(1, 'contextOptions must not be empty'),
  namespaces: z.object({
    include: z.array(z.string()).nullish(),
    exclude: z.array(z.string()).nullish(),
  }),
});

/** Parses and validates a MetricsConfiguration object; the error names the field and what is allowed. */
export function parseMetricsConfiguration(
  obj: KubeObjectLike & { spec?: unknown; status?: { state?: string } },
): { ok: true; value: MetricsConfigurationInfo } | { ok: false; error: string } {
  const name = obj.metadata?.name ?? '';
  const where = `MetricsConfiguration "${name}"`;
  if (!name) return { ok: false, error: `${where}: metadata.name is empty` };
  const parsed = specSchema.safeParse(obj.spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return { ok: false, error: `${where}: spec.${issue.path.join('.')}: ${issue.message}` };
  }
  const spec = parsed.data;
  const options: MetricsContextOption[] = [];
  for (const [i, o] of spec.contextOptions.entries()) {
    if (!(ADVANCED_METRIC_NAMES as readonly string[]).includes(o.metricName)) {
      return {
        ok: false,
        error: `${where}: spec.contextOptions.${i}.metricName: "${o.metricName}" is not an advanced metric (one of ${ADVANCED_METRIC_NAMES.join(', ')})`,
      };
    }
    let ttlMs = 0;
    if (o.ttl) {
      const ms = parseDuration(o.ttl);
      if (ms === undefined || ms < 0) {
        return { ok: false, error: `${where}: spec.contextOptions.${i}.ttl: "${o.ttl}" is not a non-negative duration (e.g. 5m, 1h)` };
      }
      ttlMs = ms;
    }
    options.push({
      metricName: o.metricName,
      sourceLabels: o.sourceLabels,
      destinationLabels: o.destinationLabels,
      additionalLabels: o.additionalLabels,
      ttlMs,
    });
  }
  const { include, exclude } = spec.namespaces;
  if ((include == null) === (exclude == null)) {
    return { ok: false, error: `${where}: spec.namespaces: set exactly one of include and exclude` };
  }
  return {
    ok: true,
    value: {
      name,
      state: obj.status?.state || 'Initialized',
      createdMs: timeMs(obj.metadata?.creationTimestamp),
      spec: {
        contextOptions: options,
        namespaces: include != null ? { include: [...include] } : { exclude: [...exclude!] },
      },
    },
  };
}

/**
 * The configuration in force among `configs`: the oldest `Accepted` one (by creation time, then name), or with
 * `requireAccepted: false` the oldest valid one whatever its state (for clusters without the operator).
 */
export function selectMetricsConfiguration(
  configs: readonly MetricsConfigurationInfo[],
  options: { requireAccepted?: boolean } = {},
): MetricsConfigurationInfo | undefined {
  const eligible = configs.filter((c) => options.requireAccepted === false || c.state === 'Accepted');
  return [...eligible].sort((a, b) => a.createdMs - b.createdMs || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))[0];
}
