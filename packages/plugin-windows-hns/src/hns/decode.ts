/**
 * Decoding of what HCN and HNS return: the endpoint ID list, an endpoint's properties and the HNS JSON envelope
 * around endpoint statistics. Pure: text in, typed values or an HnsDecodeError/HnsRequestError naming the field out.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { HnsDecodeError, HnsRequestError } from '../errors.js';
import { canonicalGuid, isGuid } from './guid.js';
import { HCN_ENDPOINT_FLAG_REMOTE } from './query.js';

/** What the plugin needs of one HCN endpoint. */
export interface HnsEndpoint {
  /** Canonical (lower-case) endpoint GUID. */
  id: string;
  name?: string;
  /** The endpoint's IP addresses in HCN's order (the first is the pod's primary IP). */
  ips: string[];
  /** MAC address as `00-15-5D-AA-BB-CC`, when HCN reports a valid one. */
  mac?: string;
  /** True for endpoints of another host (overlay networks). */
  remote: boolean;
  /** The VFP port GUID, when HCN reports the endpoint's port allocator; otherwise found by MAC through vfpctrl. */
  portId?: string;
}

/** HNS endpoint counters, as `/endpointstats/<id>` names them. */
export const HNS_COUNTERS = [
  'PacketsReceived',
  'PacketsSent',
  'BytesReceived',
  'BytesSent',
  'DroppedPacketsIncoming',
  'DroppedPacketsOutgoing',
] as const;

/** One HNS endpoint counter name. */
export type HnsCounterName = (typeof HNS_COUNTERS)[number];

/** The counters HNS reported for an endpoint (a counter HNS left out is absent, not zero). */
export type HnsCounters = Partial<Record<HnsCounterName, number>>;

/** Normalises a MAC address to `00-15-5D-AA-BB-CC`; undefined when `text` does not hold exactly 6 bytes of hex. */
export function normalizeMac(text: string): string | undefined {
  const hex = text.replace(/[\s:.-]/g, '');
  if (!/^[0-9a-f]{12}$/i.test(hex)) return undefined;
  return hex.toUpperCase().match(/../g)!.join('-');
}

function excerpt(text: string, max = 120): string {
  const t = text.trim().replace(/\s+/g, ' ');
  return JSON.stringify(t.length > max ? `${t.slice(0, max)}…` : t);
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new HnsDecodeError(`${what} is not JSON (${(err as Error).message}): ${excerpt(text)}`);
  }
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v = root;
  for (const p of path)
    v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

/** One line per schema problem: `<what>: <field path> <message> (got <value>)`. */
function schemaProblems(what: string, error: z.ZodError, input: unknown): string {
  const problems = error.issues.map((issue) => {
    const field = issue.path.length ? issue.path.map(String).join('.') : '(document)';
    return `${field} ${issue.message} (got ${describeValue(valueAt(input, issue.path))})`;
  });
  return `${what}: ${problems.join('; ')}`;
}

/** Decodes the JSON array of endpoint GUIDs that HcnEnumerateEndpoints returns; empty output means no endpoints. */
export function decodeEndpointIdList(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed === '' || trimmed === 'null') return [];
  const parsed = parseJson(trimmed, 'HcnEnumerateEndpoints output');
  if (!Array.isArray(parsed)) {
    throw new HnsDecodeError(
      `HcnEnumerateEndpoints output must be a JSON array of endpoint GUIDs, got ${excerpt(trimmed)}`,
    );
  }
  const ids = parsed.map((v, i) => {
    if (typeof v !== 'string' || !isGuid(v)) {
      throw new HnsDecodeError(
        `HcnEnumerateEndpoints output: element ${i} must be an endpoint GUID, got ${describeValue(v)}`,
      );
    }
    return canonicalGuid(v);
  });
  return [...new Set(ids)];
}

const optionalString = z.string({ error: 'must be a string' }).nullish();

const endpointSchema = z.looseObject({
  ID: optionalString,
  Id: optionalString,
  Name: optionalString,
  MacAddress: optionalString,
  Flags: z
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .nonnegative()
    .nullish(),
  IpConfigurations: z
    .array(
      z.looseObject({
        IpAddress: z
          .string({ error: 'must be a string' })
          .refine((s) => isIP(s) !== 0, { error: 'must be an IPv4 or IPv6 address' })
          .nullish(),
      }),
      { error: 'must be a list of IP configurations' },
    )
    .nullish(),
  Resources: z
    .looseObject({
      Allocators: z
        .array(z.looseObject({ Tag: optionalString, EndpointPortGuid: optionalString }), {
          error: 'must be a list',
        })
        .nullish(),
    })
    .nullish(),
});

/**
 * Decodes the properties JSON of endpoint `id` (HcnQueryEndpointProperties). Unknown fields are ignored; known
 * fields of the wrong type are errors naming the field. An ID in the document that differs from `id` is an error,
 * so counters are never attributed to another endpoint.
 */
export function decodeEndpoint(text: string, id: string): HnsEndpoint {
  const what = `properties of endpoint ${id}`;
  const parsed = parseJson(text, what);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HnsDecodeError(`${what} must be a JSON object, got ${excerpt(text)}`);
  }
  const result = endpointSchema.safeParse(parsed);
  if (!result.success) throw new HnsDecodeError(schemaProblems(what, result.error, parsed));
  const doc = result.data;

  const expected = canonicalGuid(id);
  const reported = doc.ID ?? doc.Id;
  if (reported && (!isGuid(reported) || canonicalGuid(reported) !== expected)) {
    throw new HnsDecodeError(`${what}: ID is ${JSON.stringify(reported)}, expected ${expected}`);
  }
  const ips = (doc.IpConfigurations ?? []).flatMap((c) => (c.IpAddress ? [c.IpAddress] : []));
  const portGuid = (doc.Resources?.Allocators ?? []).find(
    (a) => a.Tag === 'Endpoint Port' && typeof a.EndpointPortGuid === 'string' && isGuid(a.EndpointPortGuid),
  )?.EndpointPortGuid;
  const mac = doc.MacAddress ? normalizeMac(doc.MacAddress) : undefined;

  return {
    id: expected,
    ...(doc.Name ? { name: doc.Name } : {}),
    ips,
    ...(mac ? { mac } : {}),
    remote: ((doc.Flags ?? 0) & HCN_ENDPOINT_FLAG_REMOTE) !== 0,
    ...(portGuid ? { portId: canonicalGuid(portGuid) } : {}),
  };
}

const envelopeSchema = z.looseObject({
  Success: z.boolean({ error: 'must be true or false' }),
  Error: optionalString,
  Output: z.unknown().optional(),
});

/**
 * Unwraps the HNS JSON call envelope `{ Success, Error, Output }` of a call to `path`: the Output on success, an
 * HnsRequestError carrying HNS's error text otherwise.
 */
export function decodeHnsEnvelope(text: string, path: string): unknown {
  const what = `HNS response to GET ${path}`;
  const parsed = parseJson(text, what);
  const result = envelopeSchema.safeParse(parsed);
  if (!result.success) throw new HnsDecodeError(schemaProblems(what, result.error, parsed));
  if (!result.data.Success) throw new HnsRequestError(path, result.data.Error ?? '');
  return result.data.Output;
}

const counter = z
  .number({ error: 'must be a number' })
  .nonnegative({ error: 'must not be negative' })
  .refine(Number.isInteger, { error: 'must be a whole number' })
  .nullish();

const statsSchema = z.looseObject({
  ...Object.fromEntries(HNS_COUNTERS.map((name) => [name, counter])),
  EndpointId: optionalString,
});

/** Decodes the HNS response to `GET /endpointstats/<id>` into the endpoint's counters. */
export function decodeEndpointStats(text: string, id: string): HnsCounters {
  const path = `/endpointstats/${id}`;
  const output = decodeHnsEnvelope(text, path);
  const what = `statistics of endpoint ${id}`;
  if (typeof output !== 'object' || output === null || Array.isArray(output)) {
    throw new HnsDecodeError(`${what}: Output must be a JSON object, got ${describeValue(output)}`);
  }
  const result = statsSchema.safeParse(output);
  if (!result.success) throw new HnsDecodeError(schemaProblems(`${what}: Output`, result.error, output));
  const doc = result.data as Record<string, unknown>;
  const reported = doc.EndpointId;
  if (
    typeof reported === 'string' &&
    reported !== '' &&
    (!isGuid(reported) || canonicalGuid(reported) !== canonicalGuid(id))
  ) {
    throw new HnsDecodeError(
      `${what}: EndpointId is ${JSON.stringify(reported)}, expected ${canonicalGuid(id)}`,
    );
  }
  const counters: HnsCounters = {};
  for (const name of HNS_COUNTERS) {
    const v = doc[name];
    if (typeof v === 'number') counters[name] = v;
  }
  if (Object.keys(counters).length === 0) {
    throw new HnsDecodeError(`${what}: Output has none of the counters ${HNS_COUNTERS.join(', ')}`);
  }
  return counters;
}
