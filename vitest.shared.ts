// Shared vitest settings: every package writes a JSON report to .test-results/ so tools/test-summary.mjs can print
// one closing line for the whole suite.
import { defineConfig, type ViteUserConfig } from 'vitest/config';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

/** The vitest config of the package in `packageDir`. */
export function packageTestConfig(packageDir: string, extra: ViteUserConfig['test'] = {}): ViteUserConfig {
  return defineConfig({
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      reporters: ['default', ['json', { outputFile: join(root, '.test-results', `${basename(packageDir)}.json`) }]],
      ...extra,
    },
  });
}
