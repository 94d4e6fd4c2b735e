import { packageTestConfig } from '../../vitest.shared.js';

// The image tests: run the built archives under podman (`tools/build-images/test`). Not in the default suite.
export default packageTestConfig(new URL('.', import.meta.url).pathname, {
  include: ['test/images/**/*.test.ts'],
  testTimeout: 300_000,
  hookTimeout: 300_000,
  fileParallelism: false,
});
