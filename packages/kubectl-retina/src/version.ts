/** The package version, read from package.json at run time so builds and tests agree. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Version of kubectl-retina. */
export const VERSION: string = (require('../package.json') as { version: string }).version;
