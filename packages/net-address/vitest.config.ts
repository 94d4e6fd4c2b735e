import { packageTestConfig } from '../../vitest.shared.js';

export default packageTestConfig(new URL('.', import.meta.url).pathname);
