/**
 * What plugins learn from the cluster through `ctx.node`: this node's pod interfaces as they come and go, and the
 * IPs of interest (the pods whose traffic is kept when `bypassLookupIPOfInterest` is off, plus the API server).
 */
import type { InMemoryIpCache, NodeEventHub } from '@retina-ts/core';
import type { InterfaceEvent } from './interfaces/link.js';
import type { KubernetesHandle } from './start.js';

/** Which pods are of interest. */
export interface IpsOfInterestPolicy {
  /** `enableAnnotations`: the pods annotated `retina.sh: observe` and every pod of an annotated namespace. */
  enableAnnotations: boolean;
  /** Otherwise: the pods scheduled on this node. */
  nodeName: string;
}

/** The parts of the handle the policy reads. */
export type IpsOfInterestSource = Pick<KubernetesHandle, 'observedNamespaces' | 'observedPodIps' | 'apiServerIps'>;

/** The IPs of interest now: the selected pods' IPs, then the API server's (pure; duplicates possible). */
export function ipsOfInterest(k8s: IpsOfInterestSource, ipCache: InMemoryIpCache, policy: IpsOfInterestPolicy): string[] {
  let pods: string[];
  if (policy.enableAnnotations) {
    // Annotated pods, and every pod of an annotated namespace: both are observed, so both reach the filter.
    const namespaces = new Set(k8s.observedNamespaces());
    pods = [...k8s.observedPodIps(), ...ipCache.podIps((p) => namespaces.has(p.namespace ?? ''))];
  } else {
    pods = ipCache.podIps((p) => p.nodeName === policy.nodeName);
  }
  return [...pods, ...k8s.apiServerIps()];
}

/** Options of feedNodeEvents. */
export interface FeedNodeEventsOptions extends IpsOfInterestPolicy {
  ipCache: InMemoryIpCache;
  /** At most one recomputation of the IPs of interest per this many ms (default 200). */
  coalesceMs?: number;
}

/**
 * Feeds `hub` from the watchers: pod interfaces as they come and go, and the IPs of interest, recomputed at most
 * every `coalesceMs` so a burst of pod changes costs one pass over the cache. Returns the function that stops it.
 */
export function feedNodeEvents(k8s: KubernetesHandle, hub: NodeEventHub, options: FeedNodeEventsOptions): () => void {
  for (const link of k8s.podInterfaces()) hub.addPodInterface({ name: link.name, index: link.index });
  const onInterface = (ev: InterfaceEvent): void => {
    if (ev.type === 'added') hub.addPodInterface({ name: ev.link.name, index: ev.link.index });
    else hub.removePodInterface(ev.link.name);
  };
  let timer: NodeJS.Timeout | undefined;
  const recompute = (): void => {
    timer = undefined;
    hub.setIpsOfInterest(ipsOfInterest(k8s, options.ipCache, options));
  };
  const schedule = (): void => {
    timer ??= setTimeout(recompute, options.coalesceMs ?? 200).unref();
  };
  k8s.on('interface', onInterface);
  k8s.on('pod', schedule);
  k8s.on('apiServerIps', schedule);
  k8s.on('observedNamespaces', schedule);
  // What is known already (the API server address of the kubeconfig) goes in without waiting for an event.
  schedule();
  return () => {
    clearTimeout(timer);
    timer = undefined;
    k8s.off('interface', onInterface);
    k8s.off('pod', schedule);
    k8s.off('apiServerIps', schedule);
    k8s.off('observedNamespaces', schedule);
  };
}
