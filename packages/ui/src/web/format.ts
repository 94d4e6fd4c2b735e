import type { UiEndpoint, UiFlow } from '../model/types.js';

export function time(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** `namespace/pod` or the IP, for a table cell's first line. */
export function who(ep: UiEndpoint): string {
  if (ep.namespace && ep.pod) return `${ep.namespace}/${ep.pod}`;
  return ep.ip ?? '?';
}

export function port(ep: UiEndpoint): string {
  return ep.port ? `:${ep.port}` : '';
}

export function protocolText(f: UiFlow): string {
  return f.protocol || '—';
}

export function rate(n: number): string {
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
export function rcodeName(rcode: number | undefined): string {
  if (rcode === undefined) return '';
  return RCODES[rcode] ?? `RCODE${rcode}`;
}
