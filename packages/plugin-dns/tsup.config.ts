import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  // dist/bpf holds the compiled kernel object written by `retina-bpf build` just before tsup runs.
  clean: ['!bpf/**'],
  target: 'node20',
});
