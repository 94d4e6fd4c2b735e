import { BpfError } from './errors.js';
import type { Releasable, ResourceOwner } from './link.js';
import { native, type NativeSocketHandle } from './native.js';
import { resolveIfindex } from './tc.js';

/** Options of BpfProgram.openRawSocket(). */
export interface RawSocketOptions {
  /** Interface to capture on; omit both ifname and ifindex for every interface. */
  ifname?: string;
  ifindex?: number;
  /** Ethertype to receive: `all` (default), `ipv4`, `ipv6`, or a number such as 0x0806. */
  protocol?: 'all' | 'ipv4' | 'ipv6' | number;
}

const ETHERTYPES = { all: 0x0003, ipv4: 0x0800, ipv6: 0x86dd } as const;

/** Ethertype number for a RawSocketOptions.protocol value. */
export function ethertype(protocol: RawSocketOptions['protocol']): number {
  if (protocol === undefined) return ETHERTYPES.all;
  if (typeof protocol === 'number') {
    if (!Number.isInteger(protocol) || protocol <= 0 || protocol > 0xffff) {
      throw new BpfError(`openRawSocket: protocol must be an ethertype in 1..65535, got ${protocol}`, {
        errno: 0,
        operation: 'open raw socket',
      });
    }
    return protocol;
  }
  const value = ETHERTYPES[protocol];
  if (value === undefined) {
    throw new BpfError(
      `openRawSocket: protocol must be all, ipv4, ipv6 or a number, got '${String(protocol)}'`,
      {
        errno: 0,
        operation: 'open raw socket',
      },
    );
  }
  return value;
}

/**
 * An AF_PACKET socket with a socket-filter program attached. The program sees every packet of the interface (or
 * all interfaces) and its return value decides how many bytes reach the socket (0 = none). Programs that report
 * through maps or a ring buffer only need the socket to exist; receive() reads what the filter kept.
 */
export class RawSocket implements Releasable {
  /** Always `socket_filter`, so a RawSocket can be kept with links. */
  readonly kind = 'socket_filter';
  /** Name of the attached program. */
  readonly program: string;
  readonly #native: NativeSocketHandle;
  readonly #owner: ResourceOwner;
  #open = true;

  /** Opens the socket and attaches the program; use BpfProgram.openRawSocket(). */
  constructor(progFd: number, program: string, options: RawSocketOptions, owner: ResourceOwner) {
    const protocol = ethertype(options.protocol);
    const ifindex =
      options.ifname === undefined && options.ifindex === undefined
        ? 0
        : resolveIfindex(options, 'open raw socket');
    const handle = new (native().NativeSocket)();
    try {
      // Filter first, then bind: no packet reaches the socket unfiltered.
      handle.attachFilter(progFd);
      handle.bind(ifindex, protocol);
    } catch (err) {
      handle.close();
      throw err;
    }
    this.#native = handle;
    this.program = program;
    this.#owner = owner;
    owner.track(this);
  }

  /** Socket file descriptor (-1 once closed). */
  get fd(): number {
    return this.#native.fd;
  }

  /** True until closed. */
  get attached(): boolean {
    return this.#open;
  }

  /** Reads one queued packet (non-blocking), at most `maxBytes`; undefined when none is waiting. */
  receive(maxBytes = 65536): Buffer | undefined {
    return this.#native.receive(maxBytes);
  }

  /** Closes the socket, which detaches the filter. Idempotent. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#native.close();
    this.#owner.untrack(this);
  }

  /** Same as close(). */
  detach(): void {
    this.close();
  }

  /** Same as close(); called when the owning object closes. */
  release(): void {
    this.close();
  }
}
