#!/usr/bin/env node
/**
 * Fails when a file of the repository (source, tests, benches, tools, build and CI scripts) names a relative path
 * that climbs above the repository root from the file's own folder (as `new URL(path, import.meta.url)`,
 * `join(__dirname, ...)` or `$(dirname "$0")/...` do), so a fresh clone never depends on folders beside it.
 * A line may opt out with the marker `repo-paths: allow` (only CI's optional reference input does).
 *
 *   node tools/check-repo-paths.mjs [file...]     default: every tracked and untracked, not ignored file
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ALLOW = 'repo-paths: allow';
// This file describes such paths.
const SELF = relative(root, fileURLToPath(import.meta.url));
// Documentation may mention other places; everything that runs is checked.
const SKIP_EXT = new Set(['.md', '.png', '.svg', '.jpg', '.tgz', '.gz', '.o', '.node', '.pcap', '.ico']);
// A relative path starting with `..` (after a quote, space, `(`, `=`, `:` or line start) ...
const PATH_RE = /(?<=^|['"`\s(=:,])(?:\.\/)*\.\.\/(?:[\w.@+-]*\/?)*/g;
// ... or `..` segments given one by one, as in join(here, '..', '..').
const SEGMENTS_RE = /(['"])\.\.\1(?:\s*,\s*(['"])\.\.\2)*/g;

function files() {
  const args = process.argv.slice(2);
  if (args.length > 0) return args.map((a) => relative(root, resolve(a)));
  const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
    cwd: root,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return [...new Set(out.split('\0').filter((f) => f !== ''))];
}

const outside = (p) => p !== root && !p.startsWith(root + sep);

const problems = [];
for (const file of files()) {
  const abs = join(root, file);
  if (SKIP_EXT.has(extname(file)) || file === SELF || !existsSync(abs) || !statSync(abs).isFile()) continue;
  const buf = readFileSync(abs);
  if (buf.includes(0)) continue; // binary
  buf
    .toString('utf8')
    .split('\n')
    .forEach((line, i) => {
      // A symlink's target is relative to the link, which the script makes elsewhere (e.g. in an image).
      if (line.includes(ALLOW) || /\bln\s+-s/.test(line)) return;
      const candidates = [...line.matchAll(PATH_RE)].map((m) => m[0]);
      for (const m of line.matchAll(SEGMENTS_RE)) candidates.push(Array((m[0].match(/\.\./g) ?? []).length).fill('..').join('/'));
      for (const p of candidates) {
        if (outside(resolve(dirname(abs), p))) problems.push(`${file}:${i + 1}: ${p} leaves the repository`);
      }
    });
}

if (problems.length > 0) {
  console.error(`check-repo-paths: ${problems.length} path(s) outside the repository:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('check-repo-paths: no path leaves the repository');
