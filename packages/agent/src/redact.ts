/**
 * What /plugins may show of status and error texts. The listener answers on every interface (as Retina's chart
 * exposes the agent port), so texts lose URLs (they may carry userinfo, tokens or the API server's address),
 * credentials in any form a client library prints them, and the API server's host wherever it appears.
 */

const URL_RE = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>()]+/gi;
const AUTH_RE = /\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi;
const SECRET_PARAM_RE =
  /\b(token|access_token|id_token|password|passwd|secret|api[-_]?key|authorization)([=:]\s*)[^\s&,;"']+/gi;
const JWT_RE = /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The host (and host:port) of a URL, for removal from texts; empty when it does not parse. */
export function hostsOf(url: string | undefined): string[] {
  if (!url) return [];
  try {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, '');
    return host === '' ? [] : [u.host, host];
  } catch {
    return [];
  }
}

/** `text` without URLs, credentials or any of `hosts`. */
export function redactText(text: string, hosts: readonly string[] = []): string {
  let out = text
    .replace(URL_RE, '[url]')
    .replace(JWT_RE, '[token]')
    .replace(AUTH_RE, '$1 [redacted]')
    .replace(SECRET_PARAM_RE, '$1$2[redacted]');
  for (const host of hosts) out = out.replace(new RegExp(escapeRegExp(host), 'g'), '[api-server]');
  return out;
}

/**
 * A copy of a JSON-like status value with every string redacted and the fields that hold the API server URL
 * (`server`) left out.
 */
export function redactStatus<T>(value: T, hosts: readonly string[] = []): T {
  const walk = (v: unknown): unknown => {
    if (typeof v === 'string') return redactText(v, hosts);
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) {
        if (k === 'server') continue;
        out[k] = walk(x);
      }
      return out;
    }
    return v;
  };
  return walk(value) as T;
}
