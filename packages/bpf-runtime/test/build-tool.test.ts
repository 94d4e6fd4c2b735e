import { existsSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { buildBpf, clangArgs, parseDepFile, runtimeIncludeDir } from '../src/build-tool.js';
import { scratchDir } from './scratch.js';

describe('parseDepFile', () => {
  it('reads prerequisites across continuation lines and escaped spaces', () => {
    const text =
      'out.o: /src/a.bpf.c /inc/retina/common.h \\\n  /usr/include/linux/bpf.h /dir\\ with\\ space/x.h\n';
    expect(parseDepFile(text)).toEqual([
      '/src/a.bpf.c',
      '/inc/retina/common.h',
      '/usr/include/linux/bpf.h',
      '/dir with space/x.h',
    ]);
  });
});

describe('clangArgs', () => {
  it('targets BPF with BTF and the architecture define', () => {
    const args = clangArgs('/p/bpf/x.bpf.c', ['/inc'], { arch: 'arm64' });
    expect(args.slice(0, 4)).toEqual(['-target', 'bpf', '-O2', '-g']);
    expect(args).toContain('-D__TARGET_ARCH_arm64');
    expect(args).toContain('/inc');
    expect(args.slice(-2)).toEqual(['-c', '/p/bpf/x.bpf.c']);
    expect(() => clangArgs('x', [], { arch: 'sparc' })).toThrow(/unsupported target architecture 'sparc'/);
  });
});

describe('buildBpf', () => {
  const dir = scratchDir('retina-bpf-build-');

  it('compiles bpf/*.bpf.c to dist/bpf/*.bpf.o with BTF, then skips up-to-date outputs', () => {
    mkdirSync(join(dir, 'bpf'));
    writeFileSync(join(dir, 'bpf', 'local.h'), '#define VERDICT TC_ACT_OK\n');
    writeFileSync(
      join(dir, 'bpf', 'mini.bpf.c'),
      '#include "retina/common.h"\n#include "local.h"\nRETINA_LICENSE("GPL");\nSEC("tc") int mini(struct __sk_buff *skb) { return VERDICT; }\n',
    );
    const first = buildBpf({ cwd: dir });
    expect(first.map((r) => r.status)).toEqual(['built']);
    const out = join(dir, 'dist', 'bpf', 'mini.bpf.o');
    const elf = readFileSync(out);
    expect(elf.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    expect(elf.includes(Buffer.from('.BTF'))).toBe(true);

    expect(buildBpf({ cwd: dir }).map((r) => r.status)).toEqual(['up-to-date']);

    // Touching an included header makes the object stale again.
    const later = new Date(statSync(out).mtimeMs + 2000);
    writeFileSync(join(dir, 'bpf', 'local.h'), '#define VERDICT TC_ACT_SHOT\n');
    utimesSync(join(dir, 'bpf', 'local.h'), later, later);
    expect(buildBpf({ cwd: dir }).map((r) => r.status)).toEqual(['built']);
  });

  it('reports compile errors with the file name', () => {
    writeFileSync(join(dir, 'bpf', 'broken.bpf.c'), 'int x = ;\n');
    expect(() => buildBpf({ cwd: dir })).toThrow(/clang failed on bpf\/broken\.bpf\.c/);
    rmSync(join(dir, 'bpf', 'broken.bpf.c'));
  });

  it('names the Debian package when clang is missing', () => {
    expect(() => buildBpf({ cwd: dir, clang: 'clang-does-not-exist' })).toThrow(
      /install the Debian package clang/,
    );
  });

  it('ships the shared headers', () => {
    expect(existsSync(join(runtimeIncludeDir(), 'retina', 'common.h'))).toBe(true);
    expect(existsSync(join(runtimeIncludeDir(), 'retina', 'kernel.h'))).toBe(true);
  });
});
