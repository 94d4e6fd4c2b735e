/**
 * Pods of the API server double for kernel tests, their networks on testkit's `PodBridge`: Deployments' pods, their
 * context labels, namespaces and accepted MetricsConfigurations.
 */
import type { ApiServerDouble } from '@retina-ts/k8s-apiserver-double';
import type { PodBridge, PodNetwork } from '@retina-ts/testkit';

/** A pod owned by a Deployment through its ReplicaSet `<deployment>-<hash>`. */
export interface DeploymentPodSpec {
  key: string;
  namespace: string;
  deployment: string;
  hash: string;
  ip: string;
}

/** Registers the pod `name`, its ReplicaSet and its Deployment in the API server double, running on `nodeName`. */
export function registerDeploymentPod(
  api: ApiServerDouble,
  p: DeploymentPodSpec,
  name: string,
  nodeName: string,
): void {
  const rs = `${p.deployment}-${p.hash}`;
  api.create('deployments.apps', {
    metadata: { name: p.deployment, namespace: p.namespace, uid: `dep-${p.key}` },
  });
  api.create('replicasets.apps', {
    metadata: {
      name: rs,
      namespace: p.namespace,
      uid: `rs-${p.key}`,
      ownerReferences: [
        {
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          name: p.deployment,
          uid: `dep-${p.key}`,
          controller: true,
        },
      ],
    },
  });
  api.create('pods', {
    metadata: {
      name,
      namespace: p.namespace,
      labels: { app: p.deployment, 'pod-template-hash': p.hash },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: rs, uid: `rs-${p.key}`, controller: true },
      ],
    },
    spec: { nodeName },
    status: { phase: 'Running', podIP: p.ip, podIPs: [{ ip: p.ip }] },
  });
}

/** The context labels (`<prefix>_ip`, `_namespace`, `_podname`, `_workload_kind`, `_workload_name`) of such a pod. */
export function deploymentContext(
  prefix: 'source' | 'destination',
  p: DeploymentPodSpec & { name: string },
): Record<string, string> {
  return {
    [`${prefix}_ip`]: p.ip,
    [`${prefix}_namespace`]: p.namespace,
    [`${prefix}_podname`]: p.name,
    [`${prefix}_workload_kind`]: 'Deployment',
    [`${prefix}_workload_name`]: p.deployment,
  };
}

/** The context options the kernel tests select on both sides: a pod's IP, namespace, name and workload. */
export const POD_CONTEXT: readonly string[] = ['ip', 'namespace', 'podname', 'workload'];

/** What acceptMetricsConfiguration writes. */
export interface AcceptedMetricsConfiguration {
  /** CRD metric names (`forward_count`, `node_apiserver_latency`, ...). */
  metrics: readonly string[];
  /** Namespaces whose pods are observed (`spec.namespaces.include`). */
  include: readonly string[];
  /** Source context options (default POD_CONTEXT). */
  sourceLabels?: readonly string[];
  /** Destination context options (default: the source ones). */
  destinationLabels?: readonly string[];
  ttl?: string;
}

/** Creates the namespaces `names` in the API server double. */
export function createNamespaces(api: ApiServerDouble, names: readonly string[]): void {
  for (const name of names) api.create('namespaces', { metadata: { name } });
}

/** Creates MetricsConfiguration `name` with the status the operator gives an accepted one (what agents apply). */
export function acceptMetricsConfiguration(api: ApiServerDouble, name: string, mc: AcceptedMetricsConfiguration): void {
  const sourceLabels = [...(mc.sourceLabels ?? POD_CONTEXT)];
  const destinationLabels = [...(mc.destinationLabels ?? sourceLabels)];
  api.create('metricsconfigurations.retina.sh', {
    apiVersion: 'retina.sh/v1alpha1',
    kind: 'MetricsConfiguration',
    metadata: { name },
    spec: {
      contextOptions: mc.metrics.map((metricName) => ({
        metricName,
        sourceLabels,
        destinationLabels,
        ...(mc.ttl ? { ttl: mc.ttl } : {}),
      })),
      namespaces: { include: [...mc.include] },
    },
    status: { state: 'Accepted' },
  });
}

/** A Deployment's pod running in a namespace on the bridge. */
export type DeploymentPod<S extends DeploymentPodSpec> = S & PodNetwork & { name: string };

/**
 * Puts each spec's pod on the bridge (namespace names from `netnsPrefix` and the key) and registers it, its
 * ReplicaSet and its Deployment on `nodeName`. Pod names carry the process id, so concurrent runs differ.
 */
export function addDeploymentPods<S extends DeploymentPodSpec>(
  bridge: PodBridge,
  api: ApiServerDouble,
  specs: readonly S[],
  opts: { nodeName: string; netnsPrefix: string },
): Map<S['key'], DeploymentPod<S>> {
  const pods = new Map<S['key'], DeploymentPod<S>>();
  for (const spec of specs) {
    const name = deploymentPodName(spec);
    const network = bridge.addPod(`${opts.netnsPrefix}${spec.key}`, `${spec.ip}/24`);
    pods.set(spec.key, { ...spec, ...network, name });
    registerDeploymentPod(api, spec, name, opts.nodeName);
  }
  return pods;
}

/** The name addDeploymentPods gives a spec's pod: `<deployment>-<hash>-<key>x<pid % 1000>`. */
export function deploymentPodName(spec: DeploymentPodSpec): string {
  return `${spec.deployment}-${spec.hash}-${spec.key}x${process.pid % 1000}`;
}
