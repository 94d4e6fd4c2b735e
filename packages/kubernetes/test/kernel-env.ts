/**
 * Gating for kernel tests: they need Linux, root and iproute2 to make network namespaces and veth pairs. Without
 * them the tests skip with the reason, except under RETINA_REQUIRE_BPF=1, where that is a failure.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** True when kernel tests must run. */
export const KERNEL_REQUIRED = process.env.RETINA_REQUIRE_BPF === '1';

/** Runs a command and returns stdout; throws with its stderr. */
export function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Runs a command, ignoring failure (cleanup of things that may already be gone). */
export function tryRun(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' });
  } catch {
    // already gone
  }
}

/** A short random suffix so parallel runs do not collide (interface names have at most 15 characters). */
export function uniqueSuffix(): string {
  return randomBytes(3).toString('hex');
}

/** Why kernel tests cannot run here, or undefined when they can. */
export function kernelSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'kernel tests need Linux';
  if (process.getuid?.() !== 0) return 'kernel tests need root (network namespaces, veth pairs)';
  try {
    run('ip', ['-V']);
  } catch {
    return 'kernel tests need the ip command (Debian package iproute2)';
  }
  const probe = `rk8s-probe-${uniqueSuffix()}`;
  try {
    run('ip', ['netns', 'add', probe]);
    run('ip', ['-n', probe, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
  } catch (err) {
    return `the kernel refused a network namespace or veth pair: ${(err as Error).message}`;
  } finally {
    tryRun('ip', ['netns', 'del', probe]);
  }
  return undefined;
}
