/** Interface names by index, read from sysfs, for the `interface` field of flows. */
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';

/** Reads `<root>/<name>/ifindex` for every interface under `root` (an unreadable entry is left out). */
export function readInterfaceIndexes(root = '/sys/class/net'): Map<number, string> {
  const out = new Map<number, string>();
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return out;
  }
  for (const name of names) {
    try {
      const index = Number.parseInt(readFileSync(path.join(root, name, 'ifindex'), 'utf8'), 10);
      if (Number.isInteger(index) && index > 0) out.set(index, name);
    } catch {
      // the interface went away while listing
    }
  }
  return out;
}

/**
 * Caches index → name. An unknown index triggers a re-read, at most once per `refreshMs`, so a pod interface
 * created after the last read is named on its first packets without sysfs being read for every record.
 */
export class InterfaceNames {
  #names = new Map<number, string>();
  #lastRead = Number.NEGATIVE_INFINITY;

  constructor(
    readonly read: () => Map<number, string> = () => readInterfaceIndexes(),
    readonly refreshMs = 5000,
    readonly now: () => number = () => performance.now(),
  ) {}

  /** Name of interface `index`, or undefined when it is not (or no longer) known. */
  name(index: number): string | undefined {
    const hit = this.#names.get(index);
    if (hit !== undefined) return hit;
    const t = this.now();
    if (t - this.#lastRead < this.refreshMs) return undefined;
    this.#lastRead = t;
    this.#names = this.read();
    return this.#names.get(index);
  }
}
