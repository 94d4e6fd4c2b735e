// The `retina-bpf build` tool: compiles a package's bpf/*.bpf.c into dist/bpf/*.bpf.o with clang (CO-RE, BTF).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A build problem with a message that says what to do. */
export class BpfBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BpfBuildError';
  }
}

/** Options of buildBpf(). */
export interface BuildOptions {
  /** Package directory (default: process.cwd()). */
  cwd?: string;
  /** Directory with *.bpf.c sources, relative to cwd (default `bpf`). */
  srcDir?: string;
  /** Output directory, relative to cwd (default `dist/bpf`). */
  outDir?: string;
  /** clang binary (default `clang`, or $RETINA_BPF_CLANG). */
  clang?: string;
  /** Target architecture as Node names it (default process.arch); selects __TARGET_ARCH_*. */
  arch?: string;
  /** BPF ISA version passed as -mcpu (default `v3`: Linux 5.1+). */
  cpu?: string;
  /** Extra include directories. */
  includeDirs?: readonly string[];
  /** Extra clang flags (e.g. -DDEBUG). */
  extraFlags?: readonly string[];
  /** Generate vmlinux.h from the build machine's kernel BTF and put it on the include path. */
  vmlinux?: boolean;
  /** Rebuild even when outputs are up to date. */
  force?: boolean;
  /** Keep DWARF debug info (by default it is stripped when llvm-strip is available; BTF is kept either way). */
  keepDebugInfo?: boolean;
  /** Progress messages (default: none). */
  log?: (message: string) => void;
}

/** What happened to one source file. */
export interface BuildResult {
  source: string;
  output: string;
  status: 'built' | 'up-to-date';
}

const TARGET_ARCH: Record<string, { define: string; multiarch: string }> = {
  x64: { define: 'x86', multiarch: 'x86_64-linux-gnu' },
  arm64: { define: 'arm64', multiarch: 'aarch64-linux-gnu' },
  arm: { define: 'arm', multiarch: 'arm-linux-gnueabihf' },
  s390x: { define: 's390', multiarch: 's390x-linux-gnu' },
  ppc64: { define: 'powerpc', multiarch: 'powerpc64le-linux-gnu' },
  riscv64: { define: 'riscv', multiarch: 'riscv64-linux-gnu' },
  loong64: { define: 'loongarch', multiarch: 'loongarch64-linux-gnu' },
};

/** This package's shared BPF headers (include/retina/*.h). */
export function runtimeIncludeDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'include');
}

/** Parses a make-style dependency file (clang -MD) into the list of prerequisites. */
export function parseDepFile(text: string): string[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  const colon = joined.indexOf(': ');
  const body = colon >= 0 ? joined.slice(colon + 2) : joined;
  const deps: string[] = [];
  let current = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch === '\\' && body[i + 1] === ' ') {
      current += ' ';
      i++;
    } else if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r') {
      if (current) deps.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  if (current) deps.push(current);
  return deps;
}

/** The clang arguments (without -MD/-MF/-o) used for one source. */
export function clangArgs(source: string, includeDirs: readonly string[], opts: BuildOptions): string[] {
  const arch = opts.arch ?? process.arch;
  const target = TARGET_ARCH[arch];
  if (!target) {
    throw new BpfBuildError(
      `unsupported target architecture '${arch}'; known: ${Object.keys(TARGET_ARCH).join(', ')}`,
    );
  }
  const args = [
    '-target',
    'bpf',
    '-O2',
    '-g',
    `-mcpu=${opts.cpu ?? 'v3'}`,
    '-Wall',
    '-Wno-unused-function',
    `-D__TARGET_ARCH_${target.define}`,
    ...includeDirs.flatMap((d) => ['-I', d]),
  ];
  // asm/*.h of the UAPI headers live in the multiarch directory on Debian-style systems.
  const multiarch = join('/usr/include', target.multiarch);
  if (existsSync(multiarch)) args.push('-idirafter', multiarch);
  args.push(...(opts.extraFlags ?? []), '-c', source);
  return args;
}

function checkToolchain(clang: string): void {
  const probe = spawnSync(clang, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new BpfBuildError(
      `clang not found (tried '${clang}'): install the Debian package clang (apt-get install -y clang), or set RETINA_BPF_CLANG`,
    );
  }
  if (!existsSync('/usr/include/bpf/bpf_helpers.h') && !existsSync('/usr/local/include/bpf/bpf_helpers.h')) {
    throw new BpfBuildError(
      "libbpf's BPF headers (bpf/bpf_helpers.h) not found: install the Debian package libbpf-dev",
    );
  }
  if (!existsSync('/usr/include/linux/bpf.h')) {
    throw new BpfBuildError(
      'Linux UAPI headers (linux/bpf.h) not found: install the Debian package linux-libc-dev',
    );
  }
}

function findTool(names: readonly string[]): string | undefined {
  return names.find((n) => {
    const r = spawnSync(n, ['--version'], { encoding: 'utf8' });
    return !r.error && r.status === 0;
  });
}

/** Writes vmlinux.h for the running kernel (bpftool btf dump) to `outFile`. */
export function generateVmlinuxHeader(outFile: string, btfPath = '/sys/kernel/btf/vmlinux'): void {
  if (!existsSync(btfPath)) {
    throw new BpfBuildError(
      `${btfPath} not found: the build machine's kernel has no BTF (CONFIG_DEBUG_INFO_BTF)`,
    );
  }
  const dump = spawnSync('bpftool', ['btf', 'dump', 'file', btfPath, 'format', 'c'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (dump.error) throw new BpfBuildError('bpftool not found: install the Debian package bpftool');
  if (dump.status !== 0) throw new BpfBuildError(`bpftool btf dump failed: ${dump.stderr.trim()}`);
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(`${outFile}.tmp`, dump.stdout);
  renameSync(`${outFile}.tmp`, outFile);
}

function upToDate(output: string, depFile: string, stampFile: string, stamp: string): boolean {
  if (!existsSync(output) || !existsSync(depFile) || !existsSync(stampFile)) return false;
  if (readFileSync(stampFile, 'utf8') !== stamp) return false;
  const builtAt = statSync(output).mtimeMs;
  return parseDepFile(readFileSync(depFile, 'utf8')).every(
    (dep) => existsSync(dep) && statSync(dep).mtimeMs <= builtAt,
  );
}

/** Compiles every `<srcDir>/*.bpf.c` into `<outDir>/<name>.bpf.o`; skips outputs newer than all their inputs. */
export function buildBpf(options: BuildOptions = {}): BuildResult[] {
  const cwd = resolve(options.cwd ?? process.cwd());
  const srcDir = resolve(cwd, options.srcDir ?? 'bpf');
  const outDir = resolve(cwd, options.outDir ?? 'dist/bpf');
  const log = options.log ?? (() => undefined);
  if (!existsSync(srcDir)) throw new BpfBuildError(`source directory ${srcDir} does not exist (set --src)`);
  const sources = readdirSync(srcDir)
    .filter((f) => f.endsWith('.bpf.c'))
    .sort();
  if (sources.length === 0) {
    log(`no *.bpf.c files in ${relative(cwd, srcDir) || '.'}`);
    return [];
  }
  const clang = options.clang ?? process.env.RETINA_BPF_CLANG ?? 'clang';
  checkToolchain(clang);

  // Dependency files and stamps stay out of outDir, which is shipped in the npm tarball.
  const cacheDir = join(
    cwd,
    'node_modules',
    '.cache',
    'retina-bpf',
    createHash('sha1').update(outDir).digest('hex').slice(0, 12),
  );
  mkdirSync(cacheDir, { recursive: true });
  mkdirSync(outDir, { recursive: true });

  const includeDirs = [
    runtimeIncludeDir(),
    srcDir,
    ...(options.includeDirs ?? []).map((d) => resolve(cwd, d)),
  ];
  if (options.vmlinux) {
    const header = join(cacheDir, 'vmlinux', 'vmlinux.h');
    if (options.force || !existsSync(header)) {
      log('generating vmlinux.h from /sys/kernel/btf/vmlinux');
      generateVmlinuxHeader(header);
    }
    includeDirs.push(dirname(header));
  }
  const strip = options.keepDebugInfo
    ? undefined
    : findTool(['llvm-strip', 'llvm-strip-14', 'llvm-strip-15']);

  const results: BuildResult[] = [];
  for (const file of sources) {
    const source = join(srcDir, file);
    const output = join(outDir, file.replace(/\.c$/, '.o'));
    const depFile = join(cacheDir, `${file}.d`);
    const stampFile = join(cacheDir, `${file}.flags`);
    const args = clangArgs(source, includeDirs, options);
    const stamp = JSON.stringify({ clang, args, strip: strip ?? null });
    if (!options.force && upToDate(output, depFile, stampFile, stamp)) {
      results.push({ source, output, status: 'up-to-date' });
      continue;
    }
    log(`clang ${relative(cwd, source)} -> ${relative(cwd, output)}`);
    const tmp = `${output}.tmp`;
    const cc = spawnSync(clang, [...args, '-MD', '-MF', depFile, '-o', tmp], { encoding: 'utf8' });
    if (cc.status !== 0) {
      throw new BpfBuildError(
        `clang failed on ${relative(cwd, source)}:\n${(cc.stderr || cc.stdout || String(cc.error)).trim()}`,
      );
    }
    if (strip) {
      // Drops DWARF only; .BTF and .BTF.ext (what libbpf and the verifier use) stay.
      const st = spawnSync(strip, ['-g', tmp], { encoding: 'utf8' });
      if (st.status !== 0) throw new BpfBuildError(`${strip} -g failed on ${tmp}: ${st.stderr.trim()}`);
    }
    renameSync(tmp, output);
    writeFileSync(stampFile, stamp);
    results.push({ source, output, status: 'built' });
  }
  return results;
}
