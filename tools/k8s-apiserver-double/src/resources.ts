/**
 * The resource types the double serves, with the facts the list/watch protocol needs: where they live in the URL
 * space, whether they are namespaced, and the kind names used in objects and lists.
 */

/** One served resource type. */
export interface ResourceType {
  /** Plural as in the URL, e.g. `pods`. */
  readonly plural: string;
  /** API group; empty for the core group. */
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Built-in types drop kind/apiVersion from list items; custom resources keep them. */
  readonly custom: boolean;
}

/** `v1` or `group/version`, as in an object's `apiVersion`. */
export function apiVersionOf(t: ResourceType): string {
  return t.group === '' ? t.version : `${t.group}/${t.version}`;
}

/** The resource's key in the double's API: `pods`, `replicasets.apps`, `retinaendpoints.retina.sh`. */
export function resourceKey(t: ResourceType): string {
  return t.group === '' ? t.plural : `${t.plural}.${t.group}`;
}

const core = (plural: string, kind: string, namespaced: boolean): ResourceType => ({
  plural,
  group: '',
  version: 'v1',
  kind,
  namespaced,
  custom: false,
});
const grouped = (group: string, version: string, plural: string, kind: string, namespaced: boolean, custom = false) =>
  ({ plural, group, version, kind, namespaced, custom }) satisfies ResourceType;

/** Every resource type the double serves. */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  core('pods', 'Pod', true),
  core('services', 'Service', true),
  core('endpoints', 'Endpoints', true),
  core('nodes', 'Node', false),
  core('namespaces', 'Namespace', false),
  core('secrets', 'Secret', true),
  core('configmaps', 'ConfigMap', true),
  grouped('coordination.k8s.io', 'v1', 'leases', 'Lease', true),
  grouped('discovery.k8s.io', 'v1', 'endpointslices', 'EndpointSlice', true),
  grouped('apps', 'v1', 'replicasets', 'ReplicaSet', true),
  grouped('apps', 'v1', 'deployments', 'Deployment', true),
  grouped('apps', 'v1', 'daemonsets', 'DaemonSet', true),
  grouped('apps', 'v1', 'statefulsets', 'StatefulSet', true),
  grouped('batch', 'v1', 'jobs', 'Job', true),
  grouped('batch', 'v1', 'cronjobs', 'CronJob', true),
  grouped('retina.sh', 'v1alpha1', 'retinaendpoints', 'RetinaEndpoint', true, true),
  grouped('retina.sh', 'v1alpha1', 'metricsconfigurations', 'MetricsConfiguration', false, true),
  grouped('retina.sh', 'v1alpha1', 'captures', 'Capture', true, true),
  grouped('retina.sh', 'v1alpha1', 'tracesconfigurations', 'TracesConfiguration', false, true),
  grouped('apiextensions.k8s.io', 'v1', 'customresourcedefinitions', 'CustomResourceDefinition', false),
];

const byKey = new Map(RESOURCE_TYPES.map((t) => [resourceKey(t), t]));

/** Resolves `pods`, `Pod`, `replicasets.apps`, `ReplicaSet` or `retinaendpoints.retina.sh`; throws when unknown. */
export function resourceType(name: string): ResourceType {
  const exact = byKey.get(name);
  if (exact) return exact;
  const matches = RESOURCE_TYPES.filter((t) => t.plural === name || t.kind === name);
  if (matches.length === 1) return matches[0]!;
  throw new Error(
    `unknown resource "${name}": use one of ${[...byKey.keys()].join(', ')} (or a kind such as "Pod")`,
  );
}

/** Finds the type for a URL's group, version and plural, or undefined when the double does not serve it. */
export function resourceTypeForPath(group: string, version: string, plural: string): ResourceType | undefined {
  const t = byKey.get(group === '' ? plural : `${plural}.${group}`);
  return t && t.version === version ? t : undefined;
}
