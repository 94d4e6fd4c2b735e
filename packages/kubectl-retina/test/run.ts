/** Runs the kubectl-retina program in-process with its output captured, as the tests read it. */
import { runProgram, type ProgramIO } from '../src/index.js';

/** What one run printed, line by line joined with newlines, and its exit code. */
export interface ProgramRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `args` with `io` (everything but the output, which is captured). */
export async function runCaptured(args: string[], io: Omit<ProgramIO, 'out' | 'err'> = {}): Promise<ProgramRun> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runProgram(args, { ...io, out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}
