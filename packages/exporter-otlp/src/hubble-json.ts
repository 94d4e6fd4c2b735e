/**
 * A flow in Hubble's JSON form: what `hubble observe -o json` prints and Hubble's file exporter writes, a
 * `GetFlowsResponse` (`{flow, node_name, time}`) in proto3 JSON with proto field names and enums by name.
 * protobufjs does the message walk; the well-known types it leaves as messages (Timestamp, BoolValue, the Struct
 * inside Any) are rewritten to their proto3 JSON forms.
 */
import { hubbleTypes, nsOfTimestamp, type PbFlow } from '@retina-ts/hubble';

/** A JSON value as a log record body carries it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

const CONVERSION = { longs: String, enums: String, json: true } as const;

/** RFC 3339 with nanoseconds, as proto3 JSON writes a Timestamp. */
export function rfc3339(ts: { seconds?: string | number | null; nanos?: number | null }): string {
  const ns = nsOfTimestamp(ts);
  const ms = Number(ns / 1_000_000n);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = (ns % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

/** google.protobuf.Value (as protobufjs objects it, either case) to the plain JSON value. */
function valueToJson(v: Record<string, unknown>): JsonValue {
  const get = (snake: string, camel: string): unknown => v[snake] ?? v[camel];
  const s = get('string_value', 'stringValue');
  if (s !== undefined) return s as string;
  const n = get('number_value', 'numberValue');
  if (n !== undefined) return n as number;
  const b = get('bool_value', 'boolValue');
  if (b !== undefined) return b as boolean;
  const st = get('struct_value', 'structValue');
  if (st !== undefined) return structToJson(st as Record<string, unknown>);
  const l = get('list_value', 'listValue') as { values?: Record<string, unknown>[] } | undefined;
  if (l !== undefined) return (l.values ?? []).map(valueToJson);
  return null;
}

function structToJson(s: Record<string, unknown>): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {};
  for (const [k, v] of Object.entries((s['fields'] ?? {}) as Record<string, Record<string, unknown>>)) {
    out[k] = valueToJson(v);
  }
  return out;
}

/** The flow.Flow of `pb` in proto3 JSON (proto names, enums by name, well-known types in their JSON forms). */
export function flowToJson(pb: PbFlow): { [k: string]: JsonValue } {
  const { flow: type, struct } = hubbleTypes();
  const obj = type.toObject(type.fromObject(pb), CONVERSION) as Record<string, unknown>;
  if (pb.time) obj['time'] = rfc3339(pb.time);
  if (pb.is_reply) obj['is_reply'] = pb.is_reply.value ?? false;
  if (pb.extensions?.value) {
    const decoded = struct.toObject(struct.decode(pb.extensions.value as Uint8Array), CONVERSION) as Record<
      string,
      unknown
    >;
    obj['extensions'] = { '@type': pb.extensions.type_url, value: structToJson(decoded) };
  }
  return obj as { [k: string]: JsonValue };
}

/** The `GetFlowsResponse` form of a flow: `{flow, node_name, time}`. */
export function flowResponseJson(pb: PbFlow): { [k: string]: JsonValue } {
  const flow = flowToJson(pb);
  const out: { [k: string]: JsonValue } = { flow };
  if (pb.node_name) out['node_name'] = pb.node_name;
  if (flow['time'] !== undefined) out['time'] = flow['time'];
  return out;
}
