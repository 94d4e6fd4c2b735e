import { definePackage } from '../../tsup.shared.js';

export default definePackage({ entry: ['src/index.ts', 'src/cli.ts', 'src/core-hooks.ts'], dts: { entry: 'src/index.ts' } });
