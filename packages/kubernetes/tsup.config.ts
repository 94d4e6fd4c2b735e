import { copyFileSync, readFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';
import { packageBuild } from '../../tsup.shared.js';

const require = createRequire(import.meta.url);
const clientDir = dirname(require.resolve('@kubernetes/client-node/package.json'));
const client = JSON.parse(readFileSync(join(clientDir, 'package.json'), 'utf8')) as {
  version: string;
  license: string;
  dependencies: Record<string, string>;
};
// The client's own dependencies stay imports (they are dependencies of this package too).
const clientDeps = Object.keys(client.dependencies).filter((d) => !d.startsWith('@types/'));
const ownDeps = (JSON.parse(readFileSync('package.json', 'utf8')) as { dependencies: Record<string, string> })
  .dependencies;

/** Fails the build when the bundle imports a package this package does not depend on (it would not resolve). */
const dependenciesDeclared: Plugin = {
  name: 'dependencies-declared',
  setup(build) {
    // esbuild's own list of what the output imports, rather than reading the output back.
    build.initialOptions.metafile = true;
    build.onEnd((result) => {
      const missing = new Set<string>();
      for (const output of Object.values(result.metafile?.outputs ?? {})) {
        for (const { path, external } of output.imports) {
          if (!external) continue;
          const spec = path.replace(/^node:/, '');
          const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
          if (!builtinModules.includes(name) && !(name in ownDeps)) missing.add(name);
        }
      }
      if (missing.size > 0) {
        throw new Error(`the client-node bundle imports ${[...missing].join(', ')}: add them to dependencies in package.json`);
      }
    });
  },
};

/** Keeps `./client-node.js` an import of the separately built bundle instead of inlining it. */
const clientNodeExternal: Plugin = {
  name: 'client-node-external',
  setup(build) {
    build.onResolve({ filter: /\/client-node\.js$/ }, () => ({ path: './client-node.js', external: true }));
  },
};

export default defineConfig([
  packageBuild({ entry: ['src/index.ts'], esbuildPlugins: [clientNodeExternal] }),
  {
    // The client, tree-shaken to what src/client-node.ts exports; whitespace and syntax minified, names kept.
    entry: { 'client-node': 'src/client-node.ts' },
    format: ['esm'],
    target: 'node20',
    noExternal: ['@kubernetes/client-node'],
    external: clientDeps,
    esbuildPlugins: [dependenciesDeclared],
    minifyWhitespace: true,
    minifySyntax: true,
    banner: {
      js: `/*! @kubernetes/client-node ${client.version} (${client.license}), bundled: see client-node.LICENSE */`,
    },
    onSuccess: async () => {
      copyFileSync(join(clientDir, 'LICENSE'), join('dist', 'client-node.LICENSE'));
    },
  },
]);
