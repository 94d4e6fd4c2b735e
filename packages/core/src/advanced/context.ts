/**
 * Context label values for one side of a flow (source or destination). Each distinct context is one cached,
 * frozen object, so the per-flow path finds its series by object identity instead of building label strings.
 */
import type { Endpoint, Flow, Service } from '../flow/flow.js';
import type { ContextOption } from './config.js';

/** Value of a context label that is not known. */
export const UNKNOWN = 'unknown';

/** Separator inside series keys; never appears in Kubernetes names, IPs or ports. */
export const KEY_SEP = '\u001f';

/** Label values of one side, for one option list. Shared and cached: never mutate. */
export interface SideContext {
  /** The values joined with KEY_SEP (identifies the values across cache generations). */
  readonly key: string;
  /** Values in label order (`workload` gives two). */
  readonly values: readonly string[];
}

interface StaticContext extends SideContext {
  /** Contexts with the per-flow parts (port, zone) added, by `port KEY_SEP zone`. */
  dynamic?: Map<string, SideContext>;
}

/** Largest number of non-pod IPs (and per-context port/zone variants) cached before a cache is cleared. */
const MAX_CACHED = 65_536;

const EMPTY: SideContext = Object.freeze({ key: '', values: Object.freeze([]) as readonly string[] });

/** Builds and caches the context values of one option list. */
export class ContextBuilder {
  readonly #options: readonly ContextOption[];
  readonly #hasPort: boolean;
  readonly #hasZone: boolean;
  // Pod contexts live as long as the enricher's endpoint object (replaced when the pod changes).
  readonly #byEndpoint = new WeakMap<Endpoint, Map<string, StaticContext>>();
  readonly #foreign = new Map<string, StaticContext>();
  // The last flow asked for per side and its context: families sharing this builder and the per-flag updates of
  // one flow ask for the same flow again and again.
  #lastFlow: [Flow | undefined, Flow | undefined] = [undefined, undefined];
  #lastContext: [SideContext, SideContext] = [EMPTY, EMPTY];

  constructor(options: readonly ContextOption[]) {
    this.#options = options;
    this.#hasPort = options.includes('port');
    this.#hasZone = options.includes('zone');
  }

  /**
   * The context of the source (`side` = 0) or destination (1) of `flow`. Equal values usually give the same
   * object; after a cache is cleared they may give an equal new one (compare `key` then).
   */
  side(flow: Flow, side: 0 | 1): SideContext {
    if (this.#options.length === 0) return EMPTY;
    if (this.#lastFlow[side] === flow) return this.#lastContext[side];
    const ctx = this.#side(flow, side);
    this.#lastFlow[side] = flow;
    this.#lastContext[side] = ctx;
    return ctx;
  }

  /** Drops the remembered last flows (called after each batch, so a caller may reuse and change flow objects). */
  forget(): void {
    this.#lastFlow[0] = undefined;
    this.#lastFlow[1] = undefined;
  }

  #side(flow: Flow, side: 0 | 1): SideContext {
    const ip = (side === 0 ? flow.ip?.source : flow.ip?.destination) || UNKNOWN;
    const st = this.#static(
      side === 0 ? flow.source : flow.destination,
      ip,
      side === 0 ? flow.sourceService : flow.destinationService,
    );
    if (!this.#hasPort && !this.#hasZone) return st;
    let port = UNKNOWN;
    if (this.#hasPort) {
      const l4 = flow.l4?.tcp ?? flow.l4?.udp ?? flow.l4?.sctp;
      if (l4) port = String(side === 0 ? l4.sourcePort : l4.destinationPort);
    }
    let zone = UNKNOWN;
    if (this.#hasZone)
      zone = (side === 0 ? flow.extensions?.sourceZone : flow.extensions?.destinationZone) || UNKNOWN;
    const dkey = port + KEY_SEP + zone;
    let dyn = st.dynamic;
    if (!dyn) dyn = st.dynamic = new Map();
    let ctx = dyn.get(dkey);
    if (!ctx) {
      if (dyn.size >= MAX_CACHED) dyn.clear();
      const values = [...st.values];
      if (this.#hasPort) values.push(port);
      if (this.#hasZone) values.push(zone);
      ctx = Object.freeze({ key: values.join(KEY_SEP), values: Object.freeze(values) });
      dyn.set(dkey, ctx);
    }
    return ctx;
  }

  #static(ep: Endpoint | undefined, ip: string, svc: Service | undefined): StaticContext {
    if (ep) {
      let perIp = this.#byEndpoint.get(ep);
      if (!perIp) {
        perIp = new Map();
        this.#byEndpoint.set(ep, perIp);
      }
      let st = perIp.get(ip);
      if (!st) {
        st = this.#build(ep, ip, svc);
        perIp.set(ip, st);
      }
      return st;
    }
    const fkey = svc ? ip + KEY_SEP + svc.name : ip;
    let st = this.#foreign.get(fkey);
    if (!st) {
      // Bounded: a cleared entry is rebuilt as an equal object, which the series store resolves by key.
      if (this.#foreign.size >= MAX_CACHED) this.#foreign.clear();
      st = this.#build(undefined, ip, svc);
      this.#foreign.set(fkey, st);
    }
    return st;
  }

  #build(ep: Endpoint | undefined, ip: string, svc: Service | undefined): StaticContext {
    const values: string[] = [];
    for (const o of this.#options) {
      switch (o) {
        case 'ip':
          values.push(ip);
          break;
        case 'namespace':
          values.push(ep?.namespace || UNKNOWN);
          break;
        case 'podname':
          values.push(ep?.podName || UNKNOWN);
          break;
        case 'workload': {
          const w = ep?.workloads?.[0];
          values.push(w?.kind || UNKNOWN, w?.name || UNKNOWN);
          break;
        }
        case 'service':
          values.push(svc?.name || UNKNOWN);
          break;
        default:
          break; // port and zone vary per flow
      }
    }
    Object.freeze(values);
    return { key: values.join(KEY_SEP), values };
  }
}
