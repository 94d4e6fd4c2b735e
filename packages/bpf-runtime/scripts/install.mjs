#!/usr/bin/env node
// Builds the native addon at install time (`npm ci` runs this as the package's install script). Checks for the
// headers first so a missing Debian package is named instead of surfacing as a compiler error.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const addon = join(root, 'build', 'Release', 'retina_bpf.node');

if (process.platform !== 'linux') {
  console.log(`@retina-ts/bpf-runtime: eBPF needs Linux; skipping the native build on ${process.platform}.`);
  process.exit(0);
}

const includeDirs = [
  '/usr/include',
  '/usr/local/include',
  ...(process.env.CPATH ?? '').split(':').filter(Boolean),
];
const required = [
  { header: 'bpf/libbpf.h', pkg: 'libbpf-dev' },
  { header: 'libelf.h', pkg: 'libelf-dev' },
  { header: 'zlib.h', pkg: 'zlib1g-dev' },
];
const missing = required.filter(({ header }) => !includeDirs.some((dir) => existsSync(join(dir, header))));
const tools = [
  { cmd: 'make', pkg: 'make' },
  { cmd: 'g++', pkg: 'g++' },
  { cmd: 'python3', pkg: 'python3' },
];
const missingTools = tools.filter(({ cmd }) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status !== 0);
if (missing.length > 0 || missingTools.length > 0) {
  const pkgs = [...missing, ...missingTools].map((m) => m.pkg);
  const what = [...missing.map((m) => m.header), ...missingTools.map((t) => t.cmd)].join(', ');
  console.error(
    `@retina-ts/bpf-runtime: cannot build the native addon: ${what} not found.\n` +
      `Install the Debian packages: apt-get install -y ${pkgs.join(' ')}`,
  );
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
    '@retina-ts/bpf-runtime: node-gyp failed. Needed Debian packages: libbpf-dev libelf-dev zlib1g-dev g++ make python3.',
  );
  process.exit(result.status ?? 1);
}
