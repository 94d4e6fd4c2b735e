// Gating for kernel tests: they run as root against the real kernel; elsewhere they skip with the reason, except
// under RETINA_REQUIRE_BPF=1 (CI), where a missing capability is a failure instead of a silent skip.
import { describe, it } from 'vitest';

import { commandExists, run } from './exec.js';

/** Whether kernel tests can run here, and why not. */
export interface KernelSupport {
  ok: boolean;
  reason?: string;
}

/** Options of kernelTestSupport(). */
export interface KernelSupportOptions {
  /** Also needs bpftool and a bpf() syscall the kernel accepts (default true); false: namespaces only. */
  bpf?: boolean;
}

const cached = new Map<boolean, KernelSupport>();

/** True when RETINA_REQUIRE_BPF=1: kernel tests must run and fail rather than skip. */
export function bpfRequired(): boolean {
  return process.env.RETINA_REQUIRE_BPF === '1';
}

/**
 * Checks the basics every kernel test needs: Linux, root, tc/ip, and unless `bpf: false`, bpftool and a bpf()
 * syscall the kernel accepts.
 */
export function kernelTestSupport(options: KernelSupportOptions = {}): KernelSupport {
  const bpf = options.bpf ?? true;
  let support = cached.get(bpf);
  if (support) return support;
  if (process.platform !== 'linux')
    support = { ok: false, reason: `kernel tests need Linux (this is ${process.platform})` };
  else if (process.getuid?.() !== 0) support = { ok: false, reason: 'kernel tests need root' };
  else if (bpf && !commandExists('bpftool'))
    support = { ok: false, reason: 'bpftool not found (apt-get install -y bpftool)' };
  else if (!commandExists('tc') || !commandExists('ip'))
    support = { ok: false, reason: 'tc/ip not found (apt-get install -y iproute2)' };
  else if (bpf) {
    const probe = run('bpftool', ['-j', 'prog', 'show'], { allowFailure: true });
    support =
      probe.status === 0
        ? { ok: true }
        : { ok: false, reason: `the kernel refused bpf(): ${probe.stderr.trim()}` };
  } else support = { ok: true };
  cached.set(bpf, support);
  return support;
}

/** Options of describeKernel(). */
export interface DescribeKernelOptions extends KernelSupportOptions {
  /** Extra requirement check: returns a reason when the suite cannot run (e.g. a missing program type). */
  requires?: () => string | undefined;
}

function unmetReason(options: DescribeKernelOptions): string | undefined {
  const support = kernelTestSupport(options);
  if (!support.ok) return support.reason;
  return options.requires?.();
}

/**
 * A describe() block for kernel tests: runs normally when the kernel is usable; otherwise it is skipped with the
 * reason in its title, or, under RETINA_REQUIRE_BPF=1, replaced by one failing test that states the reason.
 */
export function describeKernel(name: string, fn: () => void, options: DescribeKernelOptions = {}): void {
  const reason = unmetReason(options);
  if (reason === undefined) {
    describe(name, fn);
  } else if (bpfRequired()) {
    describe(name, () => {
      it('has the kernel support it needs', () => {
        throw new Error(`RETINA_REQUIRE_BPF=1 but ${reason}`);
      });
    });
  } else {
    describe.skip(`${name} (skipped: ${reason})`, fn);
  }
}

/** Minimal view of vitest's test context used by requireBpfOrSkip(). */
export interface SkippableContext {
  skip(note?: string): void;
}

/**
 * For use inside a test: skips it (with the reason) when the kernel is not usable, or throws under
 * RETINA_REQUIRE_BPF=1. `extraReason` lets the caller add its own unmet requirement.
 */
export function requireBpfOrSkip(ctx: SkippableContext, extraReason?: string): void {
  const support = kernelTestSupport();
  const reason = support.ok ? extraReason : support.reason;
  if (reason === undefined) return;
  if (bpfRequired()) throw new Error(`RETINA_REQUIRE_BPF=1 but ${reason}`);
  ctx.skip(reason);
}
