// Leak checks: what BPF programs, links, TC filters and XDP programs the kernel still holds, read through the
// standard tools (bpftool, tc, ip) so the check does not trust the library under test.
import { run } from './exec.js';
import type { Netns } from './netns.js';

/** A loaded BPF program as bpftool lists it. */
export interface BpfProgramInfo {
  id: number;
  type: string;
  name: string;
  tag: string;
  mapIds: number[];
}

/** A BPF link as bpftool lists it. */
export interface BpfLinkInfo {
  id: number;
  /** bpftool's type name, or the numeric type when bpftool predates it (tcx shows as 11 with bpftool 7.1). */
  type: string;
  progId: number;
}

/** A TC filter as `tc -j filter show` lists it (per-priority header entries are left out). */
export interface TcFilterInfo {
  direction: 'ingress' | 'egress';
  protocol: string;
  priority: number;
  kind: string;
  chain: number;
  /** Filter handle (bpf filters), parsed from hex. */
  handle: number | undefined;
  /** For bpf filters: `name:[id]` as the loader set it. */
  bpfName: string | undefined;
  progId: number | undefined;
  progName: string | undefined;
}

/** A qdisc as `tc -j qdisc show` lists it. */
export interface QdiscInfo {
  kind: string;
  handle: string;
  parent: string | undefined;
}

/** Parses `bpftool -j prog show`. */
export function parseBpftoolPrograms(json: string): BpfProgramInfo[] {
  const items = JSON.parse(json || '[]') as Array<Record<string, unknown>>;
  return items.map((p) => ({
    id: Number(p.id),
    type: String(p.type),
    name: typeof p.name === 'string' ? p.name : '',
    tag: typeof p.tag === 'string' ? p.tag : '',
    mapIds: Array.isArray(p.map_ids) ? p.map_ids.map(Number) : [],
  }));
}

/** Parses `bpftool -j link show`. */
export function parseBpftoolLinks(json: string): BpfLinkInfo[] {
  const items = JSON.parse(json || '[]') as Array<Record<string, unknown>>;
  return items.map((l) => ({ id: Number(l.id), type: String(l.type), progId: Number(l.prog_id) }));
}

/** Parses `tc -j filter show dev X <direction>`. */
export function parseTcFilters(json: string, direction: 'ingress' | 'egress'): TcFilterInfo[] {
  const items = JSON.parse(json || '[]') as Array<Record<string, unknown>>;
  return items
    .filter((f) => f.options !== undefined)
    .map((f) => {
      const options = f.options as Record<string, unknown>;
      const prog = options.prog as Record<string, unknown> | undefined;
      const handle = typeof options.handle === 'string' ? parseInt(options.handle, 16) : undefined;
      return {
        direction,
        protocol: String(f.protocol),
        priority: Number(f.pref),
        kind: String(f.kind),
        chain: Number(f.chain ?? 0),
        handle: Number.isNaN(handle) ? undefined : handle,
        bpfName: typeof options.bpf_name === 'string' ? options.bpf_name : undefined,
        progId: prog ? Number(prog.id) : undefined,
        progName: prog && typeof prog.name === 'string' ? prog.name : undefined,
      };
    });
}

/** Parses `tc -j qdisc show dev X`. */
export function parseQdiscs(json: string): QdiscInfo[] {
  const items = JSON.parse(json || '[]') as Array<Record<string, unknown>>;
  return items.map((q) => ({
    kind: String(q.kind),
    handle: String(q.handle),
    parent: typeof q.parent === 'string' ? q.parent : undefined,
  }));
}

/** Every BPF program loaded in the kernel. */
export function listBpfPrograms(): BpfProgramInfo[] {
  return parseBpftoolPrograms(run('bpftool', ['-j', 'prog', 'show']).stdout);
}

/** Every BPF link in the kernel. */
export function listBpfLinks(): BpfLinkInfo[] {
  return parseBpftoolLinks(run('bpftool', ['-j', 'link', 'show']).stdout);
}

/** Of `ids`, the program ids still loaded. */
export function programsStillLoaded(ids: readonly number[]): number[] {
  const loaded = new Set(listBpfPrograms().map((p) => p.id));
  return ids.filter((id) => loaded.has(id));
}

/** TC filters on an interface (both directions by default); an interface without clsact has none. */
export function tcFilters(
  ifname: string,
  options: { netns?: Netns; direction?: 'ingress' | 'egress' | 'both' } = {},
): TcFilterInfo[] {
  const directions =
    options.direction === undefined || options.direction === 'both'
      ? (['ingress', 'egress'] as const)
      : [options.direction];
  return directions.flatMap((direction) => {
    const r = run('tc', ['-j', 'filter', 'show', 'dev', ifname, direction], {
      netns: options.netns?.name,
      allowFailure: true,
    });
    if (r.status !== 0) {
      // No clsact qdisc: tc reports an error, which simply means no filters.
      if (/Cannot find specified qdisc|Invalid argument|No such file/i.test(r.stderr)) return [];
      throw new Error(`tc filter show dev ${ifname} ${direction} failed: ${r.stderr.trim()}`);
    }
    return parseTcFilters(r.stdout, direction);
  });
}

/** Qdiscs of an interface. */
export function tcQdiscs(ifname: string, options: { netns?: Netns } = {}): QdiscInfo[] {
  return parseQdiscs(
    run('tc', ['-j', 'qdisc', 'show', 'dev', ifname], { netns: options.netns?.name }).stdout,
  );
}

/** Parses `ip -j link show dev X` and returns the attached XDP program id, if any. */
export function parseXdpProgramId(json: string): number | undefined {
  const items = JSON.parse(json || '[]') as Array<Record<string, unknown>>;
  const xdp = items[0]?.xdp as Record<string, unknown> | undefined;
  if (!xdp) return undefined;
  const prog = xdp.prog as Record<string, unknown> | undefined;
  if (prog && prog.id !== undefined) return Number(prog.id);
  const attached = xdp.attached as Array<Record<string, unknown>> | undefined;
  const first = attached?.[0]?.prog as Record<string, unknown> | undefined;
  return first?.id !== undefined ? Number(first.id) : undefined;
}

/** Id of the XDP program attached to an interface, if any. */
export function xdpProgramId(ifname: string, options: { netns?: Netns } = {}): number | undefined {
  const args = ['-j', 'link', 'show', 'dev', ifname];
  const out = options.netns ? options.netns.ip(args).stdout : run('ip', args).stdout;
  return parseXdpProgramId(out);
}
