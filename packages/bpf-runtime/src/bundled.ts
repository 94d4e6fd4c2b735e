/**
 * Finding the compiled BPF object a plugin package ships. `retina-bpf build` writes `dist/bpf/<name>.bpf.o`; the
 * bundled code runs from `dist/`, tests run the sources from `src/`, so both places are looked at.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Where `file` may be, seen from the module at `moduleUrl`: `./bpf/<file>` (from dist/), then `../dist/bpf/<file>` (from src/). */
export function bundledObjectCandidates(moduleUrl: string | URL, file: string): string[] {
  return [new URL(`./bpf/${file}`, moduleUrl), new URL(`../dist/bpf/${file}`, moduleUrl)].map((u) => fileURLToPath(u));
}

/** The first existing candidate; otherwise throws naming every place looked at and how to build the object. */
export function bundledObjectPath(moduleUrl: string | URL, file: string, buildCommand: string): string {
  const candidates = bundledObjectCandidates(moduleUrl, file);
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  throw new Error(`BPF object ${file} not found (looked in ${candidates.join(', ')}); build the package with \`${buildCommand}\``);
}
