// Leak checks: what BPF programs, links, TC filters and XDP programs the kernel still holds, read through the
// standard tools (bpftool, tc, ip) so the check does not trust the library under test.
import { readdirSync, readFileSync } from 'node:fs';

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

/** Ids of the BPF objects one process holds file descriptors to. */
export interface BpfHeld {
  programs: number[];
  maps: number[];
  links: number[];
}

/** Parses the text of one /proc/<pid>/fdinfo/<fd> into the BPF ids it names (`link_id` also names its program). */
export function parseBpfFdinfo(text: string): { prog?: number; map?: number; link?: number } {
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s*(\\d+)$`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  };
  const out: { prog?: number; map?: number; link?: number } = {};
  const prog = field('prog_id');
  const map = field('map_id');
  const link = field('link_id');
  if (prog !== undefined) out.prog = prog;
  if (map !== undefined) out.map = map;
  if (link !== undefined) out.link = link;
  return out;
}

/**
 * The BPF programs, maps and links process `pid` (default: this one) holds descriptors to, from /proc/<pid>/fdinfo.
 * A leak check that starts from these ids compares what this test loaded, not every program of a name, so BPF work
 * of other processes on the machine cannot make it fail.
 */
export function bpfHeldBy(pid: number = process.pid): BpfHeld {
  const held: BpfHeld = { programs: [], maps: [], links: [] };
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fdinfo`);
  } catch {
    return held; // the process is gone
  }
  for (const fd of fds) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'latin1');
    } catch {
      continue; // closed meanwhile
    }
    const ids = parseBpfFdinfo(text);
    if (ids.link !== undefined) held.links.push(ids.link);
    if (ids.prog !== undefined) held.programs.push(ids.prog);
    else if (ids.map !== undefined) held.maps.push(ids.map);
  }
  const uniq = (xs: number[]): number[] => [...new Set(xs)].sort((a, b) => a - b);
  return { programs: uniq(held.programs), maps: uniq(held.maps), links: uniq(held.links) };
}

/** Loaded programs whose name starts with `prefix` that process `pid` (default: this one) holds. */
export function programsHeldBy(prefix: string, pid: number = process.pid): BpfProgramInfo[] {
  const held = new Set(bpfHeldBy(pid).programs);
  return listBpfPrograms().filter((p) => held.has(p.id) && p.name.startsWith(prefix));
}

/**
 * For each of `ids` still loaded: its name and the processes holding a descriptor to it. A program no process holds
 * is kept by an attachment (a leaked TC filter, a pinned object); one held by a process is that process's business.
 */
export function programHolders(ids: readonly number[]): Array<{ id: number; name: string; pids: number[] }> {
  const loaded = new Map(listBpfPrograms().map((p) => [p.id, p.name]));
  const left = ids.filter((id) => loaded.has(id));
  if (left.length === 0) return [];
  const holders = new Map<number, number[]>(left.map((id) => [id, []]));
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    for (const id of bpfHeldBy(pid).programs) holders.get(id)?.push(pid);
  }
  return left.map((id) => ({ id, name: loaded.get(id) ?? '', pids: holders.get(id) ?? [] }));
}
