/**
 * Node events: what changes on this node that plugins may need to follow, such as pods' network interfaces
 * appearing and disappearing and the set of IPs worth reporting. The agent feeds them from its watchers; plugins
 * read them from `ctx.node`. Core knows nothing of where they come from, so a plugin can be tested without a cluster.
 */

/** A pod's network interface on this node (typically the host side of its veth pair). */
export interface NodeInterface {
  name: string;
  index: number;
}

/** An interface appearing or disappearing. */
export interface NodeInterfaceEvent {
  type: 'added' | 'removed';
  iface: NodeInterface;
}

/** Read side of the node events, as plugins see it. */
export interface NodeEvents {
  /** Pod interfaces present now. */
  podInterfaces(): readonly NodeInterface[];
  /** IPs worth reporting (pods selected for pod-level metrics, the API server); empty when unknown. */
  ipsOfInterest(): readonly string[];
  /** Calls `fn` on every interface change; returns the function that stops it. */
  onPodInterface(fn: (event: NodeInterfaceEvent) => void): () => void;
  /** Calls `fn` with the whole new set whenever the IPs of interest change; returns the function that stops it. */
  onIpsOfInterest(fn: (ips: readonly string[]) => void): () => void;
}

/** The node events hub: the agent writes, plugins subscribe. A listener that throws does not stop the others. */
export class NodeEventHub implements NodeEvents {
  readonly #interfaces = new Map<string, NodeInterface>();
  #ips: readonly string[] = [];
  readonly #interfaceListeners = new Set<(event: NodeInterfaceEvent) => void>();
  readonly #ipListeners = new Set<(ips: readonly string[]) => void>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => undefined) {}

  podInterfaces(): readonly NodeInterface[] {
    return [...this.#interfaces.values()];
  }

  ipsOfInterest(): readonly string[] {
    return this.#ips;
  }

  onPodInterface(fn: (event: NodeInterfaceEvent) => void): () => void {
    this.#interfaceListeners.add(fn);
    return () => this.#interfaceListeners.delete(fn);
  }

  onIpsOfInterest(fn: (ips: readonly string[]) => void): () => void {
    this.#ipListeners.add(fn);
    return () => this.#ipListeners.delete(fn);
  }

  /** Records an interface (a re-added name with a new index replaces the old one) and tells listeners. */
  addPodInterface(iface: NodeInterface): void {
    const known = this.#interfaces.get(iface.name);
    if (known?.index === iface.index) return;
    if (known) this.#notifyInterface({ type: 'removed', iface: known });
    this.#interfaces.set(iface.name, { name: iface.name, index: iface.index });
    this.#notifyInterface({ type: 'added', iface: { name: iface.name, index: iface.index } });
  }

  /** Forgets an interface and tells listeners; unknown names are ignored. */
  removePodInterface(name: string): void {
    const known = this.#interfaces.get(name);
    if (!known) return;
    this.#interfaces.delete(name);
    this.#notifyInterface({ type: 'removed', iface: known });
  }

  /** Replaces the IPs of interest; listeners hear only real changes. */
  setIpsOfInterest(ips: Iterable<string>): void {
    const next = [...new Set(ips)].sort();
    if (next.length === this.#ips.length && next.every((ip, i) => ip === this.#ips[i])) return;
    this.#ips = next;
    for (const fn of this.#ipListeners) {
      try {
        fn(next);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  #notifyInterface(event: NodeInterfaceEvent): void {
    for (const fn of this.#interfaceListeners) {
      try {
        fn(event);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }
}
