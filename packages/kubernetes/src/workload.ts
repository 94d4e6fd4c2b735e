/**
 * Resolves a pod's direct owner to the workload people name: a ReplicaSet to its Deployment, a Job to its
 * CronJob. Owners are looked up on demand (GET) and cached, so the agent does not hold every ReplicaSet of the
 * cluster in memory. Until a lookup answers, a ReplicaSet whose name is `<deployment>-<pod-template-hash>` is taken
 * to belong to that Deployment, which is what the Deployment controller names it.
 * Lookups run a few at a time: a node that learns 1,000 pods at start-up would otherwise open 1,000 requests at
 * once (and keep 1,000 HTTP parsers around afterwards).
 */
import pLimit, { type LimitFunction } from 'p-limit';

/** A workload: kind and name. */
export interface Workload {
  kind: string;
  name: string;
}

/** Fetches the owner references of a ReplicaSet or Job; resolves undefined when it does not exist. */
export type OwnerLookup = (kind: 'ReplicaSet' | 'Job', namespace: string, name: string) => Promise<Workload[] | undefined>;

/** The kinds resolved one level further, and the owner kind that replaces them. */
const PARENTS: Record<string, { lookup: 'ReplicaSet' | 'Job'; parent: string }> = {
  ReplicaSet: { lookup: 'ReplicaSet', parent: 'Deployment' },
  Job: { lookup: 'Job', parent: 'CronJob' },
};

/** Options of WorkloadResolver. */
export interface WorkloadResolverOptions {
  lookup: OwnerLookup;
  /** How long an answer is kept (default 10 min); owners of a ReplicaSet or Job do not change in practice. */
  ttlMs?: number;
  /** How long a failed lookup is remembered before trying again (default 30 s). */
  failureTtlMs?: number;
  /** Called once per failure kind, to log it. */
  onError?: (err: unknown, kind: string, namespace: string, name: string) => void;
  now?: () => number;
  /** Most entries kept (default 10000); the oldest are dropped first. */
  maxEntries?: number;
  /** Lookups in flight at most (default 8). */
  maxConcurrentLookups?: number;
}

interface Entry {
  workload: Workload;
  expires: number;
}

/** Direct owner → workload, with a cache and de-duplicated lookups. */
export class WorkloadResolver {
  readonly #cache = new Map<string, Entry>();
  readonly #inflight = new Map<string, Promise<Workload>>();
  readonly #opts: Required<Omit<WorkloadResolverOptions, 'onError'>> & Pick<WorkloadResolverOptions, 'onError'>;
  readonly #limit: LimitFunction;

  constructor(options: WorkloadResolverOptions) {
    this.#opts = {
      ttlMs: 600_000,
      failureTtlMs: 30_000,
      now: Date.now,
      maxEntries: 10_000,
      maxConcurrentLookups: 8,
      ...options,
    };
    this.#limit = pLimit(this.#opts.maxConcurrentLookups);
  }

  /** Whether `owner` needs a lookup to name its workload. */
  static needsLookup(owner: Workload | undefined): boolean {
    return owner !== undefined && owner.kind in PARENTS;
  }

  /**
   * The workload if known without waiting: owners that need no lookup, cached answers, or the Deployment a
   * ReplicaSet's name implies (`final: false` then, until the lookup confirms it).
   */
  peek(namespace: string, owner: Workload | undefined, podTemplateHash?: string): { workload?: Workload; final: boolean } {
    if (!owner) return { final: true };
    if (!WorkloadResolver.needsLookup(owner)) return { workload: owner, final: true };
    const hit = this.#cache.get(this.#key(namespace, owner));
    if (hit && hit.expires > this.#opts.now()) return { workload: hit.workload, final: true };
    if (owner.kind === 'ReplicaSet' && podTemplateHash && owner.name.endsWith(`-${podTemplateHash}`)) {
      return { workload: { kind: 'Deployment', name: owner.name.slice(0, -podTemplateHash.length - 1) }, final: false };
    }
    return { workload: owner, final: false };
  }

  /**
   * The workload of `owner`, looking it up when needed. Never rejects: when the lookup fails, the answer is what
   * `peek` would give (the Deployment the name implies, or the owner itself).
   */
  async resolve(namespace: string, owner: Workload, podTemplateHash?: string): Promise<Workload> {
    if (!WorkloadResolver.needsLookup(owner)) return owner;
    const key = this.#key(namespace, owner);
    const hit = this.#cache.get(key);
    if (hit && hit.expires > this.#opts.now()) return hit.workload;
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#lookup(namespace, owner, key, podTemplateHash).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  async #lookup(namespace: string, owner: Workload, key: string, podTemplateHash?: string): Promise<Workload> {
    const spec = PARENTS[owner.kind]!;
    const guess = this.peek(namespace, owner, podTemplateHash).workload ?? owner;
    let workload = owner;
    let ttl = this.#opts.ttlMs;
    try {
      const refs = await this.#limit(() => this.#opts.lookup(spec.lookup, namespace, owner.name));
      const parent = refs?.find((r) => r.kind === spec.parent);
      if (parent) workload = { kind: parent.kind, name: parent.name };
      if (refs === undefined) {
        // Gone already, or not yet visible to this API server: keep the guess and ask again soon.
        workload = guess;
        ttl = this.#opts.failureTtlMs;
      }
    } catch (err) {
      workload = guess;
      ttl = this.#opts.failureTtlMs;
      this.#opts.onError?.(err, owner.kind, namespace, owner.name);
    }
    this.#remember(key, workload, ttl);
    return workload;
  }

  #remember(key: string, workload: Workload, ttl: number): void {
    this.#cache.delete(key);
    this.#cache.set(key, { workload, expires: this.#opts.now() + ttl });
    while (this.#cache.size > this.#opts.maxEntries) {
      const oldest = this.#cache.keys().next().value as string;
      this.#cache.delete(oldest);
    }
  }

  #key(namespace: string, owner: Workload): string {
    return `${owner.kind}/${namespace}/${owner.name}`;
  }
}
