/**
 * The operator's configuration file (`operator-config.yaml` of Retina's chart): capture settings, CRD installation
 * and which controllers run are read; telemetry keys are accepted so Retina's ConfigMap loads unchanged.
 */
import { readFile } from 'node:fs/promises';
import { posix } from 'node:path';
import { parse } from 'yaml';
import { DEFAULT_HOST_PATH_BASE_DIR } from '@retina-ts/capture';

/** What the operator needs. */
export interface OperatorConfig {
  /** Most Jobs one Capture may create (0: no limit). */
  captureJobNumLimit: number;
  /** Absolute directory hostPath outputs are confined to. */
  captureHostPathBaseDir: string;
  /** Use the debug image ($RETINA_AGENT_IMAGE) for capture Jobs. */
  captureDebug: boolean;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Create or update the retina.sh CRDs at start. */
  installCRDs: boolean;
  /** Agents run in remote context (with enableRetinaEndpoint, the operator keeps RetinaEndpoints). */
  remoteContext: boolean;
  /** Keep one RetinaEndpoint per pod (only with remoteContext, as Retina); Retina's default is true. */
  enableRetinaEndpoint: boolean;
}

/** A configuration value that cannot be used, naming the key. */
export class OperatorConfigError extends Error {
  override name = 'OperatorConfigError';
}

/** Defaults of every key. */
export const DEFAULT_OPERATOR_CONFIG: OperatorConfig = {
  captureJobNumLimit: 0,
  captureHostPathBaseDir: DEFAULT_HOST_PATH_BASE_DIR,
  captureDebug: false,
  logLevel: 'info',
  installCRDs: false,
  remoteContext: false,
  enableRetinaEndpoint: true,
};

function bool(v: unknown, key: string, source: string): boolean {
  if (v === true || v === 'true') return true;
  if (v === false || v === 'false') return false;
  throw new OperatorConfigError(`${source}: ${key} "${String(v)}" must be true or false`);
}

/** Parses the YAML text of the configuration (pure). */
export function parseOperatorConfig(text: string, source = 'operator config'): OperatorConfig {
  let raw: unknown;
  try {
    raw = parse(text) ?? {};
  } catch (err) {
    throw new OperatorConfigError(`${source}: not valid YAML: ${(err as Error).message}`);
  }
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new OperatorConfigError(`${source}: expected a mapping of keys to values`);
  const r = raw as Record<string, unknown>;
  const cfg = { ...DEFAULT_OPERATOR_CONFIG };
  if (r.captureJobNumLimit !== undefined) {
    const n = Number(r.captureJobNumLimit);
    if (!Number.isInteger(n) || n < 0) throw new OperatorConfigError(`${source}: captureJobNumLimit "${String(r.captureJobNumLimit)}" must be a non-negative integer`);
    cfg.captureJobNumLimit = n;
  }
  if (r.captureHostPathBaseDir !== undefined && r.captureHostPathBaseDir !== '') {
    const d = String(r.captureHostPathBaseDir);
    if (!posix.isAbsolute(d)) throw new OperatorConfigError(`${source}: captureHostPathBaseDir "${d}" must be an absolute path`);
    cfg.captureHostPathBaseDir = posix.normalize(d).replace(/(.)\/+$/, '$1');
  }
  if (r.captureDebug !== undefined) cfg.captureDebug = r.captureDebug === true || r.captureDebug === 'true';
  for (const key of ['installCRDs', 'remoteContext', 'enableRetinaEndpoint'] as const) {
    if (r[key] !== undefined && r[key] !== null && r[key] !== '') cfg[key] = bool(r[key], key, source);
  }
  if (r.logLevel !== undefined && r.logLevel !== '') {
    const l = String(r.logLevel).toLowerCase();
    if (!['debug', 'info', 'warn', 'error'].includes(l)) throw new OperatorConfigError(`${source}: logLevel "${l}" must be debug, info, warn or error`);
    cfg.logLevel = l as OperatorConfig['logLevel'];
  }
  return cfg;
}

/** Reads the configuration file; defaults when no path is given. */
export async function loadOperatorConfig(path?: string): Promise<OperatorConfig> {
  if (!path) return { ...DEFAULT_OPERATOR_CONFIG };
  return parseOperatorConfig(await readFile(path, 'utf8'), path);
}
