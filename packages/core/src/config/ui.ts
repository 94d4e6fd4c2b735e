/**
 * The `ui` block: whether the agent serves the web UI of @retina-ts/ui on its own port (off by default). The UI
 * reads the agent's own Hubble server, so it needs `controlPlane: hubble`; the agent checks that when it starts.
 */
import { fields, isEmptyValue, isPlainObject, showValue, type FieldResult } from './schema.js';

/** The validated `ui` block. */
export interface UiConfig {
  enabled: boolean;
  /** Port of the UI's listener (default 10094; 0 asks the OS for a free port). */
  port: number;
  /** Address of the UI's listener (default `127.0.0.1`: the UI has no authentication and starts captures). */
  host?: string;
}

export const UI_DEFAULTS: UiConfig = { enabled: false, port: 10094 };

const UI_KEYS = new Set(['enabled', 'port', 'host']);

/** Parses `ui`; every message names the sub-key (`ui.port: ...`). */
export function parseUi(v: unknown): FieldResult<UiConfig> {
  if (isEmptyValue(v)) return { ok: true, value: { ...UI_DEFAULTS } };
  if (!isPlainObject(v)) return { ok: false, message: `${showValue(v)} is not a mapping (expected enabled, port, host)` };
  for (const key of Object.keys(v)) {
    if (!UI_KEYS.has(key)) return { ok: false, message: `unknown key ui.${key} (allowed: enabled, port, host)` };
  }
  const out: UiConfig = { ...UI_DEFAULTS };
  if (!isEmptyValue(v['enabled'])) {
    const r = fields.bool(v['enabled']);
    if (!r.ok) return { ok: false, message: `ui.enabled: ${r.message}` };
    out.enabled = r.value;
  }
  if (!isEmptyValue(v['port'])) {
    const r = fields.int(0, 65535)(v['port']);
    if (!r.ok) return { ok: false, message: `ui.port: ${r.message}` };
    out.port = r.value;
  }
  if (!isEmptyValue(v['host'])) {
    const r = fields.string(v['host']);
    if (!r.ok) return { ok: false, message: `ui.host: ${r.message}` };
    out.host = r.value;
  }
  return { ok: true, value: out };
}
