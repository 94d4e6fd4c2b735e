/**
 * Translation of a Capture's filters into one pcap filter expression for tcpdump. Pure functions: every rule here
 * is a fact about how Retina users write filters (`IP`, `IP:port`, `port`, `*:port`, `IP:*`, comma lists).
 */
import { isIP } from 'node:net';

/** A filter entry rejected with the reason and what to write instead. */
export class CaptureFilterError extends Error {
  override name = 'CaptureFilterError';
}

/** One parsed include/exclude entry; undefined fields are wildcards. */
export interface FilterEntry {
  ip?: string;
  port?: number;
}

function parsePort(text: string, entry: string): number | undefined {
  if (text === '*' || text === '') return undefined;
  if (!/^\d+$/.test(text) || Number(text) > 65535) {
    throw new CaptureFilterError(`invalid filter "${entry}": port "${text}" must be an integer 0..65535 or *`);
  }
  return Number(text);
}

function parseIp(text: string, entry: string): string | undefined {
  if (text === '*' || text === '') return undefined;
  if (isIP(text) === 0) throw new CaptureFilterError(`invalid filter "${entry}": "${text}" is not an IP address or *`);
  return text;
}

/**
 * Parses `IP`, `IP:port`, `port`, `*:port`, `IP:*`, `[IPv6]:port` or a bare IPv6 address. A value without `.`
 * or `:` is a port, as in Retina.
 */
export function parseFilterEntry(raw: string): FilterEntry {
  const entry = raw.trim();
  if (entry === '') throw new CaptureFilterError('invalid filter "": an entry must not be empty');
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(entry);
  if (bracketed) return { ip: parseIp(bracketed[1]!, entry), port: parsePort(bracketed[2] ?? '*', entry) };
  const colons = entry.split(':').length - 1;
  if (colons >= 2) return { ip: parseIp(entry, entry) };
  if (colons === 1) {
    const [ip, port] = entry.split(':') as [string, string];
    return { ip: parseIp(ip, entry), port: parsePort(port, entry) };
  }
  if (entry === '*') return {};
  if (!entry.includes('.')) return { port: parsePort(entry, entry) };
  return { ip: parseIp(entry, entry) };
}

/** Splits a comma-separated flag value into trimmed, non-empty items. */
export function splitList(value: string | undefined): string[] {
  if (!value) return [];
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function term(e: FilterEntry): string | undefined {
  if (e.ip !== undefined && e.port !== undefined) return `(host ${e.ip} and port ${e.port})`;
  if (e.ip !== undefined) return `(host ${e.ip})`;
  if (e.port !== undefined) return `(port ${e.port})`;
  return undefined; // `*` or `*:*`: everything
}

/**
 * `(t1 or t2 ...)` for a list of entries, sorted by IP then port so equal specs give equal filters. Returns
 * `undefined` for an empty list and `'all'` when an entry matches every packet.
 */
function group(entries: readonly string[]): string | 'all' | undefined {
  if (entries.length === 0) return undefined;
  const parsed = entries.map(parseFilterEntry);
  const terms: string[] = [];
  const sorted = [...parsed].sort(
    (a, b) => (a.ip ?? '').localeCompare(b.ip ?? '') || (a.port ?? -1) - (b.port ?? -1),
  );
  for (const e of sorted) {
    const t = term(e);
    if (t === undefined) return 'all';
    if (!terms.includes(t)) terms.push(t);
  }
  return terms.length === 1 ? terms[0] : `(${terms.join(' or ')})`;
}

/** Inputs of the filter the system derives from a Capture (include/exclude and pod IPs). */
export interface SystemFilterInput {
  include?: readonly string[];
  exclude?: readonly string[];
  /** IPs of the selected pods on this node: their traffic is captured too. */
  podIPs?: readonly string[];
}

/**
 * Builds `(include...) and not (exclude...)`, then `or (host podIP ...)` for pod targets. Returns undefined when
 * nothing restricts the capture. pcap's `and`/`or` have equal precedence, so every part is parenthesised.
 */
export function buildSystemFilter(input: SystemFilterInput): string | undefined {
  const inc = group(input.include ?? []);
  const exc = group(input.exclude ?? []);
  let base: string | undefined;
  const incExpr = inc === 'all' ? undefined : inc;
  if (exc === 'all') {
    // Excluding everything is almost certainly a mistake; say so rather than capture nothing silently.
    throw new CaptureFilterError('invalid exclude filter: "*" would exclude every packet; list addresses or ports');
  }
  if (incExpr && exc) base = `(${incExpr} and not ${exc})`;
  else if (incExpr) base = incExpr;
  else if (exc) base = `(not ${exc})`;
  const pods = [...new Set(input.podIPs ?? [])];
  for (const ip of pods) {
    if (isIP(ip) === 0) throw new CaptureFilterError(`pod IP "${ip}" is not an IP address`);
  }
  if (pods.length === 0) return base;
  const podExpr = `(${pods.map((ip) => `host ${ip}`).join(' or ')})`;
  return base ? `${base} or ${podExpr}` : podExpr;
}

/** `(src host a or src host b) and (dst host c)` for source/destination IP lists; undefined when both empty. */
export function buildAddressFilter(sourceIPs: readonly string[] = [], destinationIPs: readonly string[] = []): string | undefined {
  const part = (dir: 'src' | 'dst', ips: readonly string[], field: string) => {
    for (const ip of ips) {
      if (isIP(ip) === 0) throw new CaptureFilterError(`${field}: "${ip}" is not an IP address`);
    }
    return ips.length ? `(${ips.map((ip) => `${dir} host ${ip}`).join(' or ')})` : undefined;
  };
  const parts = [part('src', sourceIPs, 'sourceIPs'), part('dst', destinationIPs, 'destinationIPs')].filter(
    (p): p is string => p !== undefined,
  );
  return parts.length ? parts.join(' and ') : undefined;
}

/**
 * Checks a user-written pcap filter: not blank and without tcpdump flags (any token starting with `-`), so the
 * expression cannot smuggle options into tcpdump's command line.
 */
export function checkUserFilter(filter: string, field = 'pcapFilter'): string {
  if (filter.trim() === '') throw new CaptureFilterError(`${field}: the BPF filter is empty; remove it or write an expression`);
  const flag = filter.split(/\s+/).find((t) => t.startsWith('-'));
  if (flag !== undefined) {
    throw new CaptureFilterError(`${field}: filter contains flags which are not allowed ("${flag}"); write only a pcap expression`);
  }
  return filter.trim();
}

/** Joins the non-empty parts as `(a) and (b)`; undefined when none. */
export function andFilters(...parts: (string | undefined)[]): string | undefined {
  const present = parts.filter((p): p is string => p !== undefined && p.trim() !== '');
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  return present.map((p) => `(${p})`).join(' and ');
}
