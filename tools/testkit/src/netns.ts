// Throwaway network namespaces and veth pairs for kernel tests. Every name is unique per run, so test files
// running in parallel never collide; destroy() is idempotent and safe in afterAll even if creation failed halfway.
import { statSync } from 'node:fs';
import { run, type CommandResult, type RunOptions } from './exec.js';
import { uniqueName } from './names.js';

/** A network namespace created with `ip netns add`. */
export class Netns {
  /** Name under /var/run/netns. */
  readonly name: string;
  #destroyed = false;

  private constructor(name: string) {
    this.name = name;
  }

  /**
   * Creates a namespace named `<prefix><unique suffix>` with its loopback up and IPv6 duplicate address
   * detection off, so addresses (link-local ones included) are usable at once instead of after about a second.
   */
  static create(prefix = 'rt'): Netns {
    const ns = new Netns(uniqueName(prefix, 32));
    run('ip', ['netns', 'add', ns.name]);
    try {
      ns.ip(['link', 'set', 'lo', 'up']);
      const dad = ['all', 'default'].map((c) => `/proc/sys/net/ipv6/conf/${c}/accept_dad`).join(' ');
      // Kernels without IPv6 have no such files: nothing to turn off then.
      ns.exec('sh', ['-c', `for f in ${dad}; do [ -w "$f" ] && echo 0 > "$f"; done; true`]);
    } catch (err) {
      ns.destroy();
      throw err;
    }
    return ns;
  }

  /** Path of the namespace file (for setns, runInNetns). */
  get path(): string {
    return `/var/run/netns/${this.name}`;
  }

  /** Inode of the namespace (`stat -L -c %i /proc/<pid>/ns/net` inside it): how BPF programs tell namespaces apart. */
  get inode(): number {
    return statSync(this.path).ino;
  }

  /** Runs a command inside the namespace. */
  exec(command: string, args: readonly string[], options: Omit<RunOptions, 'netns'> = {}): CommandResult {
    return run(command, args, { ...options, netns: this.name });
  }

  /** Runs `ip -n <ns> <args>`. */
  ip(args: readonly string[], options: Omit<RunOptions, 'netns'> = {}): CommandResult {
    return run('ip', ['-n', this.name, ...args], options);
  }

  /** Deletes the namespace (and the interfaces inside it). */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    run('ip', ['netns', 'del', this.name], { allowFailure: true });
  }
}

/** Creates a uniquely named network namespace. */
export function createNetns(prefix = 'rt'): Netns {
  return Netns.create(prefix);
}

/** Options of createVethPair(). */
export interface VethPairOptions {
  /** Namespace of the first end (default: the current one). */
  ns?: Netns;
  /** Namespace of the peer end (default: the current one). */
  peerNs?: Netns;
  /** Interface names (default: unique `rv…a` / `rv…b`, at most 15 characters). */
  name?: string;
  peerName?: string;
  /** CIDR addresses to assign, e.g. `{ local: '10.231.0.1/24', peer: '10.231.0.2/24' }`; IPv6 gets `nodad`. */
  addresses?: { local?: string | readonly string[]; peer?: string | readonly string[] };
  /** Bring both ends up (default true). */
  up?: boolean;
}

function ipIn(ns: Netns | undefined, args: readonly string[]): CommandResult {
  return ns ? ns.ip(args) : run('ip', args);
}

function asList(v: string | readonly string[] | undefined): readonly string[] {
  return v === undefined ? [] : typeof v === 'string' ? [v] : v;
}

/** A veth pair; each end lives in its own (or the current) namespace. */
export class VethPair {
  readonly name: string;
  readonly peerName: string;
  readonly ns: Netns | undefined;
  readonly peerNs: Netns | undefined;
  #destroyed = false;

  constructor(name: string, peerName: string, ns: Netns | undefined, peerNs: Netns | undefined) {
    this.name = name;
    this.peerName = peerName;
    this.ns = ns;
    this.peerNs = peerNs;
  }

  /** Interface index of the first end, inside its namespace. */
  ifindex(): number {
    return interfaceIndexIn(this.ns, this.name);
  }

  /** Interface index of the peer end, inside its namespace. */
  peerIfindex(): number {
    return interfaceIndexIn(this.peerNs, this.peerName);
  }

  /** Deletes the pair (deleting one end removes both); idempotent. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (this.ns) this.ns.ip(['link', 'del', this.name], { allowFailure: true });
    else run('ip', ['link', 'del', this.name], { allowFailure: true });
  }
}

/** Index of `ifname` in namespace `ns` (or the current one). */
export function interfaceIndexIn(ns: Netns | undefined, ifname: string): number {
  const out = ipIn(ns, ['-j', 'link', 'show', 'dev', ifname]).stdout;
  const parsed = JSON.parse(out) as Array<{ ifindex: number }>;
  const idx = parsed[0]?.ifindex;
  if (idx === undefined) throw new Error(`interface ${ifname} not found`);
  return idx;
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Waits until the kernel reports the interface operationally up. Carrier changes reach IPv6 neighbour discovery
 * through linkwatch, which may lag by up to a second; traffic sent before that is silently queued or lost.
 */
function waitOperUp(ns: Netns | undefined, ifname: string, timeoutMs = 5000): void {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [link] = JSON.parse(ipIn(ns, ['-j', 'link', 'show', 'dev', ifname]).stdout) as Array<{
      operstate?: string;
    }>;
    if (link?.operstate === 'UP') return;
    if (Date.now() > deadline) throw new Error(`${ifname} did not come up (operstate ${link?.operstate})`);
    sleepSync(10);
  }
}

/**
 * Creates a veth pair directly inside the requested namespaces (no temporary name in the current namespace),
 * assigns the addresses and brings both ends up.
 */
export function createVethPair(options: VethPairOptions = {}): VethPair {
  const base = uniqueName('rv', 14);
  const name = options.name ?? `${base}a`;
  const peerName = options.peerName ?? `${base}b`;
  const args = ['link', 'add', 'name', name];
  if (options.ns) args.push('netns', options.ns.name);
  args.push('type', 'veth', 'peer', 'name', peerName);
  if (options.peerNs) args.push('netns', options.peerNs.name);
  run('ip', args);
  const pair = new VethPair(name, peerName, options.ns, options.peerNs);
  try {
    for (const [ns, ifname, addrs] of [
      [options.ns, name, asList(options.addresses?.local)],
      [options.peerNs, peerName, asList(options.addresses?.peer)],
    ] as const) {
      for (const cidr of addrs) {
        ipIn(ns, ['addr', 'add', cidr, 'dev', ifname, ...(cidr.includes(':') ? ['nodad'] : [])]);
      }
      if (options.up ?? true) ipIn(ns, ['link', 'set', ifname, 'up']);
    }
    if (options.up ?? true) {
      waitOperUp(options.ns, name);
      waitOperUp(options.peerNs, peerName);
    }
  } catch (err) {
    pair.destroy();
    throw err;
  }
  return pair;
}

/** Options of createNetnsPair(). */
export interface NetnsPairOptions {
  /** Name prefixes of the two namespaces (default `rt`). */
  prefix?: string;
  peerPrefix?: string;
  /** CIDR addresses of the veth end in the first namespace (`local`) and in the second (`peer`). */
  addresses?: VethPairOptions['addresses'];
  /** False turns IPv6 off in both namespaces before the link exists, so neighbour discovery sends nothing. */
  ipv6?: boolean;
}

/** Two throwaway namespaces joined by a veth pair; destroy() deletes both (and the pair with them). */
export interface NetnsPair {
  ns: Netns;
  peerNs: Netns;
  veth: VethPair;
  /** Idempotent. */
  destroy(): void;
}

/** Creates two uniquely named namespaces joined by an up veth pair; on failure nothing is left behind. */
export function createNetnsPair(options: NetnsPairOptions = {}): NetnsPair {
  const made: Netns[] = [];
  const destroy = (): void => {
    for (const ns of made.splice(0)) ns.destroy();
  };
  try {
    const ns = createNetns(options.prefix);
    made.push(ns);
    const peerNs = createNetns(options.peerPrefix);
    made.push(peerNs);
    if (options.ipv6 === false) {
      for (const n of made) {
        n.exec('sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
      }
    }
    const veth = createVethPair({ ns, peerNs, ...(options.addresses ? { addresses: options.addresses } : {}) });
    return { ns, peerNs, veth, destroy };
  } catch (err) {
    destroy();
    throw err;
  }
}
