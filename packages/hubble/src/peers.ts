/**
 * The peers Hubble Relay learns about through Peer.Notify: this node, plus any other node the agent reports (e.g.
 * from its Kubernetes node watcher). Notify streams one PEER_ADDED per known node and then every change.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { absoluteNodeName } from './convert.js';

/** peer.ChangeNotificationType */
export const ChangeType = { PEER_ADDED: 1, PEER_DELETED: 2, PEER_UPDATED: 3 } as const;

/** A peer.ChangeNotification object. */
export interface ChangeNotification {
  name: string;
  address: string;
  type: number;
  tls?: { server_name: string };
}

/** A node as the agent reports it. */
export interface PeerNode {
  /** Node name (without cluster prefix). */
  name: string;
  /** `host:port` (`[v6]:port`), a bare IP (Relay then adds its default port 4244), or `unix://<path>`. */
  address: string;
}

/** `ip:port`, or `[ip]:port` for IPv6. */
export function peerAddress(ip: string, port: number): string {
  return isIPv6(ip) ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** The address Relay dials for a node of these InternalIPs: the first IPv4, else the first IPv6 (Cilium's order). */
export function preferredNodeIp(ips: readonly string[]): string | undefined {
  return ips.find((ip) => isIPv4(ip)) ?? ips.find((ip) => isIPv6(ip));
}

/** The TLS server name Hubble certificates carry for a node: `<node>.<cluster>.hubble-grpc.cilium.io`. */
export function hubbleServerName(nodeName: string, clusterName: string | undefined): string {
  const dashes = (s: string) => s.replace(/\./g, '-');
  return `${dashes(nodeName)}.${dashes(clusterName || 'default')}.hubble-grpc.cilium.io`;
}

/** Known peers and their subscribers. */
export class PeerRegistry {
  readonly #clusterName: string | undefined;
  readonly #tls: boolean;
  readonly #peers = new Map<string, ChangeNotification>();
  readonly #subscribers = new Set<(change: ChangeNotification) => void>();

  /** `tls`: whether peers' TCP listeners use TLS (then every notification carries the server name). */
  constructor(options: { clusterName?: string; tls: boolean }) {
    this.#clusterName = options.clusterName;
    this.#tls = options.tls;
  }

  #notification(node: PeerNode, type: number): ChangeNotification {
    const n: ChangeNotification = {
      name: absoluteNodeName(node.name, this.#clusterName),
      address: node.address,
      type,
    };
    if (this.#tls) n.tls = { server_name: hubbleServerName(node.name, this.#clusterName) };
    return n;
  }

  /** Adds a node, or updates it when its address changed. */
  upsert(node: PeerNode): void {
    const known = this.#peers.get(node.name);
    if (known && known.address === node.address) return;
    const change = this.#notification(node, known ? ChangeType.PEER_UPDATED : ChangeType.PEER_ADDED);
    this.#peers.set(node.name, { ...change, type: ChangeType.PEER_ADDED });
    this.#emit(change);
  }

  /** Removes a node. */
  remove(name: string): void {
    const known = this.#peers.get(name);
    if (!known) return;
    this.#peers.delete(name);
    this.#emit({ ...known, type: ChangeType.PEER_DELETED });
  }

  /** The PEER_ADDED notifications a new subscriber starts with. */
  snapshot(): ChangeNotification[] {
    return [...this.#peers.values()].map((p) => ({ ...p }));
  }

  /** Calls `fn` for every later change; returns the unsubscribe function. */
  subscribe(fn: (change: ChangeNotification) => void): () => void {
    this.#subscribers.add(fn);
    return () => {
      this.#subscribers.delete(fn);
    };
  }

  #emit(change: ChangeNotification): void {
    for (const fn of [...this.#subscribers]) fn({ ...change });
  }
}
