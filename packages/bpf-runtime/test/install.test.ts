// The install script's preflight: a missing header or build tool is reported with the Debian package to install.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { findMissing, includeDirs, missingMessage } from '../scripts/preflight.mjs';
import { scratchDir } from './scratch.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const scratch = scratchDir('rts-preflight-');

/** An include directory holding just these headers (empty files). */
function includeDirWith(...headers: string[]): string {
  const dir = mkdtempSync(join(scratch, 'include-'));
  for (const h of headers) {
    mkdirSync(join(dir, h, '..'), { recursive: true });
    writeFileSync(join(dir, h), '');
  }
  return dir;
}

const system = (dir: string, commands: string[]) => ({
  dirs: [dir],
  exists: existsSync,
  hasCommand: (name: string) => commands.includes(name),
});

describe('install preflight', () => {
  it('names the Debian package of each missing header', () => {
    const missing = findMissing(system(includeDirWith('bpf/libbpf.h'), ['make', 'g++', 'python3']));
    expect(missing.headers.map((h) => h.pkg)).toEqual(['libelf-dev', 'zlib1g-dev']);
    expect(missing.tools).toEqual([]);
    const message = missingMessage(missing) ?? '';
    expect(message).toContain('libelf.h, zlib.h not found');
    expect(message).toContain('apt-get install -y libelf-dev zlib1g-dev');
    expect(message).not.toContain('libbpf-dev');
  });

  it('names libbpf-dev when libbpf is missing, and the packages of missing tools', () => {
    const missing = findMissing(system(includeDirWith('libelf.h', 'zlib.h'), ['python3']));
    expect(missingMessage(missing)).toMatch(/apt-get install -y libbpf-dev make g\+\+$/);
  });

  it('says nothing when everything is there', () => {
    const missing = findMissing(
      system(includeDirWith('bpf/libbpf.h', 'libelf.h', 'zlib.h'), ['make', 'g++', 'python3']),
    );
    expect(missingMessage(missing)).toBeUndefined();
  });

  it('searches CPATH directories after the system ones', () => {
    expect(includeDirs('/opt/a::/opt/b')).toEqual(['/usr/include', '/usr/local/include', '/opt/a', '/opt/b']);
  });

  it('makes the install script stop with the packages to install', () => {
    // A PATH with nothing but a shell: make, g++ and python3 are missing.
    const bin = mkdtempSync(join(scratch, 'bin-'));
    symlinkSync('/bin/sh', join(bin, 'sh'));
    const r = spawnSync(process.execPath, [join(root, 'scripts', 'install.mjs')], {
      env: { PATH: bin },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('cannot build the native addon: make, g++, python3 not found');
    expect(r.stderr).toContain('apt-get install -y make g++ python3');
  });
});
