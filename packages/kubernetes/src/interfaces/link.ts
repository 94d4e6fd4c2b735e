/**
 * Pure decoding of rtnetlink link messages into the facts the pod interface watcher needs, and the table that turns
 * link notifications and snapshots into added/removed events.
 */

/** A network interface of a watched kind (a pod's host-side veth, typically). */
export interface PodInterface {
  /** Interface index in this network namespace. */
  index: number;
  name: string;
  /** `IFLA_INFO_KIND`, e.g. `veth`. */
  kind: string;
  /** MAC address as `aa:bb:cc:dd:ee:ff` ('' when the link has none). */
  mac: string;
  /** Index of the peer interface (in the peer's namespace), when reported. */
  peerIndex?: number;
  /** Network namespace id of the peer, as seen from this namespace (`IFLA_LINK_NETNSID`). */
  peerNetnsId?: number;
  /** Administratively up (IFF_UP). */
  up: boolean;
}

/** An added or removed interface. `initial` marks interfaces present when the watcher started. */
export interface InterfaceEvent {
  type: 'added' | 'removed';
  link: PodInterface;
  initial?: boolean;
}

const IFLA_INFO_KIND = 1;

/** The `IFLA_INFO_KIND` string inside a nested `IFLA_LINKINFO` attribute, or undefined. */
export function linkInfoKind(linkinfo: Uint8Array | undefined): string | undefined {
  if (!linkinfo) return undefined;
  const buf = Buffer.from(linkinfo.buffer, linkinfo.byteOffset, linkinfo.byteLength);
  let off = 0;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    const type = buf.readUInt16LE(off + 2) & 0x3fff; // strip NLA_F_NESTED / NLA_F_NET_BYTEORDER
    if (len < 4 || off + len > buf.length) return undefined;
    if (type === IFLA_INFO_KIND) {
      const value = buf.subarray(off + 4, off + len);
      const nul = value.indexOf(0);
      return value.subarray(0, nul >= 0 ? nul : value.length).toString('latin1');
    }
    off += (len + 3) & ~3;
  }
  return undefined;
}

/** `aa:bb:cc:dd:ee:ff` for a hardware address. */
export function macString(address: Uint8Array | undefined): string {
  if (!address) return '';
  return [...address].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The fields of a parsed rtnetlink link message that are read here. */
export interface LinkMessageLike {
  data: { index?: number; flags?: { up?: boolean } };
  attrs: { ifname?: string; address?: Uint8Array; linkinfo?: Uint8Array; link?: Uint8Array | number; linkNetnsid?: number };
}

/** The interface a link message describes, or undefined when it lacks an index or name. */
export function interfaceFromLink(msg: LinkMessageLike): PodInterface | undefined {
  const index = msg.data.index;
  const name = msg.attrs.ifname;
  if (index === undefined || !name) return undefined;
  const link = msg.attrs.link;
  const peerIndex =
    typeof link === 'number' ? link : link && link.byteLength >= 4 ? Buffer.from(link.buffer, link.byteOffset, 4).readUInt32LE(0) : undefined;
  return {
    index,
    name,
    kind: linkInfoKind(msg.attrs.linkinfo) ?? '',
    mac: macString(msg.attrs.address),
    ...(peerIndex ? { peerIndex } : {}),
    ...(msg.attrs.linkNetnsid !== undefined ? { peerNetnsId: msg.attrs.linkNetnsid } : {}),
    up: msg.data.flags?.up === true,
  };
}

/** The watched interfaces by index; turns notifications and snapshots into events. */
export class LinkTable {
  readonly #links = new Map<number, PodInterface>();

  constructor(private readonly kinds: ReadonlySet<string>) {}

  /** The interfaces held, by index order. */
  list(): PodInterface[] {
    return [...this.#links.values()].sort((a, b) => a.index - b.index);
  }

  /** A link was added or changed (RTM_NEWLINK). */
  upsert(link: PodInterface): InterfaceEvent[] {
    const prev = this.#links.get(link.index);
    if (!this.kinds.has(link.kind)) {
      // Index reused by a link of another kind: the old one is gone.
      return prev ? this.remove(link.index) : [];
    }
    this.#links.set(link.index, link);
    if (!prev) return [{ type: 'added', link }];
    // A rename is a different interface to anything that attached by name.
    if (prev.name !== link.name || prev.mac !== link.mac) {
      return [
        { type: 'removed', link: prev },
        { type: 'added', link },
      ];
    }
    return [];
  }

  /** A link was deleted (RTM_DELLINK) or left this namespace. */
  remove(index: number): InterfaceEvent[] {
    const prev = this.#links.get(index);
    if (!prev) return [];
    this.#links.delete(index);
    return [{ type: 'removed', link: prev }];
  }

  /** Replaces the table with a full snapshot (a dump), reporting what differs. */
  replace(snapshot: readonly PodInterface[], initial = false): InterfaceEvent[] {
    const events: InterfaceEvent[] = [];
    const seen = new Set<number>();
    for (const link of snapshot) {
      if (!this.kinds.has(link.kind)) continue;
      seen.add(link.index);
      events.push(...this.upsert(link).map((e) => (initial && e.type === 'added' ? { ...e, initial: true } : e)));
    }
    for (const index of [...this.#links.keys()]) if (!seen.has(index)) events.push(...this.remove(index));
    return events;
  }
}
