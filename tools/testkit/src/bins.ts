import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/**
 * The file of bin `bin` of package `pkg`, resolved as the module at `fromUrl` sees it. Reads the package's own
 * `bin` field, since a fresh install links `node_modules/.bin` before the workspace is built.
 */
export function packageBin(pkg: string, bin: string, fromUrl: string): string {
  const pkgJson = createRequire(fromUrl).resolve(`${pkg}/package.json`);
  const bins = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { bin?: Record<string, string> }).bin ?? {};
  const file = bins[bin];
  if (!file) throw new Error(`${pkg} has no bin "${bin}" (it has: ${Object.keys(bins).join(', ') || 'none'})`);
  return join(dirname(pkgJson), file);
}
