/**
 * The agent's heavy parts (the Hubble server, the Kubernetes watchers, the BPF runtime) are optional peer
 * dependencies: the `retina-agent` CLI package installs them, a custom agent installs only what it uses. Loading
 * one that is missing fails with what to install instead of a bare module-not-found error.
 */

/** Raised when a feature needs an optional package that is not installed. */
export class MissingPackageError extends Error {
  override readonly name = 'MissingPackageError';
  constructor(
    readonly packageName: string,
    readonly feature: string,
  ) {
    super(
      `${feature} needs the package ${packageName}, which is not installed; install it with: npm install ${packageName}`,
    );
  }
}

/** True when `err` says that `packageName` itself cannot be found (not one of its own dependencies). */
export function isMissingPackage(err: unknown, packageName: string): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  return (
    (e?.code === 'ERR_MODULE_NOT_FOUND' || e?.code === 'MODULE_NOT_FOUND') &&
    typeof e.message === 'string' &&
    e.message.includes(`'${packageName}'`)
  );
}

/** Runs `load` (a literal `import()` of `packageName`) and turns "not installed" into a MissingPackageError. */
export async function importOptional<T>(
  packageName: string,
  feature: string,
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (err) {
    if (isMissingPackage(err, packageName)) throw new MissingPackageError(packageName, feature);
    throw err;
  }
}
