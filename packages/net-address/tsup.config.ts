import { definePackage } from '../../tsup.shared.js';

export default definePackage({ entry: ['src/index.ts'] });
