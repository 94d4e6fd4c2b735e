/**
 * Node network metadata collected next to the pcap: addresses, neighbours, rules and routes, iptables and
 * nftables rules, socket summaries, interface statistics, conntrack counters, and copies of /proc/net and
 * /proc/sys/net. Each text file starts with the command and what it shows. A command that is missing or fails
 * is recorded in its file instead of failing the capture: metadata helps, the pcap is what was asked for.
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from '@retina-ts/core';

const execFileAsync = promisify(execFile);

/** One command and why it is there. */
export interface MetadataCommand {
  command: string;
  args: string[];
  description: string;
}

/** One output file made of several commands. */
export interface MetadataFile {
  file: string;
  commands: MetadataCommand[];
}

/** Which iptables backend's rules to dump. */
export type IptablesMode = 'legacy' | 'nft' | 'plain';

const cmd = (command: string, args: string[], description: string): MetadataCommand => ({ command, args, description });

/** The files and commands of the metadata, for an iptables mode and the commands present on the host. */
export function metadataPlan(iptables: IptablesMode | undefined, has: (command: string) => boolean): MetadataFile[] {
  const plan: MetadataFile[] = [
    {
      file: 'ip-resources.txt',
      commands: [
        cmd('ip', ['-d', '-j', 'addr', 'show'], 'IP addresses of every interface (JSON)'),
        cmd('ip', ['-d', '-j', 'neighbor', 'show'], 'neighbour (ARP/NDP) table (JSON)'),
        cmd('ip', ['rule', 'list'], 'IPv4 policy routing rules'),
        cmd('ip', ['-6', 'rule', 'list'], 'IPv6 policy routing rules'),
        cmd('ip', ['route', 'show', 'table', 'all'], 'IPv4 routes of all tables'),
        cmd('ip', ['-6', 'route', 'show', 'table', 'all'], 'IPv6 routes of all tables'),
      ],
    },
    {
      file: 'interface-stats.txt',
      commands: [cmd('ip', ['-s', '-s', '-d', 'link', 'show'], 'links with driver details and packet/error/drop counters')],
    },
    {
      file: 'socket-stats.txt',
      commands: [
        cmd('ss', ['-s'], 'socket summary'),
        cmd('ss', ['-tapionume'], 'TCP sockets with processes, timers, memory and internal TCP info'),
      ],
    },
  ];
  if (iptables) {
    const bin = iptables === 'plain' ? 'iptables' : `iptables-${iptables}`;
    plan.push({
      file: 'iptables-rules.txt',
      commands: [
        cmd(`${bin}-save`, [], `iptables rules (${iptables} backend) in save format`),
        cmd(bin, ['-vnx', '-L'], 'filter table with packet and byte counters'),
        cmd(bin, ['-vnx', '-L', '-t', 'nat'], 'nat table with counters'),
        cmd(bin, ['-vnx', '-L', '-t', 'mangle'], 'mangle table with counters'),
      ],
    });
  }
  if (has('nft')) {
    plan.push({ file: 'nftables-rules.txt', commands: [cmd('nft', ['list', 'ruleset'], 'the whole nftables ruleset')] });
  }
  if (has('conntrack')) {
    plan.push({
      file: 'conntrack-stats.txt',
      commands: [
        cmd('conntrack', ['-C'], 'number of conntrack entries'),
        cmd('conntrack', ['-S'], 'conntrack statistics per CPU'),
      ],
    });
  }
  return plan;
}

/** Whether a command is on PATH. */
export function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v "$1" >/dev/null 2>&1`, 'sh', command]).status === 0;
}

function countLines(command: string): number {
  const r = spawnSync(command, [], { encoding: 'utf8', timeout: 30_000, maxBuffer: 256 * 1024 * 1024 });
  return r.status === 0 ? r.stdout.split('\n').filter((l) => l.trim() !== '').length : -1;
}

/**
 * Picks the iptables backend whose save output has more lines (a tie goes to nft, the newer one), as the host's
 * rules live in one of them; `plain` when only `iptables-save` exists.
 */
export function chooseIptablesMode(has: (command: string) => boolean = commandExists, lines = countLines): IptablesMode | undefined {
  const legacy = has('iptables-legacy-save');
  const nft = has('iptables-nft-save');
  if (legacy && nft) return lines('iptables-legacy-save') > lines('iptables-nft-save') ? 'legacy' : 'nft';
  if (legacy) return 'legacy';
  if (nft) return 'nft';
  return has('iptables-save') ? 'plain' : undefined;
}

/** The text written for one command: a header naming it, then its output (or why there is none). */
export function formatCommandOutput(c: MetadataCommand, result: { stdout: string; stderr: string; error?: string }): string {
  const head = `# ${[c.command, ...c.args].join(' ')}\n# ${c.description}\n`;
  const body = result.stdout.endsWith('\n') || result.stdout === '' ? result.stdout : `${result.stdout}\n`;
  const err = result.error ? `# failed: ${result.error}${result.stderr.trim() ? `\n# ${result.stderr.trim().replace(/\n/g, '\n# ')}` : ''}\n` : '';
  return `${head}${body}${err}\n`;
}

async function runOne(c: MetadataCommand): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync(c.command, c.args, { timeout: 60_000, maxBuffer: 256 * 1024 * 1024 });
    return formatCommandOutput(c, { stdout, stderr });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: unknown; message: string };
    const why = e.code === 'ENOENT' ? `${c.command} is not installed` : e.message.split('\n')[0]!;
    return formatCommandOutput(c, { stdout: e.stdout ?? '', stderr: e.stderr ?? '', error: why });
  }
}

/**
 * Copies a /proc or /sys tree file by file (these files report size 0, so a plain copy of sizes would be empty);
 * unreadable entries (write-only knobs, vanished interfaces) are listed in `skipped`.
 */
export async function copyProcTree(src: string, dst: string, skipped: string[]): Promise<number> {
  let copied = 0;
  await mkdir(dst, { recursive: true });
  let entries;
  try {
    entries = await readdir(src, { withFileTypes: true });
  } catch (err) {
    skipped.push(`${src}: ${(err as Error).message}`);
    return 0;
  }
  for (const e of entries) {
    const from = join(src, e.name);
    const to = join(dst, e.name);
    if (e.isDirectory()) copied += await copyProcTree(from, to, skipped);
    else if (e.isFile()) {
      try {
        await writeFile(to, await readFile(from));
        copied++;
      } catch (err) {
        skipped.push(`${from}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    }
  }
  return copied;
}

/** Options of collectMetadata. */
export interface MetadataOptions {
  logger: Logger;
  /** Where /proc lives (tests may point elsewhere). */
  procRoot?: string;
  has?: (command: string) => boolean;
}

/** Writes every metadata file into `dir`; returns the names of the files and directories made. */
export async function collectMetadata(dir: string, options: MetadataOptions): Promise<string[]> {
  const has = options.has ?? commandExists;
  const proc = options.procRoot ?? '/proc';
  const made: string[] = [];
  for (const f of metadataPlan(chooseIptablesMode(has), has)) {
    const parts: string[] = [];
    for (const c of f.commands) parts.push(await runOne(c));
    await writeFile(join(dir, f.file), parts.join(''));
    made.push(f.file);
  }
  const skipped: string[] = [];
  for (const [src, name] of [
    [`${proc}/self/net`, 'proc-net'],
    [`${proc}/sys/net`, 'proc-sys-net'],
  ] as const) {
    const n = await copyProcTree(src, join(dir, name), skipped);
    options.logger.debug({ from: src, files: n }, 'copied proc tree');
    made.push(name);
  }
  if (skipped.length > 0) {
    await appendFile(join(dir, 'metadata-skipped.txt'), `# files that could not be read\n${skipped.join('\n')}\n`);
    made.push('metadata-skipped.txt');
  }
  options.logger.info({ files: made }, 'network metadata collected');
  return made;
}
