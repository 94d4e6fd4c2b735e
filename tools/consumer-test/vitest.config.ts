import { packageTestConfig } from '../../vitest.shared.js';

// npm installs from the registry take a minute or two each; the rest of the run is seconds.
export default packageTestConfig(new URL('.', import.meta.url).pathname, {
  testTimeout: 240_000,
  hookTimeout: 360_000,
});
