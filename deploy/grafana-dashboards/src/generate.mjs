#!/usr/bin/env node
// Writes the retina-ts Grafana dashboards (../*.json) from the definitions in ./dashboards.mjs.
// `node generate.mjs --check` writes nothing and exits 1 when a committed file differs from what would be written.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DASHBOARDS } from './dashboards.mjs';

const outDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const check = process.argv.includes('--check');
let stale = 0;
for (const [file, dashboard] of Object.entries(DASHBOARDS)) {
  const path = join(outDir, file);
  const text = `${JSON.stringify(dashboard, null, 2)}\n`;
  if (!check) {
    writeFileSync(path, text);
    console.log(`wrote ${file}`);
    continue;
  }
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) {
    console.error(
      `${file} is not what src/dashboards.mjs generates: run node deploy/grafana-dashboards/src/generate.mjs`,
    );
    stale++;
  }
}
process.exit(stale ? 1 : 0);
