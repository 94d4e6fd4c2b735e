/**
 * The workload's configuration, from the environment a capture Job sets (Retina's variable names) or from the
 * `retina-capture` command line. Reading secrets and the environment happens at the edge; the mapping is pure.
 */
import { hostname, tmpdir } from 'node:os';
import { parseDuration } from '@retina-ts/core';
import {
  BLOB_SECRET_KEY,
  BLOB_SECRET_MOUNT_PATH,
  CaptureDefaults,
  Env,
  PVC_MOUNT_PATH,
  S3_SECRET_ACCESS_KEY_ID,
  S3_SECRET_MOUNT_PATH,
  S3_SECRET_SECRET_ACCESS_KEY,
} from '../model/constants.js';
import { andFilters, checkUserFilter } from '../model/filter.js';
import { parseCaptureTimestamp } from '../model/naming.js';
import { parseTcpdumpFlags } from '../model/tcpdump.js';

/** S3 destination with its credentials. */
export interface S3OutputConfig {
  bucket: string;
  region?: string;
  endpoint?: string;
  /** Key prefix (default `retina/captures`). */
  path?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
}

/** Where the tarball goes. Every set field is an output. */
export interface WorkloadOutputs {
  /** Absolute directory on the host (already confined under the base directory). */
  hostPath?: string;
  /** Directory where the PVC is mounted. */
  pvcDir?: string;
  /** Azure Blob container SAS URL. */
  blobSasUrl?: string;
  s3?: S3OutputConfig;
}

/** Everything one run of the capture workload needs. */
export interface WorkloadConfig {
  captureName: string;
  nodeName: string;
  /** Names the artifacts; the same for every node of one capture. */
  startTime: Date;
  /** Stop after this long (whole seconds); 0/undefined: no time limit. */
  durationMs?: number;
  /** Non-rotating: stop once the file exceeds this many MiB. Rotating: per-file size in MB. */
  maxSizeMB?: number;
  /** Rotating capture with this many files. */
  fileCount?: number;
  /** Snap length; 0/undefined: whole packets. */
  packetSize?: number;
  /** Interfaces; empty: all (`-i any`). */
  interfaces: string[];
  includeMetadata: boolean;
  /** The final pcap filter expression. */
  filter?: string;
  tcpdumpFlags: string[];
  outputs: WorkloadOutputs;
  /** Directory under which the capture directory and tarball are made (default: the OS temp dir). */
  workDir: string;
}

/** A configuration value that is missing or malformed, naming the variable or flag. */
export class WorkloadConfigError extends Error {
  override name = 'WorkloadConfigError';
}

/** Reads a secret file; undefined when it does not exist or cannot be read. */
export type SecretReader = (path: string) => string | undefined;

/** Trims whitespace, newlines and surrounding quotes that editors and `echo` leave in secret values. */
export function cleanSecretValue(v: string): string {
  return v.trim().replace(/^["']+|["']+$/g, '').trim();
}

/** Parses a non-negative integer variable; undefined when empty. */
export function parseCount(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (!/^\d+$/.test(value.trim())) throw new WorkloadConfigError(`${name}: "${value}" is not a non-negative integer`);
  return Number(value.trim());
}

/** Parses a Go duration to whole seconds in ms (the workload's resolution); undefined when empty. */
export function parseDurationSeconds(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const ms = parseDuration(value);
  if (ms === undefined || ms < 0) throw new WorkloadConfigError(`${name}: "${value}" is not a duration such as 30s or 1m`);
  return Math.floor(ms / 1000) * 1000;
}

/** The user filter (PCAP_FILTER, else the deprecated TCPDUMP_RAW_FILTER) joined with the system filter. */
export function combineFilters(
  pcapFilter: string | undefined,
  rawFilter: string | undefined,
  systemFilter: string | undefined,
  warn: (msg: string) => void = () => {},
): string | undefined {
  let user: string | undefined;
  if (pcapFilter !== undefined && pcapFilter !== '') {
    if (rawFilter) warn(`${Env.PcapFilter} and ${Env.TcpdumpRawFilter} are both set; using ${Env.PcapFilter}`);
    user = checkUserFilter(pcapFilter, Env.PcapFilter);
  } else if (rawFilter !== undefined && rawFilter !== '') {
    user = checkUserFilter(rawFilter, Env.TcpdumpRawFilter);
  }
  const system = systemFilter?.trim() ? systemFilter.trim() : undefined;
  return andFilters(user, system);
}

/** Builds the configuration from a capture Job's environment and its mounted secrets. */
export function workloadConfigFromEnv(
  env: Record<string, string | undefined>,
  readSecret: SecretReader,
  options: { warn?: (msg: string) => void; now?: Date; workDir?: string } = {},
): WorkloadConfig {
  const captureName = env[Env.CaptureName]?.trim();
  if (!captureName) throw new WorkloadConfigError(`${Env.CaptureName} is not set: the capture Job must name its capture`);
  const ts = env[Env.StartTimestamp]?.trim();
  const outputs: WorkloadOutputs = {};
  if (env[Env.HostPath]?.trim()) outputs.hostPath = env[Env.HostPath]!.trim();
  if (env[Env.PersistentVolumeClaim]?.trim()) outputs.pvcDir = PVC_MOUNT_PATH;
  const sas = readSecret(`${BLOB_SECRET_MOUNT_PATH}/${BLOB_SECRET_KEY}`);
  if (sas !== undefined && cleanSecretValue(sas) !== '') outputs.blobSasUrl = cleanSecretValue(sas);
  const bucket = env[Env.S3Bucket]?.trim();
  const endpoint = env[Env.S3Endpoint]?.trim() || undefined;
  const region = env[Env.S3Region]?.trim() || undefined;
  if (bucket && (endpoint || region)) {
    const id = readSecret(`${S3_SECRET_MOUNT_PATH}/${S3_SECRET_ACCESS_KEY_ID}`);
    const key = readSecret(`${S3_SECRET_MOUNT_PATH}/${S3_SECRET_SECRET_ACCESS_KEY}`);
    outputs.s3 = {
      bucket,
      ...(endpoint ? { endpoint } : {}),
      ...(region ? { region } : {}),
      path: env[Env.S3Path]?.trim() || CaptureDefaults.s3Path,
      ...(id !== undefined ? { accessKeyId: cleanSecretValue(id) } : {}),
      ...(key !== undefined ? { secretAccessKey: cleanSecretValue(key) } : {}),
    };
  }
  const maxSizeMB = parseCount(env[Env.MaxSize], Env.MaxSize);
  const fileCount = parseCount(env[Env.FileCount], Env.FileCount);
  const packetSize = parseCount(env[Env.PacketSize], Env.PacketSize);
  const durationMs = parseDurationSeconds(env[Env.Duration], Env.Duration);
  return {
    captureName,
    nodeName: env[Env.NodeHostName]?.trim() || hostname(),
    startTime: ts ? parseCaptureTimestamp(ts) : (options.now ?? new Date()),
    ...(durationMs !== undefined ? { durationMs } : {}),
    ...(maxSizeMB !== undefined ? { maxSizeMB } : {}),
    ...(fileCount !== undefined ? { fileCount } : {}),
    ...(packetSize !== undefined ? { packetSize } : {}),
    interfaces: (env[Env.Interfaces] ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    // Retina's translator always sets it; an empty or unparsable value means false.
    includeMetadata: env[Env.IncludeMetadata]?.trim().toLowerCase() === 'true',
    filter: combineFilters(env[Env.PcapFilter], env[Env.TcpdumpRawFilter], env[Env.TcpdumpFilter], options.warn),
    tcpdumpFlags: parseTcpdumpFlags(env[Env.TcpdumpFlags]),
    outputs,
    workDir: options.workDir ?? tmpdir(),
  };
}

/** Outputs as text for logs: where each goes, never a credential. */
export function describeOutputs(o: WorkloadOutputs): string[] {
  const out: string[] = [];
  if (o.hostPath) out.push(`hostPath ${o.hostPath}`);
  if (o.pvcDir) out.push(`pvc ${o.pvcDir}`);
  if (o.blobSasUrl) out.push(`blob ${redactUrl(o.blobSasUrl)}`);
  if (o.s3) out.push(`s3 ${o.s3.bucket}/${o.s3.path ?? ''}`);
  return out;
}

/** A URL without its query string and user info (where SAS tokens and passwords live). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?<redacted>' : ''}`;
  } catch {
    return '<unparsable URL>';
  }
}
