/**
 * IP → owner (pod, service, node) lookups. Watchers write through InMemoryIpCache; plugins and the enricher read
 * through IpCacheReader.
 *
 * IP reuse: an IP belongs to the newest owner of its kind; deleting an older owner later does not evict the newer
 * one. Across kinds the lookup prefers pod, then service, then node (a pod IP is never a service IP, but the node
 * IP and a host-network pod can coincide).
 */

/** What the cache knows about the owner of an IP. Objects are shared and frozen: do not mutate them. */
export interface IpInfo {
  readonly kind: 'pod' | 'service' | 'node';
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** The owning workload (first owner reference), e.g. `{ kind: 'ReplicaSet', name: 'web-7d9f' }`. */
  readonly workload?: { readonly kind: string; readonly name: string };
  /** Node a pod runs on. */
  readonly nodeName?: string;
  /** Topology zone: a node's own, or a pod's node's when known. */
  readonly zone?: string;
}

/** Read-only view given to plugins. */
export interface IpCacheReader {
  /** The owner of `ip`, or undefined. */
  lookup(ip: string): IpInfo | undefined;
  /** Number of IPs with an owner. */
  readonly size: number;
}

/** A pod as watchers report it. */
export interface PodRecord {
  namespace: string;
  name: string;
  ips: readonly string[];
  labels?: Record<string, string>;
  workload?: { kind: string; name: string };
  nodeName?: string;
  /** Explicit zone; otherwise taken from the pod's node when the node is cached. */
  zone?: string;
}

/** A service as watchers report it (cluster IPs, load-balancer IPs). */
export interface ServiceRecord {
  namespace: string;
  name: string;
  ips: readonly string[];
  labels?: Record<string, string>;
}

/** A node as watchers report it. */
export interface NodeRecord {
  name: string;
  ips: readonly string[];
  labels?: Record<string, string>;
  /** `topology.kubernetes.io/zone`. */
  zone?: string;
}

type Kind = IpInfo['kind'];

interface Owner {
  key: string;
  info: IpInfo;
  ips: Set<string>;
  /** Zone given explicitly (pods only); otherwise the node's zone is used. */
  explicitZone?: string;
}

/** Lower-cases IPv6 text so lookups match however the address was spelled. */
function normalizeIp(ip: string): string {
  return ip.includes(':') ? ip.toLowerCase() : ip;
}

function freezeInfo(info: IpInfo): IpInfo {
  if (info.labels) Object.freeze(info.labels);
  if (info.workload) Object.freeze(info.workload);
  return Object.freeze(info);
}

/** The in-memory IP cache watchers fill. */
export class InMemoryIpCache implements IpCacheReader {
  readonly #byIp: Record<Kind, Map<string, Owner>> = { pod: new Map(), service: new Map(), node: new Map() };
  readonly #owners: Record<Kind, Map<string, Owner>> = { pod: new Map(), service: new Map(), node: new Map() };
  readonly #ipCount = new Map<string, number>();

  /** The owner of `ip` (pod before service before node). */
  lookup(ip: string): IpInfo | undefined {
    const k = normalizeIp(ip);
    return (this.#byIp.pod.get(k) ?? this.#byIp.service.get(k) ?? this.#byIp.node.get(k))?.info;
  }

  /** Number of distinct IPs with an owner. */
  get size(): number {
    return this.#ipCount.size;
  }

  /** IPs currently owned by pods for which `select` holds (all pods without it). */
  podIps(select?: (info: IpInfo) => boolean): string[] {
    const out: string[] = [];
    for (const [ip, owner] of this.#byIp.pod) if (!select || select(owner.info)) out.push(ip);
    return out;
  }

  /** Adds or replaces a pod; its IPs move to it from any older pod holding them. */
  upsertPod(pod: PodRecord): void {
    const key = `${pod.namespace}/${pod.name}`;
    const zone = pod.zone ?? (pod.nodeName ? this.#owners.node.get(pod.nodeName)?.info.zone : undefined);
    const info: IpInfo = {
      kind: 'pod',
      name: pod.name,
      namespace: pod.namespace,
      ...(pod.labels ? { labels: { ...pod.labels } } : {}),
      ...(pod.workload ? { workload: { kind: pod.workload.kind, name: pod.workload.name } } : {}),
      ...(pod.nodeName ? { nodeName: pod.nodeName } : {}),
      ...(zone ? { zone } : {}),
    };
    this.#upsert('pod', key, info, pod.ips, pod.zone);
  }

  /** Removes a pod; IPs already taken over by a newer pod stay with it. */
  deletePod(namespace: string, name: string): boolean {
    return this.#delete('pod', `${namespace}/${name}`);
  }

  /** Adds or replaces a service. */
  upsertService(svc: ServiceRecord): void {
    const info: IpInfo = {
      kind: 'service',
      name: svc.name,
      namespace: svc.namespace,
      ...(svc.labels ? { labels: { ...svc.labels } } : {}),
    };
    this.#upsert('service', `${svc.namespace}/${svc.name}`, info, svc.ips);
  }

  /** Removes a service. */
  deleteService(namespace: string, name: string): boolean {
    return this.#delete('service', `${namespace}/${name}`);
  }

  /** Adds or replaces a node; pods on it without an explicit zone take the node's zone. */
  upsertNode(node: NodeRecord): void {
    const info: IpInfo = {
      kind: 'node',
      name: node.name,
      ...(node.labels ? { labels: { ...node.labels } } : {}),
      ...(node.zone ? { zone: node.zone } : {}),
    };
    const before = this.#owners.node.get(node.name)?.info.zone;
    this.#upsert('node', node.name, info, node.ips);
    if (before !== node.zone) this.#refreshPodZones(node.name, node.zone);
  }

  /** Removes a node. */
  deleteNode(name: string): boolean {
    const removed = this.#delete('node', name);
    if (removed) this.#refreshPodZones(name, undefined);
    return removed;
  }

  /** Removes everything. */
  clear(): void {
    for (const kind of ['pod', 'service', 'node'] as const) {
      this.#byIp[kind].clear();
      this.#owners[kind].clear();
    }
    this.#ipCount.clear();
  }

  #refreshPodZones(nodeName: string, zone: string | undefined): void {
    for (const owner of this.#owners.pod.values()) {
      if (owner.info.nodeName !== nodeName || owner.explicitZone !== undefined) continue;
      const { zone: _old, ...rest } = owner.info;
      owner.info = freezeInfo(zone ? { ...rest, zone } : rest);
    }
  }

  #upsert(kind: Kind, key: string, info: IpInfo, ips: readonly string[], explicitZone?: string): void {
    const owners = this.#owners[kind];
    const byIp = this.#byIp[kind];
    const wanted = new Set(ips.filter((ip) => ip !== '').map(normalizeIp));
    let owner = owners.get(key);
    if (owner) {
      for (const ip of owner.ips) {
        if (!wanted.has(ip)) this.#release(kind, owner, ip);
      }
      owner.info = freezeInfo(info);
      owner.explicitZone = explicitZone;
    } else {
      owner = { key, info: freezeInfo(info), ips: new Set(), ...(explicitZone ? { explicitZone } : {}) };
      owners.set(key, owner);
    }
    for (const ip of wanted) {
      const previous = byIp.get(ip);
      if (previous === owner) continue;
      // IP reuse: the newest owner wins; the old one forgets the IP so its later delete cannot evict the new one.
      if (previous) previous.ips.delete(ip);
      else this.#ipCount.set(ip, (this.#ipCount.get(ip) ?? 0) + 1);
      byIp.set(ip, owner);
      owner.ips.add(ip);
    }
  }

  #release(kind: Kind, owner: Owner, ip: string): void {
    owner.ips.delete(ip);
    const byIp = this.#byIp[kind];
    if (byIp.get(ip) !== owner) return;
    byIp.delete(ip);
    const n = (this.#ipCount.get(ip) ?? 1) - 1;
    if (n <= 0) this.#ipCount.delete(ip);
    else this.#ipCount.set(ip, n);
  }

  #delete(kind: Kind, key: string): boolean {
    const owner = this.#owners[kind].get(key);
    if (!owner) return false;
    for (const ip of [...owner.ips]) this.#release(kind, owner, ip);
    this.#owners[kind].delete(key);
    return true;
  }
}
