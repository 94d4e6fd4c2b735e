/**
 * MetricsConfiguration acceptance, as Retina's operator does it: each object is validated and its
 * `status.state` set to `Accepted` or `Errored` with a reason naming the offending field. One configuration is in
 * force per cluster: the first valid one accepted holds the slot (also while an edit makes it invalid, so a typo
 * does not hand the slot to another), every other valid one gets `Errored` naming the holder (an invalid one gets
 * its validation error, whoever holds the slot). When the holder is deleted,
 * the others are validated again and the oldest valid one takes its place (Retina waits for their next change).
 * Agents apply only an `Accepted` configuration.
 */
import { CustomObjectsApi, makeInformer, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { unlessNotFound } from '@retina-ts/capture';
import { AdvancedMetricsConfigError, CONTEXT_OPTIONS, parseDuration, resolveSpec, VALID_METRIC_NAMES } from '@retina-ts/core';
import { reconcileQueue, type WatchingControllerOptions, type WorkQueue } from './controller.js';
import { RETINA_GROUP, RETINA_VERSION } from './crds/definitions.js';
import { metricsSpecSchema, type MetricsConfigurationState, type MetricsSpec, type MetricsStatus } from './crds/schemas.js';
import { watchInformer, type StartedInformer } from './informers.js';

const PLURAL = 'metricsconfigurations';

/** A MetricsConfiguration as read from the API. */
export interface MetricsConfigurationObject extends KubernetesObject {
  spec?: unknown;
  status?: Partial<MetricsStatus>;
}

/** The outcome of validating one object: nothing wrong, or the first problem with the field it is in. */
export type MetricsValidation = { ok: true; ignoredLabels: string[] } | { ok: false; field: string; message: string };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A label token: what Retina's agents parse (case-insensitive words). */
const LABEL_TOKEN = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Largest list of labels or namespaces one object may carry. */
const MAX_LIST = 256;

/**
 * Validates a MetricsConfiguration (pure): the schema, a non-empty list of context options with known, distinct
 * advanced metric names, well-formed label names, a non-negative Go duration as TTL, exactly one of
 * namespaces.include and namespaces.exclude holding namespace names. Label names the agents do not know (Retina's
 * own sample uses `pod`) are accepted and reported, as the agents ignore them.
 */
export function validateMetricsConfiguration(obj: MetricsConfigurationObject): MetricsValidation {
  const fail = (field: string, message: string): MetricsValidation => ({ ok: false, field, message });
  if (!obj.metadata?.name) return fail('metadata.name', 'is empty');
  if (obj.spec === undefined || obj.spec === null) return fail('spec', 'is required');
  const parsed = metricsSpecSchema.safeParse(obj.spec);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return fail(['spec', ...issue.path.map(String)].join('.'), issue.message);
  }
  const spec: MetricsSpec = parsed.data;
  if (spec.contextOptions.length === 0) return fail('spec.contextOptions', 'is empty: name at least one advanced metric');
  const ignored: string[] = [];
  const seen = new Set<string>();
  for (const [i, o] of spec.contextOptions.entries()) {
    const at = `spec.contextOptions[${i}]`;
    if (!(VALID_METRIC_NAMES as readonly string[]).includes(o.metricName)) {
      return fail(`${at}.metricName`, `"${o.metricName}" is not an advanced metric (one of ${VALID_METRIC_NAMES.join(', ')})`);
    }
    if (seen.has(o.metricName)) return fail(`${at}.metricName`, `"${o.metricName}" is configured twice`);
    seen.add(o.metricName);
    for (const list of ['sourceLabels', 'destinationLabels', 'additionalLabels'] as const) {
      const labels = o[list] ?? [];
      if (labels.length > MAX_LIST) return fail(`${at}.${list}`, `has ${labels.length} entries; at most ${MAX_LIST}`);
      for (const [j, l] of labels.entries()) {
        if (!LABEL_TOKEN.test(l) || l.length > 63) {
          return fail(`${at}.${list}[${j}]`, `"${l}" is not a label name (a letter, then letters, digits or _; at most 63)`);
        }
        const known: readonly string[] = list === 'additionalLabels' ? ['direction', 'is_reply'] : CONTEXT_OPTIONS;
        if (!known.includes(l.toLowerCase())) ignored.push(`${at}.${list}[${j}]=${l}`);
      }
    }
    if (o.ttl !== undefined && o.ttl !== '') {
      const ms = parseDuration(o.ttl);
      if (ms === undefined) return fail(`${at}.ttl`, `"${o.ttl}" is not a duration (e.g. 30s, 5m, 1h)`);
      if (ms < 0) return fail(`${at}.ttl`, `"${o.ttl}" is negative`);
    }
  }
  const { include, exclude } = spec.namespaces;
  if (include === undefined && exclude === undefined) return fail('spec.namespaces', 'set one of include and exclude');
  if (include !== undefined && exclude !== undefined) return fail('spec.namespaces', 'set only one of include and exclude, not both');
  const which = include !== undefined ? 'include' : 'exclude';
  const names = (include ?? exclude)!;
  if (names.length > MAX_LIST) return fail(`spec.namespaces.${which}`, `has ${names.length} entries; at most ${MAX_LIST}`);
  for (const [j, n] of names.entries()) {
    if (!DNS_LABEL.test(n) || n.length > 63) return fail(`spec.namespaces.${which}[${j}]`, `"${n}" is not a namespace name`);
  }
  // What the agents run on the spec: anything it refuses must not be accepted.
  try {
    resolveSpec(spec);
  } catch (err) {
    if (err instanceof AdvancedMetricsConfigError) return fail('spec', err.message);
    throw err;
  }
  return { ok: true, ignoredLabels: ignored };
}

/** Reason of an accepted configuration. */
export const ACCEPTED_REASON = 'CRD is Accepted';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const created = (o: KubernetesObject) => Date.parse(String(o.metadata?.creationTimestamp ?? '')) || 0;
const byAge = (a: KubernetesObject, b: KubernetesObject) =>
  created(a) - created(b) || ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1);

/** Knobs of the controller. */
export type MetricsConfigurationControllerOptions = WatchingControllerOptions;

/** Watches MetricsConfigurations and writes their acceptance into status. */
export class MetricsConfigurationController {
  readonly queue: WorkQueue;
  readonly #kc: KubeConfig;
  readonly #api: CustomObjectsApi;
  readonly #o: MetricsConfigurationControllerOptions;
  #informer?: StartedInformer<MetricsConfigurationObject>;
  /** Name of the configuration in force. */
  #holder: string | undefined;

  constructor(kc: KubeConfig, options: MetricsConfigurationControllerOptions) {
    this.#kc = kc;
    this.#o = options;
    this.#api = kc.makeApiClient(CustomObjectsApi);
    this.queue = reconcileQueue('metricsConfiguration', (name) => this.reconcile(name), options);
  }

  /** The configuration currently in force. */
  get holder(): string | undefined {
    return this.#holder;
  }

  /** Lists and watches; an already accepted, still valid configuration keeps the slot across restarts. */
  async start(): Promise<void> {
    const path = `/apis/${RETINA_GROUP}/${RETINA_VERSION}/${PLURAL}`;
    const informer = makeInformer<MetricsConfigurationObject>(
      this.#kc,
      path,
      async () => (await this.#api.listClusterCustomObject({ group: RETINA_GROUP, version: RETINA_VERSION, plural: PLURAL })) as never,
    );
    this.#informer = await watchInformer(informer, {
      name: PLURAL,
      logger: this.#o.logger,
      restartMs: this.#o.informerRestartMs ?? 5000,
      onChange: (o) => this.queue.add(o.metadata?.name ?? ''),
      onStartQueue: (all) => {
        const sorted = [...all].sort(byAge);
        this.#holder = sorted.find((o) => o.status?.state === 'Accepted' && validateMetricsConfiguration(o).ok)?.metadata?.name;
        for (const o of sorted) this.queue.add(o.metadata?.name ?? '');
      },
    });
    this.#o.logger.info({ holder: this.#holder }, 'metricsconfiguration controller started');
  }

  async stop(): Promise<void> {
    this.queue.stop();
    await this.#informer?.stop();
  }

  async #get(name: string): Promise<MetricsConfigurationObject | undefined> {
    return (await unlessNotFound(() =>
      this.#api.getClusterCustomObject({ group: RETINA_GROUP, version: RETINA_VERSION, plural: PLURAL, name }),
    )) as MetricsConfigurationObject | undefined;
  }

  /** One pass for `name`: validate, decide, write the status when it changed. */
  async reconcile(name: string): Promise<void> {
    if (!name) return;
    const mc = await this.#get(name);
    if (!mc) {
      if (this.#holder === name) {
        this.#holder = undefined;
        this.#o.logger.info({ metricsConfiguration: name }, 'the configuration in force was deleted; validating the others');
        for (const o of [...(this.#informer?.list() ?? [])].sort(byAge)) if (o.metadata?.name !== name) this.queue.add(o.metadata!.name!);
      }
      return;
    }
    let state: MetricsConfigurationState;
    let reason: string;
    // Validation first, whoever holds the slot, so an object's reason does not flip as the slot changes hands.
    const v = validateMetricsConfiguration(mc);
    if (!v.ok) {
      state = 'Errored';
      reason = `Validation of CRD failed with: ${v.field}: ${v.message}`;
    } else if (this.#holder === undefined || this.#holder === name) {
      this.#holder = name;
      state = 'Accepted';
      reason = v.ignoredLabels.length > 0 ? `${ACCEPTED_REASON}; labels the agents ignore: ${v.ignoredLabels.join(', ')}` : ACCEPTED_REASON;
    } else {
      state = 'Errored';
      reason = `Metrics Configuration is already configured on this cluster (${this.#holder}), cannot reconcile this new config.`;
    }
    if (mc.status?.state === state && mc.status?.reason === reason) return;
    await this.#api.patchClusterCustomObjectStatus(
      { group: RETINA_GROUP, version: RETINA_VERSION, plural: PLURAL, name, body: { status: { state, reason } } },
      mergePatch,
    );
    this.#o.logger.info({ metricsConfiguration: name, state, reason }, 'metricsconfiguration status written');
  }
}
