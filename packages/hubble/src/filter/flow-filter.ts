/**
 * flow.FlowFilter → predicate over served flows. Within one filter every set field must match (AND); within one
 * repeated field any value may match (OR). A request passes a flow iff the allow-list is empty or one of its filters
 * matches, and no deny-list filter matches. Invalid values (bad CIDR, unknown protocol, bad selector or regexp)
 * throw FilterError; filters this server cannot evaluate (CEL) throw FilterError of kind `unimplemented`.
 *
 * Flows here carry no HTTP, trace-context or translated-address data, so filters on those fields are validated and
 * then match nothing, exactly as they would against such flows in Hubble.
 *
 * Requests are bounded (`FILTER_LIMITS`) before anything is compiled, regular expressions use RE2 semantics with a
 * linear-time engine (as Hubble's Go server does), and IP filters are hashed by prefix, so no request can make
 * filter compilation or evaluation take time that grows faster than its (bounded) size.
 */
import { RE2JS } from 're2js';
import type { PbEndpoint, PbFlow, PbLayer4, PbTcpFlags, PbWorkload } from '../wire.js';
import { Wire } from '../wire.js';
import { FilterError } from './errors.js';
import { IpPrefixSet } from './ip-set.js';
import { compileFqdnPatterns, compileNodeNamePatterns } from './patterns.js';
import type { ParsedLabel, Selector } from './selector.js';
import { parseLabel, parseSelector, selectorMatches } from './selector.js';

/** A decoded flow.FlowFilter (proto field names; every field optional). */
export interface FlowFilterInput {
  uuid?: string[];
  source_ip?: string[];
  source_ip_xlated?: string[];
  source_pod?: string[];
  source_fqdn?: string[];
  source_label?: string[];
  source_service?: string[];
  source_workload?: Partial<PbWorkload>[];
  source_cluster_name?: string[];
  destination_ip?: string[];
  destination_pod?: string[];
  destination_fqdn?: string[];
  destination_label?: string[];
  destination_service?: string[];
  destination_workload?: Partial<PbWorkload>[];
  destination_cluster_name?: string[];
  traffic_direction?: number[];
  verdict?: number[];
  drop_reason_desc?: number[];
  interface?: { index?: number; name?: string }[];
  event_type?: { type?: number; match_sub_type?: boolean; sub_type?: number }[];
  http_status_code?: string[];
  protocol?: string[];
  source_port?: string[];
  destination_port?: string[];
  reply?: boolean[];
  dns_query?: string[];
  source_identity?: number[];
  destination_identity?: number[];
  http_method?: string[];
  http_path?: string[];
  http_url?: string[];
  http_header?: { key?: string; value?: string }[];
  tcp_flags?: PbTcpFlags[];
  node_name?: string[];
  node_labels?: string[];
  ip_version?: number[];
  trace_id?: string[];
  ip_trace_id?: (string | number)[];
  encrypted?: boolean[];
  experimental?: { cel_expression?: string[] } | null;
}

/**
 * Bounds of one GetFlows request's filters. The Hubble CLI sends a handful of values; these leave room for generated
 * filters while keeping compilation and per-flow evaluation small.
 */
export const FILTER_LIMITS = {
  /** Filters in the whitelist, and in the blacklist (INVALID_ARGUMENT beyond). */
  filtersPerList: 64,
  /** Values of one repeated field of one filter (INVALID_ARGUMENT beyond). */
  valuesPerField: 4096,
  /** Regular expressions of one field (`dns_query`, `http_path`, `http_url`; INVALID_ARGUMENT beyond). */
  patternsPerField: 64,
  /** Characters of one string value (INVALID_ARGUMENT beyond). */
  valueLength: 1024,
  /** Values of every field of every filter of both lists together (RESOURCE_EXHAUSTED beyond). */
  valuesPerRequest: 16384,
} as const;

/** A compiled filter or filter list. */
export type FlowPredicate = (flow: PbFlow) => boolean;

/** The Layer4 members each L4 protocol name of the filter matches. */
const L4_PROTOCOLS = new Map<string, readonly (keyof PbLayer4)[]>([
  ['tcp', ['TCP']],
  ['udp', ['UDP']],
  ['sctp', ['SCTP']],
  ['icmp', ['ICMPv4', 'ICMPv6']],
  ['icmpv4', ['ICMPv4']],
  ['icmpv6', ['ICMPv6']],
  ['vrrp', ['VRRP']],
  ['igmp', ['IGMP']],
]);
const L7_PROTOCOLS = new Set(['dns', 'http', 'kafka']);

const labelCache = new WeakMap<PbEndpoint | string[], ParsedLabel[]>();

function parsedLabels(owner: PbEndpoint | string[] | undefined, labels: string[] | undefined): ParsedLabel[] {
  if (!owner || !labels || labels.length === 0) return [];
  let parsed = labelCache.get(owner);
  if (!parsed) {
    parsed = labels.map(parseLabel);
    labelCache.set(owner, parsed);
  }
  return parsed;
}

function nonEmpty<T>(values: readonly T[] | undefined | null): values is readonly T[] {
  return values !== undefined && values !== null && values.length > 0;
}

function ipMatcher(values: readonly string[], field: string): (ip: string | undefined) => boolean {
  const set = new IpPrefixSet(values, field);
  return (ip) => set.has(ip);
}

function namespacedNameMatcher(
  values: readonly string[],
  field: string,
): (namespace: string | undefined, name: string | undefined) => boolean {
  const parsed = values.map((value) => {
    const slash = value.indexOf('/');
    if (slash < 0) {
      if (value === '') throw new FilterError(`${field}: empty value; use [namespace/][name-prefix]`);
      return { ns: 'default', prefix: value };
    }
    const ns = value.slice(0, slash);
    const prefix = value.slice(slash + 1).split('/')[0] as string;
    if (ns === '' && prefix === '')
      throw new FilterError(`${field}: ${JSON.stringify(value)} names neither namespace nor name`);
    return { ns, prefix };
  });
  return (namespace = '', name = '') => {
    if (namespace === '' && name === '') return false;
    return parsed.some((f) => f.ns === namespace && (f.prefix === '' || name.startsWith(f.prefix)));
  };
}

function selectorsOf(values: readonly string[], field: string): Selector[] {
  return values.map((value) => {
    try {
      return parseSelector(value);
    } catch (err) {
      throw new FilterError(`${field}: ${(err as Error).message}`);
    }
  });
}

/** A compiled RE2 pattern; `test` finds a match anywhere in the input, as Go's MatchString does. */
export interface Re2Pattern {
  test(input: string): boolean;
}

/** Compiles client patterns with RE2 (linear-time matching); what RE2 rejects is an invalid argument. */
function regexpsOf(values: readonly string[], field: string): Re2Pattern[] {
  if (values.length > FILTER_LIMITS.patternsPerField) {
    throw new FilterError(
      `${field}: ${values.length} regular expressions, more than the limit of ${FILTER_LIMITS.patternsPerField} per field`,
    );
  }
  return values.map((value) => {
    try {
      return RE2JS.compile(value);
    } catch (err) {
      throw new FilterError(
        `${field}: ${JSON.stringify(value)} is not a valid RE2 regular expression: ${(err as Error).message}`,
      );
    }
  });
}

function portsOf(values: readonly string[], field: string): Set<number> {
  return new Set(
    values.map((value) => {
      if (!/^\d+$/.test(value) || Number(value) > 65535) {
        throw new FilterError(`${field}: ${JSON.stringify(value)} is not a port number (0-65535)`);
      }
      return Number(value);
    }),
  );
}

/** The two ends of a flow: most FlowFilter fields come as a `source_` and a `destination_` pair. */
const SIDES = ['source', 'destination'] as const;

/** The TCP, UDP or SCTP port of one end of the flow. */
function portOf(flow: PbFlow, side: (typeof SIDES)[number]): number | undefined {
  const l4 = flow.l4;
  const key = `${side}_port` as const;
  return l4?.TCP?.[key] ?? l4?.UDP?.[key] ?? l4?.SCTP?.[key];
}

function protocolMatches(flow: PbFlow, protocol: string): boolean {
  if (protocol === 'dns') return flow.l7?.dns !== undefined;
  // http and kafka (no L4 members): these flows never carry such records.
  return (L4_PROTOCOLS.get(protocol) ?? []).some((member) => flow.l4?.[member] !== undefined);
}

function workloadMatcher(filters: readonly Partial<PbWorkload>[]): (ep: PbEndpoint | undefined) => boolean {
  return (ep) =>
    (ep?.workloads ?? []).some((w) =>
      filters.some((f) => (!f.name || f.name === w.name) && (!f.kind || f.kind === w.kind)),
    );
}

function tcpFlagsMatch(wanted: PbTcpFlags, have: PbTcpFlags): boolean {
  for (const flag of ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG', 'ECE', 'CWR', 'NS'] as const) {
    if (wanted[flag] && !have[flag]) return false;
  }
  return true;
}

function validateHttpStatusCodes(values: readonly string[], eventTypes: FlowFilterInput['event_type']): void {
  for (const value of values) {
    if (!/^[1-5][0-9]{2}$/.test(value) && !/^[1-5][0-9]?\+$/.test(value)) {
      throw new FilterError(
        `http_status_code: invalid status code prefix ${JSON.stringify(value)} (examples: 404, 4+, 50+)`,
      );
    }
  }
  if (nonEmpty(eventTypes) && !eventTypes.some((t) => t.type === Wire.eventType.L7)) {
    throw new FilterError(
      "http_status_code: filtering by HTTP status code requires the event type filter to match 'l7' events",
    );
  }
}

/** Compiles one FlowFilter into a predicate; throws FilterError for values it cannot use. */
export function compileFlowFilter(filter: FlowFilterInput): FlowPredicate {
  const checks: FlowPredicate[] = [];
  const f = filter;

  if (nonEmpty(f.experimental?.cel_expression)) {
    throw new FilterError(
      'experimental.cel_expression: CEL filter expressions are not supported by this server',
      'unimplemented',
    );
  }
  if (nonEmpty(f.uuid)) {
    const set = new Set(f.uuid);
    checks.push((flow) => set.has(flow.uuid));
  }
  for (const side of SIDES) {
    const values = f[`${side}_ip`];
    if (nonEmpty(values)) {
      const m = ipMatcher(values, `${side}_ip`);
      checks.push((flow) => m(flow.IP?.[side]));
    }
  }
  if (nonEmpty(f.source_ip_xlated)) {
    ipMatcher(f.source_ip_xlated, 'source_ip_xlated');
    checks.push(() => false);
  }
  for (const side of SIDES) {
    const values = f[`${side}_pod`];
    if (nonEmpty(values)) {
      const m = namespacedNameMatcher(values, `${side}_pod`);
      checks.push((flow) => m(flow[side]?.namespace, flow[side]?.pod_name));
    }
  }
  for (const side of SIDES) {
    const values = f[`${side}_service`];
    if (nonEmpty(values)) {
      const m = namespacedNameMatcher(values, `${side}_service`);
      checks.push((flow) => m(flow[`${side}_service`]?.namespace, flow[`${side}_service`]?.name));
    }
  }
  for (const side of SIDES) {
    const values = f[`${side}_fqdn`];
    if (nonEmpty(values)) {
      const m = wrapPatternErrors(() => compileFqdnPatterns(values as string[]), `${side}_fqdn`);
      checks.push((flow) => (flow[`${side}_names`] ?? []).some(m));
    }
  }
  for (const side of SIDES) {
    const values = f[`${side}_label`];
    if (nonEmpty(values)) {
      const selectors = selectorsOf(values, `${side}_label`);
      checks.push((flow) => {
        const labels = parsedLabels(flow[side], flow[side]?.labels);
        return selectors.some((s) => selectorMatches(s, labels));
      });
    }
  }
  if (nonEmpty(f.node_labels)) {
    const selectors = selectorsOf(f.node_labels, 'node_labels');
    checks.push((flow) => {
      const labels = parsedLabels(flow.node_labels, flow.node_labels);
      return selectors.some((s) => selectorMatches(s, labels));
    });
  }
  for (const side of SIDES) {
    const values = f[`${side}_workload`];
    if (nonEmpty(values)) {
      const m = workloadMatcher(values);
      checks.push((flow) => m(flow[side]));
    }
  }
  for (const side of SIDES) {
    const values = f[`${side}_cluster_name`];
    if (nonEmpty(values)) {
      const set = new Set(values);
      checks.push((flow) => set.has(flow[side]?.cluster_name ?? ''));
    }
  }
  if (nonEmpty(f.traffic_direction)) {
    const set = new Set(f.traffic_direction);
    checks.push((flow) => set.has(flow.traffic_direction));
  }
  if (nonEmpty(f.verdict)) {
    const set = new Set(f.verdict);
    checks.push((flow) => set.has(flow.verdict));
  }
  if (nonEmpty(f.drop_reason_desc)) {
    const set = new Set(f.drop_reason_desc);
    checks.push((flow) => flow.drop_reason_desc !== undefined && set.has(flow.drop_reason_desc));
  }
  if (nonEmpty(f.interface)) {
    const wanted = f.interface;
    checks.push((flow) => {
      const itf = flow.interface;
      if (!itf) return false;
      return wanted.some((w) => (!w.index || w.index === itf.index) && (!w.name || w.name === itf.name));
    });
  }
  if (nonEmpty(f.event_type)) {
    const wanted = f.event_type;
    checks.push((flow) => {
      const et = flow.event_type;
      if (!et) return false;
      return wanted.some(
        (w) => (!w.type || w.type === et.type) && (!w.match_sub_type || (w.sub_type ?? 0) === et.sub_type),
      );
    });
  }
  if (nonEmpty(f.http_status_code)) {
    validateHttpStatusCodes(f.http_status_code, f.event_type);
    checks.push(() => false);
  }
  if (nonEmpty(f.http_method) || nonEmpty(f.http_header)) checks.push(() => false);
  if (nonEmpty(f.http_path)) {
    regexpsOf(f.http_path, 'http_path');
    checks.push(() => false);
  }
  if (nonEmpty(f.http_url)) {
    regexpsOf(f.http_url, 'http_url');
    checks.push(() => false);
  }
  if (nonEmpty(f.protocol)) {
    const protocols = f.protocol.map((p) => {
      const lower = p.toLowerCase();
      if (!L4_PROTOCOLS.has(lower) && !L7_PROTOCOLS.has(lower)) {
        throw new FilterError(
          `protocol: unknown protocol ${JSON.stringify(p)} (use tcp, udp, sctp, icmp, icmpv4, icmpv6, vrrp, igmp, dns, http, kafka)`,
        );
      }
      return lower;
    });
    checks.push((flow) => protocols.some((p) => protocolMatches(flow, p)));
  }
  for (const side of SIDES) {
    const values = f[`${side}_port`];
    if (nonEmpty(values)) {
      const ports = portsOf(values, `${side}_port`);
      checks.push((flow) => {
        const port = portOf(flow, side);
        return port !== undefined && ports.has(port);
      });
    }
  }
  if (nonEmpty(f.reply)) {
    const wanted = f.reply;
    checks.push((flow) => wanted.includes(flow.is_reply?.value ?? false));
  }
  if (nonEmpty(f.dns_query)) {
    const res = regexpsOf(f.dns_query, 'dns_query');
    checks.push((flow) => {
      const query = flow.l7?.dns?.query;
      return query !== undefined && res.some((re) => re.test(query));
    });
  }
  for (const side of SIDES) {
    const values = f[`${side}_identity`];
    if (nonEmpty(values)) {
      const set = new Set(values);
      checks.push((flow) => set.has(flow[side]?.identity ?? 0));
    }
  }
  if (nonEmpty(f.tcp_flags)) {
    const wanted = f.tcp_flags;
    checks.push((flow) => {
      const flags = flow.l4?.TCP?.flags;
      return flags !== undefined && wanted.some((w) => tcpFlagsMatch(w, flags));
    });
  }
  if (nonEmpty(f.node_name)) {
    const m = wrapPatternErrors(() => compileNodeNamePatterns(f.node_name as string[]), 'node_name');
    checks.push((flow) => m(flow.node_name));
  }
  if (nonEmpty(f.ip_version)) {
    const set = new Set(f.ip_version);
    checks.push((flow) => set.has(flow.IP?.ipVersion ?? 0));
  }
  if (nonEmpty(f.trace_id)) {
    // Flows carry no trace context: only the empty trace ID matches.
    const matches = f.trace_id.includes('');
    checks.push(() => matches);
  }
  if (nonEmpty(f.ip_trace_id)) {
    const matches = f.ip_trace_id.some((id) => BigInt(id) === 0n);
    checks.push(() => matches);
  }
  if (nonEmpty(f.encrypted)) {
    const wanted = f.encrypted;
    checks.push((flow) => wanted.includes(flow.IP?.encrypted ?? false));
  }

  if (checks.length === 0) return () => true;
  if (checks.length === 1) return checks[0] as FlowPredicate;
  return (flow) => {
    for (const check of checks) if (!check(flow)) return false;
    return true;
  };
}

function wrapPatternErrors<T>(build: () => T, field: string): T {
  try {
    return build();
  } catch (err) {
    throw new FilterError(`${field}: ${(err as Error).message}`);
  }
}

/**
 * The predicate of a request's allow-list and deny-list: a flow passes iff the allow-list is empty or one of its
 * filters matches, and no deny-list filter matches.
 */
export function compileFilterLists(
  whitelist: readonly FlowFilterInput[] | undefined | null,
  blacklist: readonly FlowFilterInput[] | undefined | null,
): FlowPredicate {
  checkFilterLimits(whitelist, blacklist);
  const allow = (whitelist ?? []).map((f, i) => withIndex(() => compileFlowFilter(f), 'whitelist', i));
  const deny = (blacklist ?? []).map((f, i) => withIndex(() => compileFlowFilter(f), 'blacklist', i));
  if (allow.length === 0 && deny.length === 0) return () => true;
  return (flow) => {
    if (allow.length > 0 && !allow.some((p) => p(flow))) return false;
    return !deny.some((p) => p(flow));
  };
}

function withIndex(build: () => FlowPredicate, list: string, index: number): FlowPredicate {
  try {
    return build();
  } catch (err) {
    if (err instanceof FilterError) throw new FilterError(`${list}[${index}].${err.message}`, err.kind);
    throw err;
  }
}

/** Values of one field as counted against the limits: arrays count their elements, a set message counts one. */
function valuesOf(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value === undefined || value === null) return [];
  if (typeof value === 'object') {
    // experimental: { cel_expression: [...] }
    return Object.values(value as Record<string, unknown>).flatMap((v) => (Array.isArray(v) ? v : [v]));
  }
  return [value];
}

function checkString(value: unknown, where: string): void {
  if (typeof value === 'string' && value.length > FILTER_LIMITS.valueLength) {
    throw new FilterError(
      `${where}: a value of ${value.length} characters is longer than the limit of ${FILTER_LIMITS.valueLength}`,
    );
  } else if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value as Record<string, unknown>)) checkString(v, where);
  }
}

/**
 * Refuses requests beyond FILTER_LIMITS before any value is parsed, naming the list, index, field and limit; throws
 * FilterError (`invalid`, or `exhausted` for the whole-request total).
 */
export function checkFilterLimits(
  whitelist: readonly FlowFilterInput[] | undefined | null,
  blacklist: readonly FlowFilterInput[] | undefined | null,
): void {
  let total = 0;
  for (const [name, list] of [
    ['whitelist', whitelist],
    ['blacklist', blacklist],
  ] as const) {
    if (!list) continue;
    if (list.length > FILTER_LIMITS.filtersPerList) {
      throw new FilterError(
        `${name}: ${list.length} filters, more than the limit of ${FILTER_LIMITS.filtersPerList}`,
      );
    }
    list.forEach((filter, index) => {
      for (const [field, raw] of Object.entries(filter ?? {})) {
        const values = valuesOf(raw);
        const where = `${name}[${index}].${field}`;
        if (values.length > FILTER_LIMITS.valuesPerField) {
          throw new FilterError(
            `${where}: ${values.length} values, more than the limit of ${FILTER_LIMITS.valuesPerField} per field`,
          );
        }
        for (const v of values) checkString(v, where);
        total += values.length;
      }
    });
  }
  if (total > FILTER_LIMITS.valuesPerRequest) {
    throw new FilterError(
      `whitelist and blacklist: ${total} filter values in total, more than the limit of ${FILTER_LIMITS.valuesPerRequest} per request`,
      'exhausted',
    );
  }
}
