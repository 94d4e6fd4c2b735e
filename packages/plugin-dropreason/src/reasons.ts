/**
 * Kernel drop reasons → metric label values.
 *
 * The names come from the running kernel's `enum skb_drop_reason` (read from BTF), so reasons added by newer
 * kernels appear under their own names without a new release. Where a kernel reason means the same thing as one of
 * Retina's reason values, Retina's value is used so existing dashboards keep working; every other reason keeps the
 * kernel's name without the `SKB_DROP_REASON_` prefix (the same text the kernel's own trace output prints).
 */
import type { BtfEnum } from '@retina-ts/bpf-runtime';
import { DropReasonDesc } from '@retina-ts/core';

/** The kernel enum that names drop reasons (Linux 5.17+). */
export const DROP_REASON_ENUM = 'skb_drop_reason';
/** The kernel enum that names drop-reason subsystems (Linux 6.8+); a subsystem id sits in the upper 16 bits. */
export const DROP_REASON_SUBSYS_ENUM = 'skb_drop_reason_subsys';
/** Bit position of the subsystem id inside a drop reason value. */
export const SUBSYS_SHIFT = 16;

/** Retina's label for a value the kernel does not name. */
export const UNKNOWN_DROP = 'UNKNOWN_DROP';

/**
 * Kernel reason names (prefix stripped) that mean what one of Retina's reason values means.
 * nf_hook_slow frees with NETFILTER_DROP for every netfilter verdict NF_DROP: filter rules, and also NAT and
 * conntrack-confirm failures, which the kernel does not tell apart, so all of them are IPTABLE_RULE_DROP.
 */
export const RETINA_REASONS: Readonly<Record<string, string>> = {
  NETFILTER_DROP: 'IPTABLE_RULE_DROP',
};

/** How `reason` labels are named: `kernel` (default) or Retina's fixed set (`plugins.dropreason.reasonNames`). */
export type ReasonNaming = 'kernel' | 'retina';

/**
 * `reasonNames: retina`: kernel reason names (prefix stripped) mapped onto Retina's reason values; every reason not
 * listed here is UNKNOWN_DROP. Retina's TCP_CONNECT_BASIC has no kernel reason (a failed connect() frees no packet),
 * and IPTABLE_NAT_DROP and CONNTRACK_ADD_DROP reach kfree_skb as NETFILTER_DROP, so those three never appear.
 */
export const RETINA_REASON_MAP: Readonly<Record<string, string>> = {
  // A netfilter hook returned NF_DROP: iptables/nftables rules (and NAT/conntrack-confirm failures, untold apart).
  NETFILTER_DROP: 'IPTABLE_RULE_DROP',
  // Segments that reach a socket already closed, or data for a socket whose application closed it.
  TCP_CLOSE: 'TCP_CLOSE_BASIC',
  TCP_ABORT_ON_DATA: 'TCP_CLOSE_BASIC',
  // Connections a listener could not take: accept queue full, or SYN queue full (older kernels name it so).
  TCP_LISTEN_OVERFLOW: 'TCP_ACCEPT_BASIC',
  TCP_REQQFULLDROP: 'TCP_ACCEPT_BASIC',
};

/** Hubble drop-reason codes for the Retina values (as Retina's flows carry them). */
export const RETINA_REASON_DESC: Readonly<Record<string, DropReasonDesc>> = {
  IPTABLE_RULE_DROP: DropReasonDesc.POLICY_DENIED,
  IPTABLE_NAT_DROP: DropReasonDesc.SNAT_NO_MAP_FOUND,
  CONNTRACK_ADD_DROP: DropReasonDesc.UNKNOWN_CONNECTION_TRACKING_STATE,
};

/**
 * Enumerators that are normal frees, not drops: nothing is counted for them. SKB_CONSUMED is a normal consume;
 * SKB_NOT_DROPPED_YET is the "no verdict yet" placeholder; NOT_SPECIFIED is what plain kfree_skb() passes from the
 * many call sites that free without a verdict (mostly teardown and clean-up paths).
 */
export const NORMAL_FREE_NAMES = [
  'SKB_NOT_DROPPED_YET',
  'SKB_CONSUMED',
  'SKB_DROP_REASON_NOT_SPECIFIED',
] as const;
/** Values of NORMAL_FREE_NAMES on every kernel so far, used only if BTF lacks a name. */
const NORMAL_FREE_DEFAULTS = [0, 1, 2] as const;

/** Strips the kernel's enumerator prefixes: SKB_DROP_REASON_NO_SOCKET → NO_SOCKET, SKB_CONSUMED → CONSUMED. */
export function shortReasonName(enumerator: string): string {
  if (enumerator.startsWith('SKB_DROP_REASON_')) return enumerator.slice('SKB_DROP_REASON_'.length);
  if (enumerator.startsWith('SKB_')) return enumerator.slice('SKB_'.length);
  return enumerator;
}

/** Turns a reason value into its label, and says which values are normal frees. Built once per plugin start. */
export class DropReasonCatalog {
  readonly #names = new Map<number, string>();
  readonly #subsystems = new Map<number, string>();
  readonly #normalFrees: readonly [number, number, number];

  readonly #naming: ReasonNaming;

  private constructor(
    names: Map<number, string>,
    subsystems: Map<number, string>,
    normalFrees: [number, number, number],
    naming: ReasonNaming,
  ) {
    this.#naming = naming;
    this.#names = names;
    this.#subsystems = subsystems;
    this.#normalFrees = normalFrees;
  }

  /**
   * Builds the catalog from the kernel's `enum skb_drop_reason` and, when present, `enum skb_drop_reason_subsys`.
   * Sentinels (`SKB_DROP_REASON_MAX`, `SKB_DROP_REASON_SUBSYS_MASK`) are not reasons and are left out.
   * `naming` picks the labels: the kernel's names (default) or Retina's set (see RETINA_REASON_MAP).
   */
  static fromBtf(reasons: BtfEnum, subsystems?: BtfEnum, naming: ReasonNaming = 'kernel'): DropReasonCatalog {
    const names = new Map<number, string>();
    const byName = new Map<string, number>();
    for (const m of reasons.members) {
      if (m.name === 'SKB_DROP_REASON_MAX' || m.name === 'SKB_DROP_REASON_SUBSYS_MASK') continue;
      const value = Number(m.value);
      if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff) continue;
      byName.set(m.name, value);
      if (!names.has(value)) names.set(value, shortReasonName(m.name));
    }
    const subs = new Map<number, string>();
    for (const m of subsystems?.members ?? []) {
      const id = Number(m.value);
      if (m.name === 'SKB_DROP_REASON_SUBSYS_NUM' || id === 0) continue;
      subs.set(id, m.name.replace(/^SKB_DROP_REASON_SUBSYS_/, ''));
    }
    const frees = NORMAL_FREE_NAMES.map((n, i) => byName.get(n) ?? NORMAL_FREE_DEFAULTS[i]!) as [
      number,
      number,
      number,
    ];
    return new DropReasonCatalog(names, subs, frees, naming);
  }

  /** The three values the kernel program must ignore (normal frees), in NORMAL_FREE_NAMES order. */
  get normalFreeValues(): readonly [number, number, number] {
    return this.#normalFrees;
  }

  /** True when `value` is a normal free rather than a drop. */
  isNormalFree(value: number): boolean {
    return this.#normalFrees.includes(value);
  }

  /** Number of named reasons known. */
  get size(): number {
    return this.#names.size;
  }

  /**
   * Adds names for subsystem reasons (values with a subsystem id in the upper 16 bits), e.g. the members of a
   * module's `enum ovs_drop_reason`. Names already known are kept.
   */
  addSubsystemNames(members: Iterable<{ name: string; value: bigint }>): void {
    for (const m of members) {
      const value = Number(m.value);
      if (value >>> SUBSYS_SHIFT === 0 || value > 0xffffffff) continue;
      if (!this.#names.has(value)) this.#names.set(value, m.name);
    }
  }

  /** True when `value` belongs to a subsystem whose own enum has not been read yet. */
  needsSubsystemName(value: number): boolean {
    return value >>> SUBSYS_SHIFT !== 0 && !this.#names.has(value);
  }

  /** The kernel's name for a value (prefix stripped), or undefined when the kernel does not name it. */
  kernelName(value: number): string | undefined {
    const name = this.#names.get(value);
    if (name !== undefined) return name;
    const subsys = this.#subsystems.get(value >>> SUBSYS_SHIFT);
    // A subsystem reason whose module enum is not loaded: subsystem name plus the code inside it.
    if (subsys !== undefined) return `${subsys}_${value & 0xffff}`;
    return undefined;
  }

  /** How this catalog names reasons. */
  get naming(): ReasonNaming {
    return this.#naming;
  }

  /**
   * The `reason` label for a value. Kernel naming: Retina's value where one means the same, else the kernel name,
   * else UNKNOWN_DROP. Retina naming: the RETINA_REASON_MAP value, else UNKNOWN_DROP.
   */
  label(value: number): string {
    const name = this.kernelName(value);
    if (name === undefined) return UNKNOWN_DROP;
    if (this.#naming === 'retina') return RETINA_REASON_MAP[name] ?? UNKNOWN_DROP;
    return RETINA_REASONS[name] ?? name;
  }
}

/** Hubble's drop-reason code for a label (DROP_REASON_UNKNOWN unless Retina maps it). */
export function dropReasonDesc(label: string): DropReasonDesc {
  return RETINA_REASON_DESC[label] ?? DropReasonDesc.DROP_REASON_UNKNOWN;
}
