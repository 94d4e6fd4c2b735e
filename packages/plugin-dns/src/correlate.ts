/**
 * Matching responses to requests for the latency histogram: a bounded map keyed by strings, pruned oldest first
 * (Map keeps insertion order, and records arrive in roughly time order).
 */

/** Counters of a RequestTracker. */
export interface RequestTrackerStats {
  /** Responses matched to a request. */
  matched: number;
  /** Responses whose request was not seen (or already forgotten). */
  unmatched: number;
  /** Requests forgotten without a response: timed out, or pushed out when the table was full. */
  expired: number;
}

/**
 * Matches DNS responses to their requests by transaction id and 5-tuple. The first sighting of a request is
 * kept: a retransmitted query (same id and ports) measures from the first attempt, which is what the client waited.
 */
export class RequestTracker {
  readonly #pending = new Map<string, number>();
  readonly #stats: RequestTrackerStats = { matched: 0, unmatched: 0, expired: 0 };

  constructor(
    readonly timeoutNs: number,
    readonly capacity: number,
  ) {}

  /** Records a request seen at `tsNs`. */
  request(key: string, tsNs: number): void {
    this.expire(tsNs);
    if (this.#pending.has(key)) return;
    if (this.#pending.size >= this.capacity) {
      const oldest = this.#pending.keys().next();
      if (!oldest.done) {
        this.#pending.delete(oldest.value);
        this.#stats.expired++;
      }
    }
    this.#pending.set(key, tsNs);
  }

  /** The latency in ns of the response seen at `tsNs` to its request, or undefined when no request matches. */
  response(key: string, tsNs: number): number | undefined {
    const sent = this.#pending.get(key);
    if (sent === undefined || tsNs < sent) {
      this.#stats.unmatched++;
      return undefined;
    }
    this.#pending.delete(key);
    this.#stats.matched++;
    return tsNs - sent;
  }

  /** Forgets requests older than the timeout at `nowNs`; returns how many. */
  expire(nowNs: number): number {
    let n = 0;
    for (const [key, ts] of this.#pending) {
      if (nowNs - ts <= this.timeoutNs) break;
      this.#pending.delete(key);
      n++;
    }
    this.#stats.expired += n;
    return n;
  }

  /** Requests waiting for a response. */
  get size(): number {
    return this.#pending.size;
  }

  /** A copy of the counters. */
  stats(): RequestTrackerStats {
    return { ...this.#stats };
  }
}

/**
 * Key matching a request to its response: protocol, client address and port, server address and port, and the
 * DNS id. For a request the client is the source; for a response, the destination.
 */
export function exchangeKey(
  protocol: number,
  clientIp: string,
  clientPort: number,
  serverIp: string,
  serverPort: number,
  id: number,
): string {
  return `${protocol}|${clientIp}|${clientPort}|${serverIp}|${serverPort}|${id}`;
}
