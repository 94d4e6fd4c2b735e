// Compiles the test BPF objects with the package's own build tool and makes sure dist/ (used by the child
// processes of the exit-leak tests) is current.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildBpf } from '../src/build-tool.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function newestSource(): number {
  return Math.max(...readdirSync(join(root, 'src')).map((f) => statSync(join(root, 'src', f)).mtimeMs));
}

export default function setup(): void {
  buildBpf({ cwd: root, srcDir: 'test/fixtures', outDir: 'test/fixtures/dist' });
  const dist = join(root, 'dist', 'index.js');
  if (!existsSync(dist) || statSync(dist).mtimeMs < newestSource()) {
    const r = spawnSync('npx', ['tsup'], { cwd: root, stdio: 'inherit' });
    if (r.status !== 0) throw new Error('building dist/ for the kernel tests failed');
  }
}
