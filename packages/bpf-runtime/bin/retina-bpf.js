#!/usr/bin/env node
// Launcher for the retina-bpf CLI; the implementation is compiled to dist/ by `npm run build`.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(cli)) {
  console.error(
    'retina-bpf: dist/cli.js is missing; build @retina-ts/bpf-runtime first (npm run build -w @retina-ts/bpf-runtime)',
  );
  process.exit(1);
}
const { main } = await import(cli.href);
process.exitCode = main(process.argv.slice(2));
