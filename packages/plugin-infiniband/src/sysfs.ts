/**
 * Reading InfiniBand statistics from sysfs, the layout the kernel's RDMA core and IPoIB drivers create:
 *
 *   <sysfs>/class/infiniband/<device>/ports/<port>/counters/<counter>   port counters (one decimal number per file)
 *   <sysfs>/class/net/<ib interface>/debug/<parameter>                  IPoIB status parameters
 *
 * Device and interface entries are symbolic links into `devices/`; they are followed. Only interfaces whose name
 * starts with `ib` are read for status parameters, as Retina does.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';

/** Prefix of the IPoIB interface names whose `debug/` parameters are read. */
export const IB_INTERFACE_PREFIX = 'ib';

/** One port counter: `infiniband_counter_stats{statistic_name, device, port}`. */
export interface CounterSample {
  name: string;
  device: string;
  port: string;
  value: number;
}

/** One status parameter: `infiniband_status_params{statistic_name, interface_name}`. */
export interface StatusSample {
  name: string;
  iface: string;
  value: number;
}

/** What one read found. */
export interface InfinibandSnapshot {
  counters: CounterSample[];
  statusParams: StatusSample[];
  /** Files or folders that could not be read or parsed, as `path: reason` (relative to the sysfs root). */
  problems: string[];
  /** Series left out because `maxSeries` was reached. */
  truncated: number;
}

/** A sysfs counter file's text as a number: one unsigned decimal, white space around it allowed. */
export function parseSysfsValue(text: string): number | undefined {
  const t = text.trim();
  if (!/^\d{1,20}$/.test(t)) return undefined;
  return Number(t);
}

/** Names in a folder, sorted (so truncation and output order are stable); undefined when it cannot be listed. */
async function list(dir: string, problems: string[], root: string, required: boolean): Promise<string[] | undefined> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (required || code !== 'ENOENT') problems.push(`${path.relative(root, dir) || '.'}: ${code ?? (err as Error).message}`);
    return undefined;
  }
}

async function readValue(file: string, problems: string[], root: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    // Some drivers list counters whose read fails (EINVAL, EOPNOTSUPP) on hardware without them.
    problems.push(`${path.relative(root, file)}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return undefined;
  }
  const value = parseSysfsValue(text);
  if (value === undefined) problems.push(`${path.relative(root, file)}: ${JSON.stringify(text.trim().slice(0, 40))} is not a counter value`);
  return value;
}

/**
 * Reads every port counter and IPoIB status parameter under `sysfsRoot`, at most `maxSeries` of them. A missing
 * `class/infiniband` means no devices (no problem is reported for it); unreadable files are skipped and listed.
 */
export async function readInfiniband(sysfsRoot: string, maxSeries: number): Promise<InfinibandSnapshot> {
  const problems: string[] = [];
  const counters: CounterSample[] = [];
  const statusParams: StatusSample[] = [];
  let budget = maxSeries;
  let truncated = 0;
  const take = (n: number): number => {
    const granted = Math.min(n, budget);
    budget -= granted;
    truncated += n - granted;
    return granted;
  };

  /** The value files of `dir` the budget grants, each with its value when it reads. */
  const readFolder = async (dir: string, required: boolean): Promise<Array<{ name: string; value: number }>> => {
    const names = (await list(dir, problems, sysfsRoot, required)) ?? [];
    const wanted = names.slice(0, take(names.length));
    const values = await Promise.all(wanted.map((n) => readValue(path.join(dir, n), problems, sysfsRoot)));
    return wanted.flatMap((name, i) => {
      const value = values[i];
      return value === undefined ? [] : [{ name, value }];
    });
  };

  const ibRoot = path.join(sysfsRoot, 'class', 'infiniband');
  for (const device of (await list(ibRoot, problems, sysfsRoot, false)) ?? []) {
    const portsDir = path.join(ibRoot, device, 'ports');
    for (const port of (await list(portsDir, problems, sysfsRoot, true)) ?? []) {
      for (const { name, value } of await readFolder(path.join(portsDir, port, 'counters'), true)) {
        counters.push({ name, device, port, value });
      }
    }
  }

  const netRoot = path.join(sysfsRoot, 'class', 'net');
  for (const iface of (await list(netRoot, problems, sysfsRoot, false)) ?? []) {
    if (!iface.startsWith(IB_INTERFACE_PREFIX)) continue;
    for (const { name, value } of await readFolder(path.join(netRoot, iface, 'debug'), false)) {
      statusParams.push({ name, iface, value });
    }
  }
  return { counters, statusParams, problems, truncated };
}
