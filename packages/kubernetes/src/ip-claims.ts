/**
 * Decides which pod owns an IP when several report it. Pod IPs are reused as soon as the network plugin frees
 * them, while the API may still show the old pod (terminating, or an update that arrives late). The owner is the
 * pod that reported the IP most recently for the first time: watch events arrive in resourceVersion order, so a
 * stale update of an old pod cannot take the IP back from the new one. Pods first seen in the same list (no order
 * between them) are ordered by creation time.
 */

/** When a pod first reported an IP: the watcher's sequence number, then the pod's creation time. */
interface Claim {
  seq: number;
  createdMs: number;
}

function newer(a: Claim, aKey: string, b: Claim, bKey: string): boolean {
  if (a.seq !== b.seq) return a.seq > b.seq;
  if (a.createdMs !== b.createdMs) return a.createdMs > b.createdMs;
  return aKey > bKey;
}

/** IP → owning pod, from every pod's reported IPs. */
export class IpClaims {
  readonly #claims = new Map<string, Map<string, Claim>>(); // key → ip → claim
  readonly #owner = new Map<string, string>(); // ip → key
  readonly #claimants = new Map<string, Set<string>>(); // ip → keys reporting it

  /**
   * Records that pod `key` reports `ips` (claims already held keep their order). Returns the pods whose owned IPs
   * changed, including `key` itself when it did.
   */
  update(key: string, ips: readonly string[], seq: number, createdMs: number): Set<string> {
    const before = this.#claims.get(key) ?? new Map<string, Claim>();
    const after = new Map<string, Claim>();
    for (const ip of ips) after.set(ip, before.get(ip) ?? { seq, createdMs });
    this.#claims.set(key, after);
    for (const ip of before.keys()) if (!after.has(ip)) this.#dropClaimant(ip, key);
    for (const ip of after.keys()) {
      let set = this.#claimants.get(ip);
      if (!set) this.#claimants.set(ip, (set = new Set()));
      set.add(key);
    }
    const touched = new Set<string>([...before.keys(), ...after.keys()]);
    return this.#reassign(touched);
  }

  /** Forgets pod `key`; its IPs go back to other pods still reporting them. Returns the pods whose IPs changed. */
  remove(key: string): Set<string> {
    const before = this.#claims.get(key);
    if (!before) return new Set();
    this.#claims.delete(key);
    for (const ip of before.keys()) this.#dropClaimant(ip, key);
    return this.#reassign(new Set(before.keys()));
  }

  /** The IPs pod `key` owns, in the order it reported them. */
  owned(key: string): string[] {
    return [...(this.#claims.get(key)?.keys() ?? [])].filter((ip) => this.#owner.get(ip) === key);
  }

  /** The pod that owns `ip`. */
  ownerOf(ip: string): string | undefined {
    return this.#owner.get(ip);
  }

  #dropClaimant(ip: string, key: string): void {
    const set = this.#claimants.get(ip);
    set?.delete(key);
    if (set?.size === 0) this.#claimants.delete(ip);
  }

  #reassign(ips: Set<string>): Set<string> {
    const changed = new Set<string>();
    for (const ip of ips) {
      let best: { key: string; claim: Claim } | undefined;
      for (const key of this.#claimants.get(ip) ?? []) {
        const c = this.#claims.get(key)?.get(ip);
        if (c && (!best || newer(c, key, best.claim, best.key))) best = { key, claim: c };
      }
      const prev = this.#owner.get(ip);
      if (prev === best?.key) continue;
      if (prev !== undefined) changed.add(prev);
      if (best) {
        this.#owner.set(ip, best.key);
        changed.add(best.key);
      } else this.#owner.delete(ip);
    }
    return changed;
  }
}
