/** Errors with a meaning for the plugin lifecycle. */

/**
 * Thrown from a plugin's poll function (or passed to `fail`) when the plugin cannot go on: the pending start()
 * rejects and the manager restarts the plugin after a backoff.
 */
export class FatalPluginError extends Error {
  override name = 'FatalPluginError';
}

/** A plugin did not finish `init` in time. */
export class PluginTimeoutError extends Error {
  override name = 'PluginTimeoutError';
}
