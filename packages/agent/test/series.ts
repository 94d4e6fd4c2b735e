/** Reading the agent from the outside in kernel tests: the BPF links and programs a process holds. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The fdinfo text of each descriptor the process `pid` holds (descriptors closed meanwhile are skipped). */
function fdinfos(pid: number): string[] {
  const dir = `/proc/${pid}/fdinfo`;
  const out: string[] = [];
  for (const fd of readdirSync(dir)) {
    try {
      out.push(readFileSync(join(dir, fd), 'utf8'));
    } catch {
      // the descriptor closed meanwhile
    }
  }
  return out;
}

const fdField = (text: string, key: string): string | undefined =>
  new RegExp(`^${key}:\\s+(\\S+)`, 'm').exec(text)?.[1];

/** The tcx link ids the process `pid` holds on interface `ifindex`, read from its fdinfo. */
export function tcxLinksOf(pid: number, ifindex: number): number[] {
  const ids: number[] = [];
  for (const text of fdinfos(pid)) {
    if (fdField(text, 'link_type') !== 'tcx' || Number(fdField(text, 'ifindex')) !== ifindex) continue;
    ids.push(Number(fdField(text, 'link_id')));
  }
  return ids.sort((x, y) => x - y);
}

/** The BPF link and program ids the process `pid` holds, read from its fdinfo. */
export function bpfHandlesOf(pid: number): { links: number[]; programs: number[] } {
  const links: number[] = [];
  const programs: number[] = [];
  for (const text of fdinfos(pid)) {
    const link = fdField(text, 'link_id');
    const prog = fdField(text, 'prog_id');
    if (link !== undefined) links.push(Number(link));
    else if (prog !== undefined) programs.push(Number(prog));
  }
  return { links: links.sort((x, y) => x - y), programs: programs.sort((x, y) => x - y) };
}
