/** Socket-table summaries behind `tcp_state`, `tcp_connection_remote` and `udp_connection_stats{ACTIVE}`. */
import type { SocketEntry } from './proc/sockets.js';

/**
 * `state` label values by kernel TCP state number (include/net/tcp_states.h). TCP_CLOSE is the empty string, as
 * Retina writes it. Any other number is `UNKNOWN`.
 */
export const TCP_STATE_LABELS: ReadonlyMap<number, string> = new Map([
  [1, 'ESTABLISHED'],
  [2, 'SYN_SENT'],
  [3, 'SYN_RECV'],
  [4, 'FIN_WAIT1'],
  [5, 'FIN_WAIT2'],
  [6, 'TIME_WAIT'],
  [7, ''],
  [8, 'CLOSE_WAIT'],
  [9, 'LAST_ACK'],
  [10, 'LISTEN'],
  [11, 'CLOSING'],
]);

/** `state` label for TCP states the kernel has but Retina does not name. */
export const UNKNOWN_TCP_STATE = 'UNKNOWN';

/** `address` label that collects the connections of every remote address beyond the top-N cap. */
export const OTHER_REMOTE_ADDRESS = 'other';

/** Counts TCP sockets per `state` label. Every known state is present (0 when no socket is in it). */
export function countTcpStates(sockets: Iterable<SocketEntry>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const label of TCP_STATE_LABELS.values()) counts.set(label, 0);
  counts.set(UNKNOWN_TCP_STATE, 0);
  for (const s of sockets) {
    const label = TCP_STATE_LABELS.get(s.state) ?? UNKNOWN_TCP_STATE;
    counts.set(label, counts.get(label)! + 1);
  }
  return counts;
}

/** Counts TCP connections per remote `IP:port`; sockets without a peer (listeners) are not connections. */
export function countRemoteAddresses(sockets: Iterable<SocketEntry>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const s of sockets) {
    if (!s.hasPeer) continue;
    counts.set(s.remote, (counts.get(s.remote) ?? 0) + 1);
  }
  return counts;
}

/**
 * Keeps the `limit` addresses with the most connections (ties broken by address, so the choice is stable between
 * polls) and sums all others into one `other` entry, which is present only when something was folded.
 */
export function foldTopRemoteAddresses(
  counts: ReadonlyMap<string, number>,
  limit: number,
): Map<string, number> {
  if (counts.size <= limit) return new Map(counts);
  const ranked = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out = new Map(ranked.slice(0, limit));
  let rest = 0;
  for (const [, n] of ranked.slice(limit)) rest += n;
  out.set(OTHER_REMOTE_ADDRESS, rest);
  return out;
}
