/**
 * Pure parts of the packetforward plugin: the layout of the kernel counters, their per-CPU summing, and the
 * default-route lookup that picks the interface to watch. No I/O here, so all of it is tested with fixtures.
 */
import { defineStruct, sumPerCpuFields } from '@retina-ts/bpf-runtime';

/** Traffic directions, in the order of the BPF map's keys (0 = ingress, 1 = egress). */
export const DIRECTIONS = ['ingress', 'egress'] as const;
export type Direction = (typeof DIRECTIONS)[number];

/**
 * `struct pf_counters` of bpf/packetforward.bpf.c, one per CPU in `rts_pf_stats`: the one declaration the summing
 * below takes its offsets from. test/layout.test.ts checks it against the compiled object's BTF.
 */
export const PF_COUNTERS = defineStruct({ packets: 'u64', bytes: 'u64' });

/** Size of one per-CPU value of `rts_pf_stats`. */
export const FORWARD_COUNTERS_SIZE = PF_COUNTERS.size;

/** Packets and bytes seen in one direction. */
export interface ForwardTotals {
  packets: bigint;
  bytes: bigint;
}

/** The 4-byte little-endian map key of a direction. */
export function directionKey(direction: Direction): Buffer {
  const key = Buffer.alloc(4);
  key.writeUInt32LE(DIRECTIONS.indexOf(direction));
  return key;
}

/** Sums the per-CPU `pf_counters` values of one map key. */
export function sumPerCpuCounters(values: readonly Uint8Array[]): ForwardTotals {
  return sumPerCpuFields(values, PF_COUNTERS, 'pf_counters', ['packets', 'bytes']);
}

const RTF_UP = 0x1;
const RTF_REJECT = 0x200;

interface DefaultRoute {
  iface: string;
  metric: number;
}

/** Lowest-metric usable default route of a table, or undefined. */
function best(routes: DefaultRoute[]): DefaultRoute | undefined {
  let out: DefaultRoute | undefined;
  for (const r of routes) if (!out || r.metric < out.metric) out = r;
  return out;
}

/** Default routes in `/proc/net/route` (IPv4): destination and mask 0, up, not a reject route. */
function ipv4DefaultRoutes(text: string): DefaultRoute[] {
  const out: DefaultRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const [iface, destination, , flagsHex, , , metric, mask] = f as [string, string, string, string, string, string, string, string];
    const flags = Number.parseInt(flagsHex, 16);
    if (destination !== '00000000' || mask !== '00000000') continue;
    if (!(flags & RTF_UP) || flags & RTF_REJECT || Number.isNaN(flags)) continue;
    const m = Number.parseInt(metric, 10);
    out.push({ iface, metric: Number.isNaN(m) ? Number.MAX_SAFE_INTEGER : m });
  }
  return out;
}

/** Default routes in `/proc/net/ipv6_route`: ::/0, up, not a reject route, not via `lo`. */
function ipv6DefaultRoutes(text: string): DefaultRoute[] {
  const out: DefaultRoute[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [destination, prefixLen, , , , metricHex, , , flagsHex, iface] = f as [
      string, string, string, string, string, string, string, string, string, string,
    ];
    if (!/^0{32}$/.test(destination) || prefixLen !== '00') continue;
    const flags = Number.parseInt(flagsHex, 16);
    if (!(flags & RTF_UP) || flags & RTF_REJECT || Number.isNaN(flags) || iface === 'lo') continue;
    const m = Number.parseInt(metricHex, 16);
    out.push({ iface, metric: Number.isNaN(m) ? Number.MAX_SAFE_INTEGER : m });
  }
  return out;
}

/**
 * The interfaces that carry the node's default routes: the lowest-metric IPv4 default route's interface, then the
 * lowest-metric IPv6 one when it differs. Inputs are the contents of `/proc/net/route` and `/proc/net/ipv6_route`
 * (either may be empty). Returns [] when there is no default route.
 */
export function defaultRouteInterfaces(ipv4RouteTable: string, ipv6RouteTable = ''): string[] {
  const names: string[] = [];
  for (const route of [best(ipv4DefaultRoutes(ipv4RouteTable)), best(ipv6DefaultRoutes(ipv6RouteTable))]) {
    if (route && !names.includes(route.iface)) names.push(route.iface);
  }
  return names;
}
