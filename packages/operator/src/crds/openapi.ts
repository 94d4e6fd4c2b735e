/**
 * zod schema to the OpenAPI v3 "structural schema" a CustomResourceDefinition carries. zod's own converter
 * (`z.toJSONSchema`, OpenAPI 3.0 target) does the mapping of types; this pass removes what the API server rejects
 * or what only repeats a default: `additionalProperties: false` of closed objects, `propertyNames` of records,
 * the safe-integer bounds zod puts on every integer, and the empty `properties` of open objects. `.meta()` keys such
 * as `description`, `format` and the `x-kubernetes-*` extensions pass through unchanged.
 */
import { z } from 'zod';

/** The part of `JSONSchemaProps` the generated schemas use. */
export interface JSONSchemaProps {
  type?: string;
  description?: string;
  properties?: Record<string, JSONSchemaProps>;
  additionalProperties?: JSONSchemaProps | boolean;
  items?: JSONSchemaProps;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  anyOf?: JSONSchemaProps[];
  [key: string]: unknown;
}

function clean(s: Record<string, unknown>): JSONSchemaProps {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === '$schema' || k === 'propertyNames' || k === 'id') continue;
    if (k === 'additionalProperties' && v === false) continue;
    if ((k === 'minimum' || k === 'maximum') && typeof v === 'number' && Math.abs(v) === Number.MAX_SAFE_INTEGER) continue;
    if (k === 'properties') {
      const props = Object.fromEntries(Object.entries(v as Record<string, Record<string, unknown>>).map(([p, ps]) => [p, clean(ps)]));
      if (Object.keys(props).length > 0) out.properties = props;
      continue;
    }
    if (k === 'additionalProperties' && typeof v === 'object' && v !== null) {
      // An open object (`z.looseObject({})`) is `additionalProperties: {}`: a bare `type: object` says the same.
      if (Object.keys(v).length > 0) out.additionalProperties = clean(v as Record<string, unknown>);
      continue;
    }
    if (k === 'items' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      out.items = clean(v as Record<string, unknown>);
      continue;
    }
    if (k === 'anyOf' && Array.isArray(v)) {
      out.anyOf = v.map((x) => clean(x as Record<string, unknown>));
      continue;
    }
    out[k] = v;
  }
  return out as JSONSchemaProps;
}

/** The OpenAPI v3 schema of `schema`, as the API server accepts it in a CRD version's `openAPIV3Schema`. */
export function toStructuralSchema(schema: z.ZodType): JSONSchemaProps {
  return clean(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw' }) as Record<string, unknown>);
}
