/**
 * Hubble's Peer service learns the cluster's nodes from the Kubernetes node watcher, so Relay (or any client that
 * follows Peer.Notify) reaches every node, not only the one it asked.
 */
import type { KubernetesHandle, NodeChange } from '@retina-ts/kubernetes';

/** What the Hubble server offers to announce nodes. */
export interface NodeAnnouncer {
  setNode(name: string, ips: readonly string[]): void;
  removeNode(name: string): void;
}

/** Announces the nodes known now and every later change; returns the function that stops following. */
export function announceClusterNodes(k8s: KubernetesHandle, peers: NodeAnnouncer): () => void {
  for (const node of k8s.nodes()) peers.setNode(node.name, node.ips);
  const onNode = (change: NodeChange): void => {
    if (change.type === 'upsert') peers.setNode(change.node.name, change.node.ips);
    else peers.removeNode(change.node.name);
  };
  k8s.on('node', onNode);
  return () => {
    k8s.off('node', onNode);
  };
}
