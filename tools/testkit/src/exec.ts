import { spawnSync } from 'node:child_process';

/** Result of a finished command. */
export interface CommandResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** A command that failed; the message carries the command line and its stderr. */
export class CommandError extends Error {
  readonly result: CommandResult;
  constructor(command: string, result: CommandResult) {
    super(`\`${command}\` exited with ${result.status}: ${(result.stderr || result.stdout).trim()}`);
    this.name = 'CommandError';
    this.result = result;
  }
}

/** Options of run(). */
export interface RunOptions {
  /** Network namespace name to run in (`ip netns exec`). */
  netns?: string;
  /** Return the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  /** Data for stdin. */
  input?: string;
  /** Milliseconds before the command is killed (default 30 s). */
  timeoutMs?: number;
  /** Working directory of the command. */
  cwd?: string;
}

/** Runs a command synchronously (optionally inside a network namespace) and returns its output. */
export function run(command: string, args: readonly string[], options: RunOptions = {}): CommandResult {
  const [file, argv] = options.netns
    ? ['ip', ['netns', 'exec', options.netns, command, ...args]]
    : [command, args];
  const r = spawnSync(file, argv, {
    encoding: 'utf8',
    input: options.input,
    timeout: options.timeoutMs ?? 30_000,
    maxBuffer: 64 * 1024 * 1024,
    ...(options.cwd ? { cwd: options.cwd } : {}),
  });
  const result: CommandResult = {
    status: r.status ?? (r.error ? 127 : 1),
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? (r.error ? String(r.error) : ''),
  };
  if (result.status !== 0 && !options.allowFailure) {
    throw new CommandError([file, ...argv].join(' '), result);
  }
  return result;
}

/** True when `command` can be executed (found on PATH). */
export function commandExists(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
}
