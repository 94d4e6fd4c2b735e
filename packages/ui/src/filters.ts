/**
 * The UI's filter fields turned into Hubble FlowFilters, the way the Hubble CLI does it: fields that name an
 * endpoint (namespace, pod, workload, IP, port) match either side, so they become two filters (source side,
 * destination side) that share the other fields; `from`/`to` (set from a service map edge) pin one side each.
 */
import { FILTER_FIELDS, type FilterField, type UiFilter } from './model/types.js';

/** A filter value the UI refuses, naming the field. */
export class UiFilterError extends Error {
  override readonly name = 'UiFilterError';
}

/** Longest accepted filter value; the Hubble server has its own, larger, bounds. */
export const MAX_FILTER_VALUE = 256;
/** Most comma-separated values in one field. */
export const MAX_FILTER_VALUES = 16;

const VERDICTS = new Set(['FORWARDED', 'DROPPED', 'ERROR', 'AUDIT', 'REDIRECTED', 'TRACED', 'TRANSLATED']);
const PROTOCOLS = new Set(['tcp', 'udp', 'icmp', 'icmpv4', 'icmpv6', 'dns', 'http', 'sctp']);

type Filter = Record<string, unknown>;

function values(f: UiFilter, field: FilterField): string[] {
  const v = f[field]?.trim();
  if (!v) return [];
  if (v.length > MAX_FILTER_VALUE) throw new UiFilterError(`${field}: longer than ${MAX_FILTER_VALUE} characters`);
  const list = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length > MAX_FILTER_VALUES) throw new UiFilterError(`${field}: more than ${MAX_FILTER_VALUES} values`);
  return list;
}

/** Reads the filter fields from query parameters; unknown parameters are ignored, bad values refused. */
export function filterFromQuery(params: URLSearchParams): UiFilter {
  const out: UiFilter = {};
  for (const field of FILTER_FIELDS) {
    const v = params.get(field);
    if (v !== null && v.trim() !== '') {
      out[field] = v;
      values(out, field);
    }
  }
  return out;
}

function workloadOf(value: string, field: string): { kind?: string; name: string } {
  const slash = value.indexOf('/');
  if (slash < 0) return { name: value };
  const kind = value.slice(0, slash);
  const name = value.slice(slash + 1);
  if (!kind || !name) throw new UiFilterError(`${field}: ${JSON.stringify(value)} is not name or kind/name`);
  return { kind, name };
}

function portOf(value: string): string {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 0 || n > 65535) throw new UiFilterError(`port: ${JSON.stringify(value)} is not 0-65535`);
  return String(n);
}

/**
 * A service map node id as the fields of one side of a filter: `namespace/workload`, `namespace/pod/name` (a pod
 * without a workload) or an IP.
 */
function endpointFields(id: string, side: 'source' | 'destination', field: string): Filter {
  const parts = id.split('/');
  if (parts.length === 1 || (parts.length === 2 && /^\d+$/.test(parts[1]!))) {
    if (!/^[0-9a-fA-F.:]+(\/\d+)?$/.test(id))
      throw new UiFilterError(`${field}: ${JSON.stringify(id)} is neither namespace/name nor an IP`);
    return { [`${side}_ip`]: [id] };
  }
  if (parts.length === 3 && parts[1] === 'pod' && parts[0] && parts[2]) {
    return { [`${side}_pod`]: [`${parts[0]}/${parts[2]}`] };
  }
  if (parts.length !== 2 || !parts[0] || !parts[1])
    throw new UiFilterError(`${field}: ${JSON.stringify(id)} is not namespace/workload, namespace/pod/name or an IP`);
  return { [`${side}_pod`]: [`${parts[0]}/`], [`${side}_workload`]: [{ name: parts[1] }] };
}

function sideFields(f: UiFilter, side: 'source' | 'destination'): Filter | undefined {
  const out: Filter = {};
  const namespaces = values(f, 'namespace');
  const pods = values(f, 'pod');
  if (pods.length) {
    out[`${side}_pod`] = pods.flatMap((p) =>
      p.includes('/') ? [p] : namespaces.length ? namespaces.map((ns) => `${ns}/${p}`) : [`default/${p}`],
    );
  } else if (namespaces.length) {
    out[`${side}_pod`] = namespaces.map((ns) => `${ns}/`);
  }
  const workloads = values(f, 'workload');
  if (workloads.length) out[`${side}_workload`] = workloads.map((w) => workloadOf(w, 'workload'));
  const ips = values(f, 'ip');
  if (ips.length) out[`${side}_ip`] = ips;
  const ports = values(f, 'port');
  if (ports.length) out[`${side}_port`] = ports.map(portOf);
  return Object.keys(out).length ? out : undefined;
}

/** The Hubble whitelist for a UI filter; empty when the filter is empty (every flow). */
export function hubbleWhitelist(f: UiFilter): Filter[] {
  const base: Filter = {};
  const verdicts = values(f, 'verdict').map((v) => v.toUpperCase());
  for (const v of verdicts) if (!VERDICTS.has(v)) throw new UiFilterError(`verdict: unknown verdict ${JSON.stringify(v)}`);
  if (verdicts.length) base['verdict'] = verdicts;
  const protocols = values(f, 'protocol').map((p) => p.toLowerCase());
  for (const p of protocols) if (!PROTOCOLS.has(p)) throw new UiFilterError(`protocol: unknown protocol ${JSON.stringify(p)}`);
  if (protocols.length) base['protocol'] = protocols;
  const dns = values(f, 'dns');
  if (dns.length) base['dns_query'] = dns;
  const from = values(f, 'from');
  if (from.length > 1) throw new UiFilterError('from: one endpoint only');
  if (from[0]) Object.assign(base, endpointFields(from[0], 'source', 'from'));
  const to = values(f, 'to');
  if (to.length > 1) throw new UiFilterError('to: one endpoint only');
  if (to[0]) Object.assign(base, endpointFields(to[0], 'destination', 'to'));

  const src = sideFields(f, 'source');
  if (!src) return Object.keys(base).length ? [base] : [];
  const dst = sideFields(f, 'destination')!;
  // A side pinned by from/to keeps its own fields; the either-side fields go on the other side only then.
  if (from[0] && to[0]) throw new UiFilterError('namespace, pod, workload, ip and port cannot be combined with both from and to');
  if (from[0]) return [{ ...base, ...dst }];
  if (to[0]) return [{ ...base, ...src }];
  return [
    { ...base, ...src },
    { ...base, ...dst },
  ];
}
