/**
 * Keeps the IP cache's pods in step with what the watchers report, whether pods come from Pod objects (local
 * context) or RetinaEndpoint objects (remote context): IP ownership under reuse, workload resolution, and the set
 * of pods that opt in with `retina.sh: observe`.
 */
import type { InMemoryIpCache, Logger } from '@retina-ts/core';
import { IpClaims } from './ip-claims.js';
import type { PodInfo } from './objects.js';
import type { Workload, WorkloadResolver } from './workload.js';

/** A change of a pod as the cache holds it. */
export interface PodChange {
  type: 'upsert' | 'delete';
  namespace: string;
  name: string;
  /** IPs the pod owns now (empty on delete). */
  ips: string[];
  /** Carries `retina.sh: observe`. */
  observed: boolean;
  workload?: Workload;
}

/** Options of PodIndex. */
export interface PodIndexOptions {
  ipCache: InMemoryIpCache;
  resolver?: WorkloadResolver;
  /** Node name for a node IP (RetinaEndpoints name the node by IP). */
  nodeNameForIp?: (ip: string) => string | undefined;
  onChange?: (change: PodChange) => void;
  logger?: Logger;
}

interface Entry {
  info: PodInfo;
  workload?: Workload;
  /** What was last written, to report only real changes. */
  written?: string;
}

const sameWorkload = (a?: Workload, b?: Workload) => a?.kind === b?.kind && a?.name === b?.name;

/** Pods by `namespace/name`, written through to the IP cache. */
export class PodIndex {
  readonly #pods = new Map<string, Entry>();
  readonly #claims = new IpClaims();
  readonly #opts: PodIndexOptions;
  #seq = 0;
  #listSeq: number | undefined;

  constructor(options: PodIndexOptions) {
    this.#opts = options;
  }

  /** Number of pods held (with or without IPs). */
  get size(): number {
    return this.#pods.size;
  }

  /** Marks the start of a full list: pods first seen until `endList` have no order among themselves. */
  beginList(): void {
    this.#listSeq = ++this.#seq;
  }

  /** Marks the end of a full list. */
  endList(): void {
    this.#listSeq = undefined;
  }

  /** Adds or updates a pod. Inactive pods (host network, finished, no IP) are removed from the cache. */
  upsert(info: PodInfo): void {
    const key = `${info.namespace}/${info.name}`;
    if (info.inactive) {
      this.delete(info.namespace, info.name);
      return;
    }
    const prev = this.#pods.get(key);
    const resolver = this.#opts.resolver;
    const peek = resolver
      ? resolver.peek(info.namespace, info.owner, info.podTemplateHash)
      : { workload: info.owner, final: true };
    // Keep a workload already resolved for the same owner rather than falling back to the guess.
    const keep = prev && prev.info.uid === info.uid && sameWorkload(prev.info.owner, info.owner) ? prev.workload : undefined;
    const entry: Entry = { info, ...(keep ?? peek.workload ? { workload: keep ?? peek.workload } : {}) };
    if (prev?.written !== undefined) entry.written = prev.written;
    this.#pods.set(key, entry);
    const seq = this.#listSeq ?? ++this.#seq;
    const changed = this.#claims.update(key, info.ips, seq, info.createdMs);
    changed.add(key);
    for (const k of changed) this.#write(k);

    if (!peek.final && !keep && resolver && info.owner) {
      const owner = info.owner;
      void resolver.resolve(info.namespace, owner, info.podTemplateHash).then((workload) => {
        const cur = this.#pods.get(key);
        if (!cur || cur.info.uid !== info.uid || !sameWorkload(cur.info.owner, owner) || sameWorkload(cur.workload, workload)) {
          return;
        }
        cur.workload = workload;
        this.#write(key);
      });
    }
  }

  /** Removes a pod; IPs it shared with other pods go to the next newest claimant. */
  delete(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const entry = this.#pods.get(key);
    if (!entry) return;
    this.#pods.delete(key);
    const changed = this.#claims.remove(key);
    this.#opts.ipCache.deletePod(namespace, name);
    for (const k of changed) if (k !== key) this.#write(k);
    this.#opts.onChange?.({ type: 'delete', namespace, name, ips: [], observed: entry.info.observed });
  }

  /** Re-writes every pod (e.g. after nodes arrive, so RetinaEndpoint pods learn their node name). */
  refreshAll(): void {
    for (const key of this.#pods.keys()) this.#write(key);
  }

  /** IPs of pods annotated `retina.sh: observe`. */
  observedPodIps(): string[] {
    const out: string[] = [];
    for (const [key, e] of this.#pods) if (e.info.observed) out.push(...this.#claims.owned(key));
    return out;
  }

  /** The pod currently owning `ip` (`namespace/name`). */
  ownerOf(ip: string): string | undefined {
    return this.#claims.ownerOf(ip);
  }

  #write(key: string): void {
    const e = this.#pods.get(key);
    if (!e) return;
    const { info } = e;
    const ips = this.#claims.owned(key);
    const nodeName = info.nodeName ?? (info.nodeIp ? this.#opts.nodeNameForIp?.(info.nodeIp) : undefined);
    const signature = JSON.stringify([ips, info.labels, e.workload, nodeName, info.observed]);
    if (signature === e.written) return;
    e.written = signature;
    this.#opts.ipCache.upsertPod({
      namespace: info.namespace,
      name: info.name,
      ips,
      labels: info.labels,
      ...(e.workload ? { workload: e.workload } : {}),
      ...(nodeName ? { nodeName } : {}),
    });
    this.#opts.onChange?.({
      type: 'upsert',
      namespace: info.namespace,
      name: info.name,
      ips,
      observed: info.observed,
      ...(e.workload ? { workload: e.workload } : {}),
    });
  }
}
