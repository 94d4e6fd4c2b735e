/** The package version, read from package.json at run time so builds and tests agree. */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Version of @retina-ts/capture. */
export const VERSION: string = (require('../package.json') as { version: string }).version;

/** Repository of the project's agent image, which carries `retina-capture`, tcpdump and the network tools. */
export const AGENT_IMAGE_REPOSITORY = 'ghcr.io/retina-ts/retina-ts-agent';

/**
 * The agent image of this release: the default image of capture Jobs (operator and `kubectl retina capture`). The
 * packages are released together, so this package's version is the release's.
 */
export const DEFAULT_AGENT_IMAGE = `${AGENT_IMAGE_REPOSITORY}:${VERSION}`;

/** Repository of the project's shell image: Debian with network tools (dig, curl, bpftool, tcpdump ...), no Node.js. */
export const SHELL_IMAGE_REPOSITORY = 'ghcr.io/retina-ts/retina-ts-shell';

/** The shell image of this release: the default image of `kubectl retina shell`. */
export const DEFAULT_SHELL_IMAGE = `${SHELL_IMAGE_REPOSITORY}:${VERSION}`;
