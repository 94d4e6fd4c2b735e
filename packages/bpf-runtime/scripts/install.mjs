#!/usr/bin/env node
// Builds the native addon at install time (`npm ci` runs this as the package's install script). Checks for the
// headers first so a missing Debian package is named instead of surfacing as a compiler error.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { REQUIRED_HEADERS, REQUIRED_TOOLS, findMissing, includeDirs, missingMessage } from './preflight.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'retina_bpf.node');

if (process.platform !== 'linux') {
  console.log(`@retina-ts/bpf-runtime: eBPF needs Linux; skipping the native build on ${process.platform}.`);
  process.exit(0);
}

const missing = findMissing({
  dirs: includeDirs(process.env.CPATH),
  exists: existsSync,
  hasCommand: (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0,
});
const message = missingMessage(missing);
if (message) {
  console.error(message);
  process.exit(1);
}

// Skip the rebuild when the addon is newer than every input (repeated installs in a workspace).
function newestInput() {
  const files = [
    join(root, 'binding.gyp'),
    ...readdirSync(join(root, 'native')).map((f) => join(root, 'native', f)),
  ];
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}
if (
  process.env.RETINA_BPF_FORCE_REBUILD !== '1' &&
  existsSync(addon) &&
  statSync(addon).mtimeMs > newestInput()
) {
  process.exit(0);
}

const require = createRequire(import.meta.url);
const nodeGyp = require.resolve('node-gyp/bin/node-gyp.js');
const args = [nodeGyp, 'rebuild'];
// Use the headers installed next to this node binary when npm has not configured a nodedir: builds offline.
const prefix = join(dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}
const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
if (result.status !== 0) {
  console.error(
    `@retina-ts/bpf-runtime: node-gyp failed. Needed Debian packages: ${[...REQUIRED_HEADERS, ...REQUIRED_TOOLS]
      .map((r) => r.pkg)
      .join(' ')}.`,
  );
  process.exit(result.status ?? 1);
}
