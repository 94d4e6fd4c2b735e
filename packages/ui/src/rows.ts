/**
 * Hubble flows (as @grpc/proto-loader decodes them: proto field names, enums as names, 64-bit numbers as strings,
 * no defaults) reduced to table rows and service map endpoints.
 */
import { hubbleTypes, STRUCT_TYPE_URL } from '@retina-ts/hubble';
import type { UiEndpoint, UiFlow } from './model/types.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Pb = Record<string, any>;

const TCP_FLAG_NAMES = ['SYN', 'ACK', 'FIN', 'RST', 'PSH', 'URG', 'ECE', 'CWR', 'NS'] as const;

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function endpoint(ep: Pb | undefined, ip: string | undefined, port: number | undefined): UiEndpoint {
  const namespace = str(ep?.['namespace']);
  const pod = str(ep?.['pod_name']);
  const w = (ep?.['workloads'] as Pb[] | undefined)?.[0];
  const wName = str(w?.['name']);
  const workload = wName ? `${str(w?.['kind']) ?? 'Workload'}/${wName}` : undefined;
  let id: string;
  if (namespace && wName) id = `${namespace}/${wName}`;
  else if (namespace && pod) id = `${namespace}/pod/${pod}`;
  else id = ip ?? 'unknown';
  const out: UiEndpoint = { id };
  if (ip) out.ip = ip;
  if (port !== undefined) out.port = port;
  if (namespace) out.namespace = namespace;
  if (pod) out.pod = pod;
  if (workload) out.workload = workload;
  return out;
}

function timeMs(t: Pb | undefined): number {
  if (!t) return Date.now();
  return Number(t['seconds'] ?? 0) * 1000 + Math.floor(Number(t['nanos'] ?? 0) / 1e6);
}

/** The flow's L4 protocol name, its ports and TCP flags. */
function l4Of(l4: Pb | undefined): { protocol: string; sport?: number; dport?: number; flags?: string[] } {
  if (!l4) return { protocol: '' };
  for (const proto of ['TCP', 'UDP', 'SCTP'] as const) {
    const p = l4[proto] as Pb | undefined;
    if (!p) continue;
    const out: { protocol: string; sport?: number; dport?: number; flags?: string[] } = {
      protocol: proto,
      sport: Number(p['source_port'] ?? 0),
      dport: Number(p['destination_port'] ?? 0),
    };
    if (proto === 'TCP' && p['flags']) out.flags = TCP_FLAG_NAMES.filter((f) => p['flags'][f] === true);
    return out;
  }
  if (l4['ICMPv4']) return { protocol: 'ICMPv4' };
  if (l4['ICMPv6']) return { protocol: 'ICMPv6' };
  return { protocol: '' };
}

/** A google.protobuf.Value (as protobufjs decodes it) as plain JSON. */
function plainValue(v: Pb | undefined): unknown {
  if (!v) return null;
  if ('stringValue' in v) return v['stringValue'];
  if ('numberValue' in v) return v['numberValue'];
  if ('boolValue' in v) return v['boolValue'];
  if ('structValue' in v) return plainStruct(v['structValue'] as Pb);
  if ('listValue' in v) return ((v['listValue'] as Pb)['values'] as Pb[] | undefined ?? []).map(plainValue);
  return null;
}

function plainStruct(s: Pb): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((s['fields'] as Record<string, Pb> | undefined) ?? {})) out[k] = plainValue(v);
  return out;
}

/**
 * Retina's extension fields travel as a google.protobuf.Any holding a Struct; decoded in place so the detail view
 * shows them as JSON instead of bytes. Anything else (or undecodable) is left as it came.
 */
export function decodeExtensions(flow: Pb): Record<string, unknown> | undefined {
  const ext = flow['extensions'] as { type_url?: string; value?: Uint8Array } | undefined;
  if (!ext || ext.type_url !== STRUCT_TYPE_URL || !(ext.value instanceof Uint8Array)) return undefined;
  try {
    const struct = hubbleTypes().struct;
    const plain = plainStruct(struct.toObject(struct.decode(ext.value)) as Pb);
    flow['extensions'] = { '@type': STRUCT_TYPE_URL, ...plain };
    return plain;
  } catch {
    return undefined;
  }
}

/** A table row for `flow`; `seq` numbers rows within one stream. */
export function toUiFlow(flow: Pb, seq: number): UiFlow {
  const ext = decodeExtensions(flow);
  const ip = flow['IP'] as Pb | undefined;
  const l4 = l4Of(flow['l4'] as Pb | undefined);
  const dnsPb = (flow['l7'] as Pb | undefined)?.['dns'] as Pb | undefined;
  const row: UiFlow = {
    seq,
    time: timeMs(flow['time'] as Pb | undefined),
    node: str(flow['node_name']) ?? '',
    src: endpoint(flow['source'] as Pb | undefined, str(ip?.['source']), l4.sport),
    dst: endpoint(flow['destination'] as Pb | undefined, str(ip?.['destination']), l4.dport),
    protocol: dnsPb ? 'DNS' : l4.protocol,
    verdict: str(flow['verdict']) ?? 'VERDICT_UNKNOWN',
    raw: flow,
  };
  // Retina's own reason (IPTABLE_RULE_DROP, NO_SOCKET, ...) says more than Hubble's coarse drop_reason_desc.
  const desc = str(flow['drop_reason_desc']);
  const retinaReason = str(ext?.['drop_reason']);
  const drop = retinaReason ?? (desc !== 'DROP_REASON_UNKNOWN' ? desc : undefined);
  if (drop && row.verdict === 'DROPPED') row.dropReason = drop;
  if (dnsPb) {
    const type = (flow['l7'] as Pb)['type'] === 'RESPONSE' ? 'response' : 'request';
    row.dns = { query: str(dnsPb['query']) ?? '', type };
    if (type === 'response') row.dns.rcode = Number(dnsPb['rcode'] ?? 0);
    const qtypes = dnsPb['qtypes'] as string[] | undefined;
    if (qtypes?.length) row.dns.qtypes = qtypes;
  }
  if (l4.flags?.length) row.tcpFlags = l4.flags;
  const dir = str(flow['traffic_direction']);
  if (dir && dir !== 'TRAFFIC_DIRECTION_UNKNOWN') row.direction = dir;
  const summary = str(flow['Summary']);
  if (summary) row.summary = summary;
  return row;
}
