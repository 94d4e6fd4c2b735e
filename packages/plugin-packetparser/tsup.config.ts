import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  // dist/bpf holds the compiled kernel object that `retina-bpf build` writes just before tsup runs.
  clean: ['!bpf/**'],
  target: 'node20',
});
