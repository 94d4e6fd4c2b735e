import { definePackage } from '../../tsup.shared.js';

export default definePackage({ entry: ['src/index.ts', 'src/cli.ts'], dts: { entry: 'src/index.ts' } });
