/**
 * Validation of a Capture: the CRD schema's rules (types, enums, patterns, limits) and the cross-field rules the
 * operator and CLI enforce, each reported with the field path it concerns.
 */
import { isIP } from 'node:net';
import { parseDuration } from '@retina-ts/core';
import { parseFilterEntry } from './filter.js';
import { resolveHostPath } from './hostpath.js';
import type { Capture, CaptureSpec, LabelSelector } from './types.js';
import { DEFAULT_HOST_PATH_BASE_DIR } from './constants.js';

/** One problem with a Capture: the field path (e.g. `spec.captureConfiguration.captureOption.fileCount`) and why. */
export interface CaptureIssue {
  field: string;
  message: string;
}

/** A Capture that failed validation; `issues` lists every problem found. */
export class CaptureValidationError extends Error {
  override name = 'CaptureValidationError';
  constructor(readonly issues: readonly CaptureIssue[]) {
    super(issues.map((i) => `${i.field}: ${i.message}`).join('; '));
  }
}

/** Options of validation. */
export interface ValidateOptions {
  /** Base directory hostPath outputs are confined to (default /var/log/retina/captures). */
  hostPathBaseDir?: string;
}

const DURATION_RE = /^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$/;
const VERBOSITY = ['', 'verbose', 'extra', 'max'];
const PRINT_DATA = ['', 'hex', 'hex-with-link', 'ascii', 'ascii-with-link'];
const TIMESTAMP = ['', 'none', 'unformatted', 'delta', 'date', 'delta-since-first'];
const OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'];
const LABEL_VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

type Add = (field: string, message: string) => void;

const isObj = (v: unknown): boolean => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkType(add: Add, field: string, v: unknown, type: 'string' | 'boolean' | 'integer' | 'string[]'): boolean {
  if (v === undefined || v === null) return false;
  const ok =
    type === 'integer'
      ? Number.isInteger(v)
      : type === 'string[]'
        ? Array.isArray(v) && v.every((s) => typeof s === 'string')
        : typeof v === type;
  if (!ok) add(field, `must be ${type === 'string[]' ? 'a list of strings' : `a${type === 'integer' ? 'n' : ''} ${type}`}, got ${JSON.stringify(v)}`);
  return ok;
}

function checkSelector(add: Add, field: string, sel: unknown): boolean {
  if (sel === undefined || sel === null) return false;
  if (!isObj(sel)) {
    add(field, 'must be a label selector object ({ matchLabels?, matchExpressions? })');
    return false;
  }
  const s = sel as LabelSelector;
  if (s.matchLabels !== undefined) {
    if (!isObj(s.matchLabels)) add(`${field}.matchLabels`, 'must be a map of label keys to values');
    else {
      for (const [k, v] of Object.entries(s.matchLabels)) {
        if (typeof v !== 'string' || !LABEL_VALUE_RE.test(v) || v.length > 63) {
          add(`${field}.matchLabels.${k}`, `"${String(v)}" is not a valid label value`);
        }
      }
    }
  }
  (s.matchExpressions ?? []).forEach((e, i) => {
    const f = `${field}.matchExpressions[${i}]`;
    if (!e || typeof e.key !== 'string' || e.key === '') add(`${f}.key`, 'is required');
    if (!OPERATORS.includes(e?.operator)) add(`${f}.operator`, `"${String(e?.operator)}" must be one of ${OPERATORS.join(', ')}`);
    const needsValues = e?.operator === 'In' || e?.operator === 'NotIn';
    const n = e?.values?.length ?? 0;
    if (needsValues && n === 0) add(`${f}.values`, `must be non-empty for operator ${e.operator}`);
    if (!needsValues && n > 0) add(`${f}.values`, `must be empty for operator ${String(e?.operator)}`);
  });
  return true;
}

/** Every problem with `spec` (paths start at `spec.`). */
export function captureSpecIssues(spec: unknown, options: ValidateOptions = {}): CaptureIssue[] {
  const issues: CaptureIssue[] = [];
  const add: Add = (field, message) => issues.push({ field, message });
  if (!isObj(spec)) {
    add('spec', 'is required');
    return issues;
  }
  const s = spec as unknown as CaptureSpec;
  const cc = s.captureConfiguration;
  const C = 'spec.captureConfiguration';
  if (!isObj(cc)) add(C, 'is required');
  else {
    const t = cc.captureTarget;
    const T = `${C}.captureTarget`;
    if (!isObj(t)) add(T, 'is required: set nodeSelector, podSelector (with namespaceSelector) or podNames');
    else {
      const node = checkSelector(add, `${T}.nodeSelector`, t.nodeSelector);
      const ns = checkSelector(add, `${T}.namespaceSelector`, t.namespaceSelector);
      const pod = checkSelector(add, `${T}.podSelector`, t.podSelector);
      const names = checkType(add, `${T}.podNames`, t.podNames, 'string[]') && (t.podNames?.length ?? 0) > 0;
      if (node && (ns || pod || names)) {
        add(`${T}.nodeSelector`, 'is incompatible with namespaceSelector, podSelector and podNames: choose nodes or pods');
      } else if (names && (ns || pod)) {
        add(`${T}.podNames`, 'is incompatible with namespaceSelector and podSelector');
      } else if (!node && !pod && !names) {
        add(T, ns ? 'namespaceSelector needs a podSelector' : 'neither nodeSelector, namespaceSelector&podSelector, nor podNames is set');
      }
    }
    const f = cc.filters;
    if (f !== undefined && f !== null) {
      for (const key of ['include', 'exclude'] as const) {
        if (!checkType(add, `${C}.filters.${key}`, f[key], 'string[]')) continue;
        f[key]!.forEach((entry, i) => {
          try {
            parseFilterEntry(entry);
          } catch (err) {
            add(`${C}.filters.${key}[${i}]`, (err as Error).message);
          }
        });
      }
    }
    checkType(add, `${C}.includeMetadata`, cc.includeMetadata, 'boolean');
    const checkFilterText = (field: string, v: unknown) => {
      if (!checkType(add, field, v, 'string')) return;
      const text = v as string;
      if (text.length > 1024) add(field, `is ${text.length} characters long; at most 1024 are allowed`);
      if (text.includes('-')) add(field, 'must not contain "-": only a BPF expression is allowed, no tcpdump flags');
      if (text.trim() === '') add(field, 'is blank: remove it or write a BPF expression');
    };
    checkFilterText(`${C}.tcpdumpFilter`, cc.tcpdumpFilter);
    const o = cc.captureOption ?? {};
    const O = `${C}.captureOption`;
    if (!isObj(o)) add(O, 'must be an object');
    else {
      if (checkType(add, `${O}.duration`, o.duration, 'string')) {
        if (!DURATION_RE.test(o.duration!) || parseDuration(o.duration!) === undefined) {
          add(`${O}.duration`, `"${o.duration}" is not a duration such as 30s, 1m or 1h30m`);
        }
      }
      if (checkType(add, `${O}.packetSize`, o.packetSize, 'integer') && o.packetSize! < 0) {
        add(`${O}.packetSize`, 'must be 0 (whole packets) or a positive number of bytes');
      }
      const hasMax = checkType(add, `${O}.maxCaptureSize`, o.maxCaptureSize, 'integer');
      if (hasMax && o.maxCaptureSize! < 1) add(`${O}.maxCaptureSize`, 'must be at least 1 (MB)');
      if (checkType(add, `${O}.fileCount`, o.fileCount, 'integer')) {
        if (o.fileCount! < 1) add(`${O}.fileCount`, 'must be at least 1');
        else if (!hasMax) add(`${O}.fileCount`, 'requires maxCaptureSize (the size of each rotating file)');
      }
      const durationSet = typeof o.duration === 'string' && o.duration !== '';
      if (!durationSet && !hasMax) add(O, 'neither duration nor maxCaptureSize is set to stop the capture');
      checkType(add, `${O}.interfaces`, o.interfaces, 'string[]');
      checkFilterText(`${O}.pcapFilter`, o.pcapFilter);
      for (const key of ['sourceIPs', 'destinationIPs'] as const) {
        if (!checkType(add, `${O}.${key}`, o[key], 'string[]')) continue;
        if (o[key]!.length > 100) add(`${O}.${key}`, `has ${o[key]!.length} entries; at most 100 are allowed`);
        o[key]!.forEach((ip, i) => {
          if (isIP(ip) === 0) add(`${O}.${key}[${i}]`, `"${ip}" is not an IP address`);
        });
        if (o[key]!.length > 0 && typeof cc.tcpdumpFilter === 'string' && cc.tcpdumpFilter !== '') {
          add(`${O}.${key}`, 'cannot be combined with the deprecated tcpdumpFilter; move the filter to pcapFilter');
        }
      }
      for (const key of [
        'noPromiscuous',
        'packetBuffered',
        'immediateMode',
        'noResolveDNS',
        'noResolvePort',
        'printLinkHeader',
        'quietOutput',
        'absoluteSeq',
        'dontVerifyChecksum',
      ] as const) {
        checkType(add, `${O}.${key}`, o[key], 'boolean');
      }
      for (const [key, allowed] of [
        ['verbosity', VERBOSITY],
        ['printDataFormat', PRINT_DATA],
        ['timestampFormat', TIMESTAMP],
      ] as const) {
        const v = o[key];
        if (v !== undefined && !allowed.includes(v as string)) {
          add(`${O}.${key}`, `"${String(v)}" must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
        }
      }
    }
  }

  const out = s.outputConfiguration;
  const U = 'spec.outputConfiguration';
  if (!isObj(out)) add(U, 'is required: set hostPath, persistentVolumeClaim, blobUpload or s3Upload');
  else {
    const host = checkType(add, `${U}.hostPath`, out.hostPath, 'string');
    if (host) {
      try {
        resolveHostPath(options.hostPathBaseDir ?? DEFAULT_HOST_PATH_BASE_DIR, out.hostPath!, `${U}.hostPath`);
      } catch (err) {
        issues.push({ field: `${U}.hostPath`, message: (err as Error).message.replace(`${U}.hostPath `, '') });
      }
    }
    const pvc = checkType(add, `${U}.persistentVolumeClaim`, out.persistentVolumeClaim, 'string') && out.persistentVolumeClaim !== '';
    const blob = checkType(add, `${U}.blobUpload`, out.blobUpload, 'string') && out.blobUpload !== '';
    let s3 = false;
    if (out.s3Upload !== undefined && out.s3Upload !== null) {
      if (!isObj(out.s3Upload)) add(`${U}.s3Upload`, 'must be an object');
      else {
        s3 = true;
        const S = `${U}.s3Upload`;
        if (typeof out.s3Upload.bucket !== 'string' || out.s3Upload.bucket === '') add(`${S}.bucket`, 'is required');
        if (typeof out.s3Upload.secretName !== 'string' || out.s3Upload.secretName === '') {
          add(`${S}.secretName`, 'is required: the Secret holding s3-access-key-id and s3-secret-access-key');
        }
        if (checkType(add, `${S}.endpoint`, out.s3Upload.endpoint, 'string') && out.s3Upload.endpoint !== '') {
          try {
            new URL(out.s3Upload.endpoint!);
          } catch {
            add(`${S}.endpoint`, `"${out.s3Upload.endpoint}" is not a URL such as https://s3.example.com`);
          }
        }
        checkType(add, `${S}.region`, out.s3Upload.region, 'string');
        checkType(add, `${S}.path`, out.s3Upload.path, 'string');
      }
    }
    if (!host && !pvc && !blob && !s3) {
      add(U, 'no output is set: set hostPath, persistentVolumeClaim, blobUpload or s3Upload');
    }
    if (s.cleanUpAfterUpload === true && !pvc && !blob && !s3) {
      add('spec.cleanUpAfterUpload', 'requires blobUpload, s3Upload or persistentVolumeClaim, or the capture would be deleted with nowhere to keep it');
    }
  }
  checkType(add, 'spec.cleanUpAfterUpload', s.cleanUpAfterUpload, 'boolean');
  return issues;
}

/** Every problem with a whole Capture object (metadata and spec). */
export function captureIssues(capture: unknown, options: ValidateOptions = {}): CaptureIssue[] {
  const issues: CaptureIssue[] = [];
  if (!isObj(capture)) return [{ field: '', message: 'a Capture must be an object' }];
  const c = capture as unknown as Capture;
  const name = c.metadata?.name;
  if (typeof name !== 'string' || name === '') issues.push({ field: 'metadata.name', message: 'is required' });
  else if (!NAME_RE.test(name) || name.length > 63) {
    issues.push({
      field: 'metadata.name',
      message: `"${name}" must be at most 63 lowercase letters, digits, "-" or "." (it names jobs and labels)`,
    });
  }
  return [...issues, ...captureSpecIssues(c.spec, options)];
}

/** Throws CaptureValidationError listing every problem, or returns the capture typed. */
export function validateCapture(capture: unknown, options: ValidateOptions = {}): Capture {
  const issues = captureIssues(capture, options);
  if (issues.length > 0) throw new CaptureValidationError(issues);
  return capture as Capture;
}
