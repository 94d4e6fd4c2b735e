/**
 * Which nodes a Capture runs on, and which pod IPs each node's capture filters for. Reads the cluster through a
 * small interface, so the CLI and the operator share the logic and tests can feed it objects directly.
 */
import type { V1Namespace, V1Node, V1Pod } from '@kubernetes/client-node';
import type { Capture, LabelSelector } from '../model/types.js';

/** The reads target resolution needs. */
export interface ClusterReader {
  listNodes(labelSelector?: string): Promise<V1Node[]>;
  listNamespaces(labelSelector?: string): Promise<V1Namespace[]>;
  /** Pods of one namespace, or all namespaces when `namespace` is undefined. */
  listPods(namespace: string | undefined, labelSelector?: string): Promise<V1Pod[]>;
  /** One pod, or undefined when it does not exist. */
  getPod(namespace: string, name: string): Promise<V1Pod | undefined>;
}

/** One node to capture on. */
export interface CaptureTargetNode {
  nodeName: string;
  os: string;
  /** IPs of the selected pods on this node; empty for node captures. */
  podIPs: string[];
}

/** No node matched the capture's target. */
export class NoCaptureTargetsError extends Error {
  override name = 'NoCaptureTargetsError';
}

/** Renders a LabelSelector in the API's query syntax (`a=b,k in (x,y),!gone`). */
export function labelSelectorString(sel: LabelSelector | undefined): string {
  if (!sel) return '';
  const parts = Object.entries(sel.matchLabels ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort().join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.join(',');
}

/** Parses `k=v,k2=v2` flag values into matchLabels. */
export function parseLabelPairs(text: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
    const i = part.indexOf('=');
    if (i <= 0) throw new Error(`${flag}: "${part}" is not key=value`);
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

const osOf = (node: V1Node | undefined) => node?.metadata?.labels?.['kubernetes.io/os'] ?? 'linux';

function podIps(pod: V1Pod): string[] {
  const ips = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => Boolean(ip));
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  return ips;
}

/** Resolves a capture's target to nodes, sorted by name. */
export async function resolveCaptureTargets(capture: Capture, reader: ClusterReader): Promise<CaptureTargetNode[]> {
  const t = capture.spec.captureConfiguration.captureTarget;
  const byNode = new Map<string, CaptureTargetNode>();
  if (t.nodeSelector) {
    for (const n of await reader.listNodes(labelSelectorString(t.nodeSelector))) {
      const name = n.metadata?.name;
      if (name) byNode.set(name, { nodeName: name, os: osOf(n), podIPs: [] });
    }
  } else {
    let pods: V1Pod[] = [];
    if (t.podNames && t.podNames.length > 0) {
      const ns = capture.metadata.namespace ?? 'default';
      for (const name of t.podNames) {
        const pod = await reader.getPod(ns, name);
        if (!pod) throw new NoCaptureTargetsError(`pod "${name}" was not found in namespace "${ns}"`);
        pods.push(pod);
      }
    } else if (t.podSelector) {
      const namespaces = t.namespaceSelector
        ? (await reader.listNamespaces(labelSelectorString(t.namespaceSelector))).map((n) => n.metadata?.name ?? '')
        : ['default'];
      for (const ns of namespaces.filter((n) => n !== '')) {
        pods = pods.concat(await reader.listPods(ns, labelSelectorString(t.podSelector)));
      }
    }
    const nodes = new Map((await reader.listNodes()).map((n) => [n.metadata?.name ?? '', n]));
    for (const pod of pods) {
      const node = pod.spec?.nodeName;
      if (!node) continue; // not scheduled yet: there is no node to capture on
      const entry = byNode.get(node) ?? { nodeName: node, os: osOf(nodes.get(node)), podIPs: [] };
      for (const ip of podIps(pod)) if (!entry.podIPs.includes(ip)) entry.podIPs.push(ip);
      byNode.set(node, entry);
    }
  }
  if (byNode.size === 0) {
    throw new NoCaptureTargetsError('no targets are selected by node selector, pod selector, or pod names');
  }
  return [...byNode.values()].sort((a, b) => a.nodeName.localeCompare(b.nodeName));
}
