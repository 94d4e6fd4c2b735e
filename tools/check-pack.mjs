#!/usr/bin/env node
// Checks what `npm pack` would publish for every public package: dist/ with JS and type declarations, README,
// LICENSE, compiled BPF objects for packages that have BPF sources, nothing from src/ or test/, and no README link to
// a file the tarball does not carry.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, posix } from 'node:path';

const root = new URL('..', import.meta.url).pathname;

/**
 * Relative links of a package README that point at nothing in its tarball (on npm they would be dead): inline
 * `[text](target)` and reference `[label]: target` links; absolute URLs and in-page anchors are fine.
 */
function deadReadmeLinks(dir, files) {
  const readme = join(dir, 'README.md');
  if (!existsSync(readme)) return [];
  const text = readFileSync(readme, 'utf8').replace(/```[\s\S]*?```/g, '');
  const targets = [
    ...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]),
    ...[...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm)].map((m) => m[1]),
  ];
  const dead = [];
  for (const target of targets) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
    const path = posix.normalize(target.split('#')[0].replace(/^\.\//, '')).replace(/\/$/, '');
    if (path === '' || path === '.') continue;
    const inside = !path.startsWith('..') && files.some((f) => f === path || f.startsWith(`${path}/`));
    if (!inside) dead.push(target);
  }
  return dead;
}
const problems = [];
let checked = 0;

for (const name of readdirSync(join(root, 'packages')).sort()) {
  const dir = join(root, 'packages', name);
  if (!existsSync(join(dir, 'package.json'))) continue;
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (pkg.private) continue;
  const [report] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: dir, encoding: 'utf8' }));
  const files = report.files.map((f) => f.path);
  const need = (ok, what) => ok || problems.push(`${pkg.name}: ${what}`);
  need(files.includes('README.md'), 'README.md missing from the tarball');
  need(files.includes('LICENSE'), 'LICENSE missing from the tarball');
  need(pkg.license === 'MIT', `license is ${pkg.license}, expected MIT`);
  need(files.some((f) => f.startsWith('dist/') && f.endsWith('.js')), 'no JavaScript under dist/');
  need(files.some((f) => f.startsWith('dist/') && f.endsWith('.d.ts')), 'no type declarations under dist/');
  need(!files.some((f) => /^(src|test)\//.test(f) || /\.test\.[jt]s$/.test(f)), 'sources or tests would be published');
  if (existsSync(join(dir, 'bpf'))) {
    for (const c of readdirSync(join(dir, 'bpf')).filter((f) => f.endsWith('.bpf.c'))) {
      const obj = `dist/bpf/${c.replace(/\.c$/, '.o')}`;
      need(files.includes(obj), `${obj} (compiled from bpf/${c}) missing from the tarball`);
    }
  }
  for (const link of deadReadmeLinks(dir, files)) problems.push(`${pkg.name}: README links to ${link}, which is not in the tarball`);
  if (pkg.retina?.plugin) need(typeof pkg.retina.plugin === 'string', 'retina.plugin must be a string');
  checked++;
  console.log(`pack ok? ${pkg.name}@${pkg.version}: ${files.length} files, ${report.unpackedSize} bytes unpacked`);
}

if (problems.length) {
  console.error(`\ncheck-pack: ${problems.length} problem(s):\n  ` + problems.join('\n  '));
  process.exit(1);
}
console.log(`check-pack: ${checked} packages publish dist, types, README and LICENSE only`);
