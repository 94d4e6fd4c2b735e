import { packageTestConfig } from '../../vitest.shared.js';

// The default suite: checks of the build script's inputs that build nothing. The image tests are in
// vitest.images.config.ts (`npm run test:images`), because building the images takes minutes.
export default packageTestConfig(new URL('.', import.meta.url).pathname, { exclude: ['test/images/**'] });
