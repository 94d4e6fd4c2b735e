/**
 * hostPath confinement: a Capture names a relative sub-path, joined under a base directory the cluster operator
 * controls, so a CR author can never write captures into an arbitrary host directory.
 */
import { posix } from 'node:path';

/** A hostPath that would escape the base directory, with the offending value. */
export class HostPathError extends Error {
  override name = 'HostPathError';
}

/**
 * Resolves `subPath` under `baseDir`. Rejects empty values, absolute paths (POSIX or Windows), any `..`
 * segment, and results outside the base; `baseDir` itself must be absolute.
 */
export function resolveHostPath(baseDir: string, subPath: string, field = 'hostPath'): string {
  if (!posix.isAbsolute(baseDir)) {
    throw new HostPathError(`host path base directory "${baseDir}" must be an absolute path`);
  }
  const sub = subPath.trim();
  if (sub === '') throw new HostPathError(`${field} is empty: give a relative sub-path such as "my-capture"`);
  if (posix.isAbsolute(sub) || /^[A-Za-z]:/.test(sub) || sub.startsWith('\\')) {
    throw new HostPathError(
      `${field} "${subPath}" must be a relative subpath name under ${baseDir}, not an absolute path`,
    );
  }
  if (sub.split(/[\\/]/).includes('..')) {
    throw new HostPathError(`${field} "${subPath}" must not contain '..'`);
  }
  const base = posix.normalize(baseDir).replace(/\/+$/, '') || '/';
  const joined = posix.normalize(posix.join(base, sub.replace(/\\/g, '/'))).replace(/\/+$/, '');
  const prefix = base === '/' ? '/' : `${base}/`;
  if (joined === base) {
    throw new HostPathError(`${field} "${subPath}" resolves to the base directory ${baseDir} itself; name a sub-directory`);
  }
  if (!joined.startsWith(prefix)) {
    throw new HostPathError(`${field} "${subPath}" resolves outside the configured base directory ${baseDir}`);
  }
  return joined;
}
