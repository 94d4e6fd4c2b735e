#!/usr/bin/env node
// Adds up the per-package vitest JSON reports into one closing line: "tests: N passed, N failed, N skipped".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = new URL('../.test-results/', import.meta.url).pathname;
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
let passed = 0, failed = 0, skipped = 0;
for (const f of files) {
  const r = JSON.parse(readFileSync(join(dir, f), 'utf8'));
  // Only vitest reports count; other figures tests leave here (install sizes) are not test results.
  if (!Number.isInteger(r.numPassedTests) || !Number.isInteger(r.numFailedTests)) continue;
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + r.numTodoTests;
  console.log(`  ${f.replace(/\.json$/, '').padEnd(24)} ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
}
console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
if (failed > 0 || passed === 0) process.exit(1);
if (process.env.RETINA_REQUIRE_BPF === '1' && skipped > 0) {
  console.error('RETINA_REQUIRE_BPF=1 but some tests were skipped');
  process.exit(1);
}
