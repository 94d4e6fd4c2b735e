import { cp } from 'node:fs/promises';
import { definePackage } from '../../tsup.shared.js';

export default definePackage({
  entry: ['src/index.ts'],
  // The .proto files are served at run time, so they ship next to the bundle.
  onSuccess: async () => {
    await cp('proto', 'dist/proto', { recursive: true });
  },
});
