// Throwaway cgroup v2 directories for cgroup program tests.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { run, type CommandResult, type RunOptions } from './exec.js';
import { uniqueName } from './names.js';

/** Mount points of cgroup2 listed in a /proc/self/mountinfo text, in order. */
export function parseCgroup2Mounts(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split('\n')) {
    const sep = line.indexOf(' - ');
    if (sep < 0) continue;
    const fsType = line.slice(sep + 3).split(' ')[0];
    if (fsType === 'cgroup2') out.push(line.split(' ')[4] ?? '');
  }
  return out.filter(Boolean);
}

/** Where cgroup v2 is mounted (/sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid ones). */
export function cgroup2Root(): string | undefined {
  const mounts = parseCgroup2Mounts(readFileSync('/proc/self/mountinfo', 'utf8'));
  return mounts.find((m) => m === '/sys/fs/cgroup') ?? mounts[0];
}

/** A child cgroup made for one test. */
export class Cgroup {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Creates `<cgroup2 root>/<prefix><unique>`. */
  static create(prefix = 'retina-test-'): Cgroup {
    const root = cgroup2Root();
    if (!root) throw new Error('no cgroup2 mount found in /proc/self/mountinfo');
    const path = join(root, uniqueName(prefix, 48));
    mkdirSync(path);
    return new Cgroup(path);
  }

  /** Runs a command whose process starts inside this cgroup. */
  run(command: string, args: readonly string[], options: RunOptions = {}): CommandResult {
    const procs = join(this.path, 'cgroup.procs');
    return run('sh', ['-c', `echo $$ > '${procs}' && exec "$0" "$@"`, command, ...args], options);
  }

  /** Removes the directory (its processes must have exited); idempotent. */
  destroy(): void {
    if (existsSync(this.path)) {
      // Move any straggler back to the root so rmdir cannot fail with EBUSY.
      const procs = readFileSync(join(this.path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
      const rootProcs = join(this.path, '..', 'cgroup.procs');
      for (const pid of procs) {
        try {
          writeFileSync(rootProcs, pid);
        } catch {
          // The process exited meanwhile.
        }
      }
      rmdirSync(this.path);
    }
  }
}

/** Creates a uniquely named cgroup v2 directory. */
export function createCgroup(prefix?: string): Cgroup {
  return Cgroup.create(prefix);
}
