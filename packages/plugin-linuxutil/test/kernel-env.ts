/**
 * Gating for kernel tests: they need root, iproute2 and ethtool. Without them the tests skip with the reason, except
 * under RETINA_REQUIRE_BPF=1, where a missing capability is a failure.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** True when kernel tests must run (CI on a capable machine). */
export const KERNEL_REQUIRED = process.env.RETINA_REQUIRE_BPF === '1';

/** Runs a command, returning its stdout; throws with its stderr on failure. */
export function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.trim() || e.message}`);
  }
}

/** Why kernel tests cannot run here, or undefined when they can. */
export function kernelSkipReason(): string | undefined {
  if (process.platform !== 'linux') return 'kernel tests need Linux';
  if (process.getuid?.() !== 0) return 'kernel tests need root (network namespaces, veth pairs)';
  for (const [tool, versionFlag, pkg] of [
    ['ip', '-V', 'iproute2'],
    ['ethtool', '--version', 'ethtool'],
  ] as const) {
    try {
      run(tool, [versionFlag]);
    } catch {
      return `kernel tests need the ${tool} command (Debian package ${pkg})`;
    }
  }
  // Root in a container may still lack the capabilities for namespaces and veth pairs: try once.
  const probe = `rlu-probe-${uniqueSuffix()}`;
  try {
    run('ip', ['netns', 'add', probe]);
    run('ip', ['-n', probe, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1']);
  } catch (err) {
    return `the kernel refused a network namespace or veth pair: ${(err as Error).message}`;
  } finally {
    try {
      run('ip', ['netns', 'del', probe]);
    } catch {
      // it was never created
    }
  }
  return undefined;
}

/** A short random suffix for names that must not collide with parallel test runs (interface names max 15 chars). */
export function uniqueSuffix(): string {
  return randomBytes(3).toString('hex');
}
