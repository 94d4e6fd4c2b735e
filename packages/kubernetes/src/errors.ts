/** Turns the errors of the Kubernetes client into one line that says what failed and what to do. */

interface HttpishError {
  code?: unknown;
  statusCode?: unknown;
  body?: unknown;
  message?: unknown;
  errno?: unknown;
  type?: unknown;
}

/** The HTTP status of a client error, when it has one. */
export function httpStatusOf(err: unknown): number | undefined {
  const e = err as HttpishError | undefined;
  if (!e || typeof e !== 'object') return undefined;
  if (typeof e.statusCode === 'number') return e.statusCode;
  if (typeof e.code === 'number' && e.code >= 100 && e.code < 600) return e.code;
  return undefined;
}

function statusMessage(body: unknown): string | undefined {
  let b = body;
  if (typeof body === 'string') {
    try {
      b = JSON.parse(body);
    } catch {
      return body.trim() ? body.trim().slice(0, 300) : undefined;
    }
  }
  if (b && typeof b === 'object' && typeof (b as { message?: unknown }).message === 'string') {
    return (b as { message: string }).message;
  }
  return undefined;
}

const HINTS: Record<number, string> = {
  401: 'the credentials were refused: check the service account token or the kubeconfig user',
  403: "the agent's ClusterRole lacks this permission: grant get/list/watch on the resource",
  404: 'the API server does not serve this resource: is the CRD installed?',
  410: 'the resourceVersion is too old; the watcher lists again',
  429: 'the API server is throttling; the watcher retries with backoff',
};

/** `<what>: <reason>` with a hint for the common cases (connection refused, 401, 403, 404 of a CRD). */
export function describeError(what: string, err: unknown): string {
  const status = httpStatusOf(err);
  const e = err as HttpishError | undefined;
  if (status !== undefined) {
    const msg = statusMessage(e?.body) ?? (typeof e?.message === 'string' ? e.message.split('\n')[0] : '');
    const hint = HINTS[status];
    return `${what}: HTTP ${status}${msg ? ` ${msg}` : ''}${hint ? ` (${hint})` : ''}`;
  }
  const code = typeof e?.code === 'string' ? e.code : typeof e?.errno === 'string' ? e.errno : undefined;
  const message = err instanceof Error ? err.message : String(err);
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND' || code === 'ETIMEDOUT') {
    return `${what}: API server unreachable (${code}): ${message}; retrying with backoff`;
  }
  return `${what}: ${message}`;
}
