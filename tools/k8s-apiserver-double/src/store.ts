/**
 * The object store behind the double: one resourceVersion counter for every resource (as etcd's revision), the
 * current objects, and the history of changes that watches replay from. Compaction drops history, after which
 * watches and paged lists from older versions get `410 Gone`, as from a real API server.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { apiVersionOf, resourceKey, type ResourceType } from './resources.js';
import type { KubeObject } from './selectors.js';

/** A change as watches deliver it. `previous` is the state before (MODIFIED, DELETED). */
export interface StoredEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  rv: number;
  object: KubeObject;
  previous?: KubeObject;
}

/** A Kubernetes-style failure: the HTTP layer turns it into a `Status` object. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

interface Bucket {
  objects: Map<string, KubeObject>;
  history: StoredEvent[];
  listeners: Set<(ev: StoredEvent) => void>;
}

const clone = <T>(v: T): T => structuredClone(v);

function finalizersOf(o: KubeObject): string[] {
  const f = (o.metadata as { finalizers?: unknown }).finalizers;
  return Array.isArray(f) ? f.filter((x): x is string => typeof x === 'string') : [];
}

/** Five characters from the alphabet the API server uses for generated names. */
function randomSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return Array.from(randomBytes(5), (b) => alphabet[b % alphabet.length]).join('');
}

/** `namespace/name`, or `name` for cluster-scoped objects; sorts like the API server's keys. */
export function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

/** The in-memory store: objects, history, resourceVersion, compaction. */
export class ObjectStore {
  #rv = 1;
  #compactedRv = 0;
  readonly #buckets = new Map<string, Bucket>();

  /** The newest resourceVersion (a number, served as a string). */
  get resourceVersion(): number {
    return this.#rv;
  }

  /** Versions at or below this are compacted away. */
  get compactedResourceVersion(): number {
    return this.#compactedRv;
  }

  #bucket(t: ResourceType): Bucket {
    const k = resourceKey(t);
    let b = this.#buckets.get(k);
    if (!b) {
      b = { objects: new Map(), history: [], listeners: new Set() };
      this.#buckets.set(k, b);
    }
    return b;
  }

  #normalize(t: ResourceType, obj: KubeObject, namespace?: string): KubeObject {
    if (!obj || typeof obj !== 'object' || !obj.metadata || typeof obj.metadata.name !== 'string' || !obj.metadata.name) {
      throw new ApiError(422, 'Invalid', `${t.kind}: metadata.name or metadata.generateName is required`);
    }
    const out = clone(obj);
    out.apiVersion = apiVersionOf(t);
    out.kind = t.kind;
    if (t.namespaced) {
      const ns = namespace ?? out.metadata.namespace ?? 'default';
      if (out.metadata.namespace && namespace && out.metadata.namespace !== namespace) {
        throw new ApiError(
          400,
          'BadRequest',
          `${t.kind} ${out.metadata.name}: metadata.namespace "${out.metadata.namespace}" does not match the namespace "${namespace}" of the request`,
        );
      }
      out.metadata.namespace = ns;
    } else {
      delete out.metadata.namespace;
    }
    return out;
  }

  #emit(b: Bucket, ev: StoredEvent): void {
    b.history.push(ev);
    for (const l of [...b.listeners]) l(ev);
  }

  /**
   * Creates an object; 409 AlreadyExists when the name is taken. Without a name, `metadata.generateName` plus five
   * random characters names it, as the API server does.
   */
  create(t: ResourceType, obj: KubeObject, namespace?: string): KubeObject {
    const generate = obj?.metadata?.generateName;
    if (obj?.metadata && !obj.metadata.name && typeof generate === 'string' && generate) {
      obj = { ...obj, metadata: { ...obj.metadata, name: `${generate}${randomSuffix()}` } };
    }
    const o = this.#normalize(t, obj, namespace);
    const b = this.#bucket(t);
    const key = objectKey(o.metadata.namespace, o.metadata.name);
    if (b.objects.has(key)) {
      throw new ApiError(409, 'AlreadyExists', `${t.plural} "${o.metadata.name}" already exists`, {
        name: o.metadata.name,
        kind: t.plural,
      });
    }
    o.metadata.uid = typeof o.metadata.uid === 'string' && o.metadata.uid ? o.metadata.uid : randomUUID();
    if (!o.metadata.creationTimestamp) o.metadata.creationTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    o.metadata.resourceVersion = String(++this.#rv);
    b.objects.set(key, o);
    this.#emit(b, { type: 'ADDED', rv: this.#rv, object: o });
    return clone(o);
  }

  /**
   * Replaces an object; 404 when absent, 409 Conflict when `metadata.resourceVersion` is set and stale. uid and
   * creationTimestamp are kept from the stored object.
   */
  update(t: ResourceType, obj: KubeObject, namespace?: string): KubeObject {
    const o = this.#normalize(t, obj, namespace);
    const b = this.#bucket(t);
    const key = objectKey(o.metadata.namespace, o.metadata.name);
    const prev = b.objects.get(key);
    if (!prev) throw this.#notFound(t, o.metadata.name);
    if (o.metadata.resourceVersion && o.metadata.resourceVersion !== prev.metadata.resourceVersion) {
      throw new ApiError(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${t.plural} "${o.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    }
    o.metadata.uid = prev.metadata.uid;
    o.metadata.creationTimestamp = prev.metadata.creationTimestamp;
    if (prev.metadata.deletionTimestamp) {
      // Once deletion started, the timestamp stays and finalizers can only be removed.
      o.metadata.deletionTimestamp = prev.metadata.deletionTimestamp;
      o.metadata.deletionGracePeriodSeconds = prev.metadata.deletionGracePeriodSeconds;
      const before = new Set(finalizersOf(prev));
      const added = finalizersOf(o).filter((f) => !before.has(f));
      if (added.length > 0) {
        throw new ApiError(
          422,
          'Invalid',
          `${t.kind} "${o.metadata.name}" is invalid: metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers ${JSON.stringify(added)}`,
        );
      }
    }
    o.metadata.resourceVersion = String(++this.#rv);
    if (prev.metadata.deletionTimestamp && finalizersOf(prev).length > 0 && finalizersOf(o).length === 0) {
      // The last finalizer is gone: the deletion they held completes. (A test may still mark an object without
      // finalizers as terminating through `modify`; that stays an ordinary update.)
      b.objects.delete(key);
      this.#emit(b, { type: 'DELETED', rv: this.#rv, object: o, previous: prev });
      return clone(o);
    }
    b.objects.set(key, o);
    this.#emit(b, { type: 'MODIFIED', rv: this.#rv, object: o, previous: prev });
    return clone(o);
  }

  /**
   * Deletes an object and returns its last state (with the deletion's resourceVersion); 404 when absent. An object
   * with finalizers is only marked: it gets `metadata.deletionTimestamp` (a MODIFIED event) and goes away when an
   * update removes its last finalizer.
   */
  delete(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const b = this.#bucket(t);
    const key = objectKey(t.namespaced ? (namespace ?? 'default') : undefined, name);
    const prev = b.objects.get(key);
    if (!prev) throw this.#notFound(t, name);
    if (finalizersOf(prev).length > 0) {
      if (prev.metadata.deletionTimestamp) return clone(prev);
      const marked = clone(prev);
      marked.metadata.deletionTimestamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      marked.metadata.deletionGracePeriodSeconds = 0;
      marked.metadata.resourceVersion = String(++this.#rv);
      b.objects.set(key, marked);
      this.#emit(b, { type: 'MODIFIED', rv: this.#rv, object: marked, previous: prev });
      return clone(marked);
    }
    b.objects.delete(key);
    const gone = clone(prev);
    gone.metadata.resourceVersion = String(++this.#rv);
    this.#emit(b, { type: 'DELETED', rv: this.#rv, object: gone, previous: prev });
    return clone(gone);
  }

  /** One object, or 404. */
  get(t: ResourceType, namespace: string | undefined, name: string): KubeObject {
    const o = this.#bucket(t).objects.get(objectKey(t.namespaced ? (namespace ?? 'default') : undefined, name));
    if (!o) throw this.#notFound(t, name);
    return clone(o);
  }

  /** The objects as they were at `rv` (the current ones when `rv` is the newest), sorted by key; 410 if compacted. */
  stateAt(t: ResourceType, rv: number): KubeObject[] {
    const b = this.#bucket(t);
    const state = new Map(b.objects);
    if (rv < this.#rv) {
      if (rv < this.#compactedRv) throw this.#gone(rv);
      // Undo the changes after rv, newest first.
      for (let i = b.history.length - 1; i >= 0 && b.history[i]!.rv > rv; i--) {
        const ev = b.history[i]!;
        const key = objectKey(ev.object.metadata.namespace, ev.object.metadata.name);
        if (ev.type === 'ADDED') state.delete(key);
        else state.set(key, ev.previous!);
      }
    }
    return [...state.entries()].sort(([a], [b2]) => (a < b2 ? -1 : a > b2 ? 1 : 0)).map(([, o]) => clone(o));
  }

  /**
   * Events after `rv` for a watch, and a subscription to later ones. Throws 410 when `rv` is older than the
   * compaction point.
   */
  watchFrom(t: ResourceType, rv: number, listener: (ev: StoredEvent) => void): { replay: StoredEvent[]; cancel: () => void } {
    if (rv < this.#compactedRv) throw this.#gone(rv);
    const b = this.#bucket(t);
    const replay = b.history.filter((ev) => ev.rv > rv).map((ev) => clone(ev));
    b.listeners.add(listener);
    return { replay, cancel: () => b.listeners.delete(listener) };
  }

  /** Drops history at or below `rv` (default: all of it); older watches and continue tokens then get 410. */
  compact(rv: number = this.#rv): void {
    if (rv > this.#rv) throw new Error(`compact: resourceVersion ${rv} is newer than the store (${this.#rv})`);
    this.#compactedRv = Math.max(this.#compactedRv, rv);
    for (const b of this.#buckets.values()) b.history = b.history.filter((ev) => ev.rv > this.#compactedRv);
  }

  #notFound(t: ResourceType, name: string): ApiError {
    const what = t.group ? `${t.plural}.${t.group}` : t.plural;
    return new ApiError(404, 'NotFound', `${what} "${name}" not found`, { name, kind: t.plural, group: t.group });
  }

  #gone(rv: number): ApiError {
    return new ApiError(410, 'Expired', `too old resource version: ${rv} (${this.#compactedRv})`);
  }
}
