// Bundles the web app (Preact, d3-force, uPlot and their CSS) into dist/public: no CDN, works offline.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
mkdirSync(here('dist/public'), { recursive: true });
await build({
  entryPoints: { app: here('src/web/main.tsx') },
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  jsx: 'automatic',
  jsxImportSource: 'preact',
  outdir: here('dist/public'),
  logLevel: 'warning',
});
copyFileSync(here('src/web/index.html'), here('dist/public/index.html'));
