import { cp } from 'node:fs/promises';
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
  // The .proto files are served at run time, so they ship next to the bundle.
  onSuccess: async () => {
    await cp('proto', 'dist/proto', { recursive: true });
  },
});
