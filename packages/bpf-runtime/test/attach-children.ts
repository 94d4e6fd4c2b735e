// Child processes that attach programs of the test object and end (or keep running) without detaching, for the
// suites that check what an attachment leaves behind once its owner is gone.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

import { programsStillLoaded, waitFor } from '@retina-ts/testkit';

const ATTACH_AND_EXIT = fileURLToPath(new URL('./fixtures/attach-and-exit.mjs', import.meta.url));
const ATTACH_AND_COLLECT = fileURLToPath(new URL('./fixtures/attach-and-collect.mjs', import.meta.url));

/** The JSON line a child prints once it has attached. */
export interface ChildReport {
  pid: number;
  /** Link kinds attached (attach-and-exit only). */
  kinds?: string[];
  programIds: number[];
}

/** What fixtures/attach-and-exit.mjs attaches, where, and how it ends ('wait': when its stdin closes). */
export interface AttachOptions {
  netns: string;
  ifname: string;
  cgroup?: string;
  ending: 'exit' | 'throw' | 'signal' | 'kill' | 'wait';
  tcMode: 'both' | 'tcx' | 'clsact';
}

/** Runs fixtures/attach-and-exit.mjs to its end; its report and how it ended. */
export function runAttachAndExit(options: AttachOptions): {
  report: ChildReport;
  status: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
} {
  const r = spawnSync(process.execPath, [ATTACH_AND_EXIT, JSON.stringify(options)], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`child printed no report (status ${r.status}, signal ${r.signal}): ${r.stderr}`);
  return { report: JSON.parse(line) as ChildReport, status: r.status, signal: r.signal, stderr: r.stderr };
}

/**
 * Starts a child that attaches, reports and runs until its stdin closes: fixtures/attach-and-exit.mjs with ending
 * 'wait', or fixtures/attach-and-collect.mjs (which drops its object and collects garbage first). `inspect` runs
 * while the child lives; then the child's stdin is closed and its exit code returned once it has ended.
 */
export async function whileChildRuns(
  child: { collect: { netns: string; ifname: string } } | { attach: Omit<AttachOptions, 'ending'> },
  inspect: (report: ChildReport, process: ChildProcess) => Promise<void> | void,
): Promise<number | null> {
  const args =
    'collect' in child
      ? ['--expose-gc', ATTACH_AND_COLLECT, JSON.stringify(child.collect)]
      : [ATTACH_AND_EXIT, JSON.stringify({ ...child.attach, ending: 'wait' })];
  const proc = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const [line] = (await once(createInterface({ input: proc.stdout }), 'line')) as [string];
    await inspect(JSON.parse(line) as ChildReport, proc);
  } finally {
    proc.stdin.end();
    if (proc.exitCode === null) await once(proc, 'exit');
  }
  return proc.exitCode;
}

/** Waits until the kernel has freed every program the child reported: nothing it attached holds them any more. */
export async function programsFreed(report: ChildReport): Promise<void> {
  await waitFor(() => programsStillLoaded(report.programIds).length === 0, {
    description: `the programs of child ${report.pid} (${report.programIds.join(', ')}) to be freed`,
  });
}
