/**
 * Watches the network interfaces of this node's network namespace through rtnetlink and reports pod interfaces
 * (veth by default) as they appear and disappear, so plugins can attach to a new pod's interface at once.
 *
 * Events come from the kernel's RTNLGRP_LINK multicast group through the `netlink` package (N-API bindings with
 * prebuilt binaries and typed rtnetlink parsing), not from `ip monitor`: the iproute2 of current distributions
 * prints monitor events as text only (JSON monitor output is recent) and without the link kind, so a text
 * parser would need a second query per event and would break on format changes. A full dump at start and every
 * `resyncIntervalMs` (and after a socket error such as ENOBUFS, when the kernel dropped notifications) repairs
 * anything missed.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from '@retina-ts/core';
import { interfaceFromLink, LinkTable, type InterfaceEvent, type LinkMessageLike, type PodInterface } from './link.js';

const RTM_NEWLINK = 16;
const RTM_DELLINK = 17;
/** `ifi_family` of bridge-port notifications. */
const AF_BRIDGE = 7;

/** Options of PodInterfaceWatcher. */
export interface PodInterfaceWatcherOptions {
  logger: Logger;
  /** Link kinds to report (default `['veth']`; add `netkit` for Cilium-style pods). */
  kinds?: readonly string[];
  /** Full re-read period (default 30 s). */
  resyncIntervalMs?: number;
}

/** What `status()` reports. */
export interface PodInterfaceWatcherStatus {
  state: 'pending' | 'running' | 'failed' | 'stopped';
  interfaces: number;
  resyncs: number;
  lastError?: string;
}

interface RawMessage {
  type: number;
  data: Buffer;
}

interface RtSocket {
  socket: {
    on(event: 'message', cb: (msgs: RawMessage[]) => void): unknown;
    on(event: 'error', cb: (err: Error) => void): unknown;
    close(): void;
  };
  addMembership(group: 'LINK'): void;
  getLinks(): Promise<LinkMessageLike[]>;
}

interface NetlinkModule {
  createRtNetlink(options?: { ref?: boolean }): RtSocket;
  rt: { parseLinkMessage(data: Buffer): LinkMessageLike };
}

/** Reports pod interfaces appearing and disappearing in this network namespace. */
export class PodInterfaceWatcher {
  readonly #events = new EventEmitter();
  readonly #opts: PodInterfaceWatcherOptions;
  readonly #table: LinkTable;
  readonly #log: Logger;
  #socket?: RtSocket;
  #timer?: NodeJS.Timeout;
  #state: PodInterfaceWatcherStatus['state'] = 'pending';
  #resyncs = 0;
  #lastError?: string;
  #resyncing?: Promise<void>;
  #resyncAgain = false;

  constructor(options: PodInterfaceWatcherOptions) {
    this.#opts = options;
    this.#table = new LinkTable(new Set(options.kinds ?? ['veth']));
    this.#log = options.logger.child({ watcher: 'interfaces' });
  }

  /** Calls `listener` for every interface added or removed. */
  on(event: 'interface', listener: (ev: InterfaceEvent) => void): this {
    this.#events.on(event, listener);
    return this;
  }

  /** Removes a listener. */
  off(event: 'interface', listener: (ev: InterfaceEvent) => void): this {
    this.#events.off(event, listener);
    return this;
  }

  /** The interfaces currently known. */
  list(): PodInterface[] {
    return this.#table.list();
  }

  /** Status for health reporting. */
  status(): PodInterfaceWatcherStatus {
    return {
      state: this.#state,
      interfaces: this.#table.list().length,
      resyncs: this.#resyncs,
      ...(this.#lastError ? { lastError: this.#lastError } : {}),
    };
  }

  /**
   * Opens the netlink socket, subscribes to link notifications and reads the current links (reported as `added`
   * with `initial: true`). Rejects when netlink is not available (not Linux, or the binding cannot load).
   */
  async start(): Promise<void> {
    if (this.#state !== 'pending') return;
    let mod: NetlinkModule;
    try {
      mod = ((await import('netlink')) as unknown as { default: NetlinkModule }).default;
    } catch (err) {
      this.#fail(`cannot load the netlink binding: ${(err as Error).message}`);
      throw new Error(this.#lastError);
    }
    try {
      const socket = mod.createRtNetlink({ ref: false });
      this.#socket = socket;
      socket.socket.on('error', (err: Error) => {
        // ENOBUFS: the kernel dropped notifications for us; a dump repairs the table.
        this.#log.warn({ err: err.message }, 'netlink socket error; re-reading links');
        void this.resync();
      });
      socket.addMembership('LINK');
      socket.socket.on('message', (msgs: RawMessage[]) => {
        for (const m of msgs) this.#onMessage(mod, m);
      });
      this.#state = 'running';
      await this.#dump(true);
    } catch (err) {
      this.#socket?.socket.close();
      this.#socket = undefined;
      this.#fail(`cannot watch links through rtnetlink: ${(err as Error).message}`);
      throw new Error(this.#lastError);
    }
    const every = this.#opts.resyncIntervalMs ?? 30_000;
    this.#timer = setInterval(() => void this.resync(), every);
    this.#timer.unref();
  }

  /** Re-reads every link and reports differences (also runs periodically). */
  resync(): Promise<void> {
    if (this.#state !== 'running') return Promise.resolve();
    if (this.#resyncing) {
      this.#resyncAgain = true;
      return this.#resyncing;
    }
    this.#resyncing = this.#dump(false)
      .catch((err: unknown) => {
        this.#lastError = `link dump failed: ${(err as Error).message}`;
        this.#log.warn(this.#lastError);
      })
      .finally(() => {
        this.#resyncing = undefined;
        if (this.#resyncAgain) {
          this.#resyncAgain = false;
          void this.resync();
        }
      });
    return this.#resyncing;
  }

  /** Closes the socket; idempotent. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#socket?.socket.close();
    this.#socket = undefined;
    this.#state = 'stopped';
  }

  #fail(message: string): void {
    this.#state = 'failed';
    this.#lastError = message;
    this.#log.error(message);
  }

  async #dump(initial: boolean): Promise<void> {
    const socket = this.#socket;
    if (!socket) return;
    const links = await socket.getLinks();
    if (this.#state !== 'running') return;
    this.#resyncs++;
    const snapshot = links.map(interfaceFromLink).filter((l): l is PodInterface => l !== undefined);
    this.#emitAll(this.#table.replace(snapshot, initial));
  }

  #onMessage(mod: NetlinkModule, m: RawMessage): void {
    if (m.type !== RTM_NEWLINK && m.type !== RTM_DELLINK) return;
    // Enslaving a veth to a bridge also sends AF_BRIDGE notifications about the port. They carry no link kind, so
    // reading them as link updates would report the pod's interface removed and added again: skip them.
    if (isBridgePortMessage(m.data)) return;
    let link: PodInterface | undefined;
    try {
      link = interfaceFromLink(mod.rt.parseLinkMessage(m.data));
    } catch (err) {
      this.#log.warn({ err: (err as Error).message }, 'undecodable link notification; re-reading links');
      void this.resync();
      return;
    }
    if (!link) return;
    this.#emitAll(m.type === RTM_NEWLINK ? this.#table.upsert(link) : this.#table.remove(link.index));
  }

  #emitAll(events: InterfaceEvent[]): void {
    for (const ev of events) {
      this.#log.debug({ type: ev.type, name: ev.link.name, index: ev.link.index }, 'pod interface');
      try {
        this.#events.emit('interface', ev);
      } catch (err) {
        this.#log.error({ err }, 'interface listener threw');
      }
    }
  }
}

/** True for an rtnetlink link message about a bridge port (`ifi_family` AF_BRIDGE) rather than the link itself. */
export function isBridgePortMessage(ifinfomsg: Uint8Array): boolean {
  return ifinfomsg.length > 0 && ifinfomsg[0] === AF_BRIDGE;
}
