/**
 * Leader election over a coordination.k8s.io Lease, so two operator replicas never reconcile at once. The lease
 * is taken when absent, free or expired, renewed by its holder, and written with the read resourceVersion, so
 * two candidates racing for it cannot both win. A leader that cannot renew within the renew deadline steps down.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from '@retina-ts/core';
import { httpStatus, unlessNotFound } from '@retina-ts/capture';

/** The Lease operations the elector needs (a Kubernetes client, or a fake in tests). */
export interface LeaseClient {
  get(namespace: string, name: string): Promise<V1Lease | undefined>;
  create(namespace: string, lease: V1Lease): Promise<V1Lease>;
  /** Replaces the lease; rejects with `conflict: true` when its resourceVersion is stale. */
  replace(namespace: string, lease: V1Lease): Promise<V1Lease>;
}

/** A lost race for the lease (HTTP 409). */
export class LeaseConflictError extends Error {
  override name = 'LeaseConflictError';
}

/** A LeaseClient over the API server. */
export function kubeLeaseClient(kc: KubeConfig): LeaseClient {
  const api = kc.makeApiClient(CoordinationV1Api);
  const conflict = (err: unknown) => (httpStatus(err) === 409 ? new LeaseConflictError('the lease changed meanwhile') : err);
  return {
    get: (namespace, name) => unlessNotFound(() => api.readNamespacedLease({ namespace, name })),
    async create(namespace, body) {
      try {
        return await api.createNamespacedLease({ namespace, body });
      } catch (err) {
        throw conflict(err);
      }
    },
    async replace(namespace, body) {
      try {
        return await api.replaceNamespacedLease({ namespace, name: body.metadata!.name!, body });
      } catch (err) {
        throw conflict(err);
      }
    },
  };
}

/** Election settings (Retina's operator uses controller-runtime's defaults: 15 s, 10 s, 2 s). */
export interface LeaderElectionOptions {
  client: LeaseClient;
  namespace: string;
  /** Lease name (default Retina's election ID `16937e39.retina.sh`). */
  name?: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  logger: Logger;
  now?: () => Date;
}

/** Runs for leadership; call `run` and await `lost` to step down. */
export class LeaderElector {
  readonly #o: LeaderElectionOptions;
  #leader = false;
  #lastRenew = 0;
  #timer?: NodeJS.Timeout;
  #stopped = false;
  #onLost?: () => void;

  constructor(options: LeaderElectionOptions) {
    this.#o = options;
  }

  get name(): string {
    return this.#o.name ?? '16937e39.retina.sh';
  }

  /** Whether this candidate holds the lease. */
  get isLeader(): boolean {
    return this.#leader;
  }

  #now(): Date {
    return this.#o.now?.() ?? new Date();
  }

  /** One attempt to acquire or renew; returns whether this candidate leads afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, identity } = this.#o;
    const now = this.#now();
    const durationS = Math.ceil((this.#o.leaseDurationMs ?? 15_000) / 1000);
    const spec = (prev?: V1Lease['spec']) => ({
      holderIdentity: identity,
      leaseDurationSeconds: durationS,
      acquireTime: prev?.holderIdentity === identity && prev.acquireTime ? prev.acquireTime : now,
      renewTime: now,
      leaseTransitions: (prev?.leaseTransitions ?? 0) + (prev?.holderIdentity === identity ? 0 : prev ? 1 : 0),
    });
    try {
      const cur = await client.get(namespace, this.name);
      if (!cur) {
        await client.create(namespace, { metadata: { name: this.name, namespace }, spec: spec() });
        return true;
      }
      const holder = cur.spec?.holderIdentity ?? '';
      const renewed = cur.spec?.renewTime ? new Date(cur.spec.renewTime).getTime() : 0;
      const expired = renewed + (cur.spec?.leaseDurationSeconds ?? durationS) * 1000 < now.getTime();
      if (holder !== identity && holder !== '' && !expired) return false;
      await client.replace(namespace, { ...cur, spec: spec(cur.spec) });
      return true;
    } catch (err) {
      if (!(err instanceof LeaseConflictError)) {
        this.#o.logger.warn({ lease: `${namespace}/${this.name}`, error: (err as Error).message }, 'leader election attempt failed');
      }
      return false;
    }
  }

  /**
   * Tries every retry period; calls `onLeading` once the lease is won and `onLost` when a leader fails to renew
   * within the renew deadline (the process should then stop reconciling).
   */
  run(onLeading: () => void, onLost: () => void): void {
    this.#onLost = onLost;
    const tick = async () => {
      if (this.#stopped) return;
      const ok = await this.tryAcquireOrRenew();
      const t = this.#now().getTime();
      if (ok) {
        this.#lastRenew = t;
        if (!this.#leader) {
          this.#leader = true;
          this.#o.logger.info({ identity: this.#o.identity, lease: this.name }, 'became leader');
          onLeading();
        }
      } else if (this.#leader && t - this.#lastRenew > (this.#o.renewDeadlineMs ?? 10_000)) {
        this.#leader = false;
        this.#o.logger.error({ identity: this.#o.identity }, 'leadership lost: could not renew the lease');
        this.#onLost?.();
        return;
      }
      if (!this.#stopped) this.#timer = setTimeout(() => void tick(), this.#o.retryPeriodMs ?? 2000);
    };
    void tick();
  }

  /** Stops campaigning and gives the lease up so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leader) return;
    this.#leader = false;
    try {
      const cur = await this.#o.client.get(this.#o.namespace, this.name);
      if (cur?.spec?.holderIdentity === this.#o.identity) {
        await this.#o.client.replace(this.#o.namespace, { ...cur, spec: { ...cur.spec, holderIdentity: '' } });
      }
    } catch (err) {
      this.#o.logger.warn({ error: (err as Error).message }, 'could not release the lease');
    }
  }
}
