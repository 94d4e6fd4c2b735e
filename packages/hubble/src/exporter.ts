/**
 * Hubble's flow export: every flow of the ring that passes the allow- and deny-lists, as one JSON line in the form of
 * Hubble's exporter (a GetFlowsResponse in protojson with proto field names: `{"flow":{...},"node_name":...,
 * "time":...}`), to a file rotated by size with a bounded number of backups. Log shippers that read Hubble's export
 * file read this one.
 *
 * The exporter follows the ring like a GetFlows client: it never slows the intake. It converts a bounded number of
 * entries per event-loop turn, and what it cannot keep up with (entries overwritten before it read them, or lines
 * beyond the bytes allowed to wait for the disk) is counted as dropped, never queued without bound.
 */
import { createWriteStream, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type protobuf from 'protobufjs';
import type { Logger } from '@retina-ts/core';
import { FilterError } from './filter/errors.js';
import type { FlowFilterInput, FlowPredicate } from './filter/flow-filter.js';
import { compileFilterLists } from './filter/flow-filter.js';
import { maskFlow } from './getflows.js';
import { hubbleTypes } from './protos.js';
import type { FlowRing, RingEntry } from './ring.js';
import type { PbFlow, PbTimestamp } from './wire.js';
import { nsOfTimestamp } from './wire.js';

/** Settings of the export (Retina's `hubble-export-*` keys). */
export interface FlowExportOptions {
  /** The file written; rotated files sit beside it as `<name>-<UTC time><ext>`. */
  filePath: string;
  /** Size in MiB after which the file is rotated (default 10). */
  maxSizeMb?: number;
  /** Rotated files kept (default 5; 0 keeps none). */
  maxBackups?: number;
  /** Only flows matching one of these filters are exported (all when empty). */
  allowlist?: FlowFilterInput[];
  /** Flows matching one of these filters are not exported. */
  denylist?: FlowFilterInput[];
  /** Flow fields exported (proto names, `.` for nesting); the whole flow when empty. */
  fieldMask?: string[];
}

/** Defaults of the export, as Hubble's. */
export const FLOW_EXPORT_DEFAULTS = { maxSizeMb: 10, maxBackups: 5 } as const;

/** Ring entries converted per event-loop turn. */
const ENTRIES_PER_TURN = 512;
/** Bytes allowed to wait for the disk before lines are dropped. */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;
const MAX_FILTER_TEXT = 64 * 1024;

/** Counters of the export. */
export interface FlowExportStats {
  /** Lines written. */
  exported: number;
  /** Flows filtered out by the allow- or deny-list. */
  filtered: number;
  /** Flows lost: overwritten in the ring before the exporter read them, or refused while the disk lagged. */
  dropped: number;
  /** Rotations done. */
  rotations: number;
  /** Write errors (each also logged once per kind). */
  errors: number;
}

/** Timestamp as protojson prints it: RFC 3339 in UTC with as many fraction digits as needed (0, 3, 6 or 9). */
export function protojsonTime(t: PbTimestamp | undefined): string {
  const ns = t ? nsOfTimestamp(t) : 0n;
  const seconds = ns / 1_000_000_000n;
  const nanos = Number(ns % 1_000_000_000n);
  const base = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  if (nanos === 0) return `${base}Z`;
  let frac = String(nanos).padStart(9, '0');
  if (frac.endsWith('000000')) frac = frac.slice(0, 3);
  else if (frac.endsWith('000')) frac = frac.slice(0, 6);
  return `${base}.${frac}Z`;
}

type Json = Record<string, unknown>;

/**
 * The protojson form (proto field names, enum names, 64-bit integers as strings, well-known types in their JSON
 * forms) of a GetFlowsResponse carrying `flow`.
 */
export function exportLine(flow: Partial<PbFlow>, nodeName: string, time: PbTimestamp): string {
  const types = hubbleTypes();
  const json = types.flow.toObject(types.flow.fromObject(flow), { enums: String, longs: String }) as Json;
  if (flow.time) json['time'] = protojsonTime(flow.time);
  if (flow.is_reply) json['is_reply'] = flow.is_reply.value;
  if (flow.extensions) {
    const struct = types.struct.toObject(types.struct.decode(flow.extensions.value), { json: true }) as {
      fields?: Record<string, unknown>;
    };
    json['extensions'] = { '@type': flow.extensions.type_url, ...structJson(struct.fields ?? {}) };
  }
  return JSON.stringify({ flow: json, node_name: nodeName, time: protojsonTime(time) });
}

/** google.protobuf.Struct fields as plain JSON (protojson's form of Struct). */
function structJson(fields: Record<string, unknown>): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(fields)) out[k] = valueJson(v as Json);
  return out;
}

function valueJson(v: Json): unknown {
  if ('numberValue' in v) return v['numberValue'];
  if ('stringValue' in v) return v['stringValue'];
  if ('boolValue' in v) return v['boolValue'];
  if ('structValue' in v) return structJson(((v['structValue'] as Json)['fields'] as Record<string, unknown>) ?? {});
  if ('listValue' in v) return (((v['listValue'] as Json)['values'] as Json[]) ?? []).map(valueJson);
  return null;
}

/**
 * Parses a `hubble-export-allowlist` / `-denylist` value: FlowFilter objects in JSON (protojson names, enum names or
 * numbers), one after the other or as an array. Throws naming the key and what is wrong.
 */
export function parseExportFilters(text: string | undefined, key: string): FlowFilterInput[] {
  const src = (text ?? '').trim();
  if (src === '') return [];
  if (src.length > MAX_FILTER_TEXT) throw new Error(`${key}: ${src.length} characters; at most ${MAX_FILTER_TEXT}`);
  let values: unknown[];
  try {
    values = src.startsWith('[') ? (JSON.parse(src) as unknown[]) : splitJsonObjects(src).map((s) => JSON.parse(s) as unknown);
  } catch (err) {
    throw new Error(`${key}: not JSON FlowFilter objects (e.g. {"verdict":["DROPPED"]}): ${(err as Error).message}`);
  }
  const type = hubbleTypes().root.lookupType('flow.FlowFilter');
  return values.map((v, i) => {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${key}[${i}]: not a JSON object`);
    for (const [field, value] of Object.entries(v)) {
      const spec = type.fields[field];
      if (!spec) throw new Error(`${key}[${i}].${field}: not a FlowFilter field`);
      // fromObject turns an unknown enum name into 0 without a word; a typo must not widen the filter.
      const e = spec.resolve().resolvedType;
      if (e && 'values' in e && !('fields' in e)) {
        const known = (e as protobuf.Enum).values;
        for (const item of Array.isArray(value) ? value : [value]) {
          if (typeof item === 'string' && !(item in known)) {
            throw new Error(`${key}[${i}].${field}: ${JSON.stringify(item)} is not one of ${Object.keys(known).join(', ')}`);
          }
        }
      }
    }
    const invalid = type.verify(v);
    // verify rejects enum names, which fromObject accepts; only structural errors matter here.
    if (invalid && !/enum value(\[\])? expected/.test(invalid)) throw new Error(`${key}[${i}]: ${invalid}`);
    let msg: protobuf.Message;
    try {
      msg = type.fromObject(v);
    } catch (err) {
      throw new Error(`${key}[${i}]: ${(err as Error).message}`);
    }
    return type.toObject(msg, { enums: Number, longs: Number }) as FlowFilterInput;
  });
}

/** Splits `{...} {...}` (whitespace or nothing between) into the objects' texts. */
function splitJsonObjects(src: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}') {
      if (--depth === 0) out.push(src.slice(start, i + 1));
      if (depth < 0) throw new Error(`unbalanced } at ${i}`);
    } else if (depth === 0 && !/\s|,/.test(c ?? '')) {
      throw new Error(`unexpected ${JSON.stringify(c)} at ${i}`);
    }
  }
  if (depth !== 0 || inString) throw new Error('unterminated object');
  return out;
}

/** Splits a `hubble-export-fieldmask` value (paths separated by spaces or commas). */
export function parseFieldMask(text: string | undefined): string[] {
  return (text ?? '').split(/[\s,]+/).filter((p) => p !== '');
}

/** A file written line by line and rotated by size, keeping `maxBackups` rotated files. */
class RotatingFile {
  readonly #path: string;
  readonly #maxBytes: number;
  readonly #maxBackups: number;
  readonly #onError: (err: Error) => void;
  #stream: WriteStream;
  #size: number;
  /** Time of the newest rotated file's name, in ms: names stay unique and in order within one millisecond. */
  #lastStampMs = 0;
  rotations = 0;

  constructor(path: string, maxBytes: number, maxBackups: number, onError: (err: Error) => void) {
    this.#path = path;
    this.#maxBytes = maxBytes;
    this.#maxBackups = maxBackups;
    this.#onError = onError;
    mkdirSync(dirname(path), { recursive: true });
    let size = 0;
    try {
      size = statSync(path).size;
    } catch {
      // a new file
    }
    this.#size = size;
    this.#stream = this.#open();
  }

  #open(): WriteStream {
    // Opened here, not by the stream: the descriptor then names this file even after a rotation renames it.
    const s = createWriteStream('', { fd: openSync(this.#path, 'a') });
    s.on('error', this.#onError);
    return s;
  }

  /** Bytes handed over but not written yet. */
  get pending(): number {
    return this.#stream.writableLength;
  }

  write(line: string): void {
    const bytes = Buffer.byteLength(line) + 1;
    if (this.#size > 0 && this.#size + bytes > this.#maxBytes) this.#rotate();
    this.#stream.write(`${line}\n`);
    this.#size += bytes;
  }

  #rotate(): void {
    const old = this.#stream;
    // The old stream still flushes what it holds: it was opened on the file now renamed, so it lands there.
    old.end();
    const ext = extname(this.#path);
    const stem = basename(this.#path, ext);
    this.#lastStampMs = Math.max(Date.now(), this.#lastStampMs + 1);
    const stamp = new Date(this.#lastStampMs).toISOString().replace(/:/g, '-');
    try {
      renameSync(this.#path, join(dirname(this.#path), `${stem}-${stamp}${ext}`));
      this.#prune(stem, ext);
    } catch (err) {
      this.#onError(err as Error);
    }
    this.rotations++;
    this.#size = 0;
    this.#stream = this.#open();
  }

  #prune(stem: string, ext: string): void {
    const dir = dirname(this.#path);
    const rotated = readdirSync(dir)
      .filter((f) => f.startsWith(`${stem}-`) && f.endsWith(ext) && f !== basename(this.#path))
      .sort();
    for (const f of rotated.slice(0, Math.max(0, rotated.length - this.#maxBackups))) {
      rmSync(join(dir, f), { force: true });
    }
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#stream.end(() => resolve()));
  }
}

/** Follows a flow ring and writes its flows to the export file. */
export class FlowExporter {
  readonly stats: FlowExportStats = { exported: 0, filtered: 0, dropped: 0, rotations: 0, errors: 0 };
  readonly #ring: FlowRing;
  readonly #file: RotatingFile;
  readonly #predicate: FlowPredicate;
  readonly #mask: string[] | undefined;
  readonly #logger: Logger | undefined;
  readonly #unsubscribe: () => void;
  readonly #loggedErrors = new Set<string>();
  #cursor: number;
  #scheduled = false;
  #stopped = false;

  /** Starts exporting the flows pushed to `ring` from now on; throws naming the option when one is unusable. */
  constructor(ring: FlowRing, options: FlowExportOptions, logger?: Logger) {
    const maxSizeMb = options.maxSizeMb ?? FLOW_EXPORT_DEFAULTS.maxSizeMb;
    const maxBackups = options.maxBackups ?? FLOW_EXPORT_DEFAULTS.maxBackups;
    if (!(maxSizeMb > 0) || !Number.isFinite(maxSizeMb)) {
      throw new Error(`hubble-export-file-max-size-mb: ${String(maxSizeMb)} is not a positive number of MiB`);
    }
    if (!Number.isInteger(maxBackups) || maxBackups < 0) {
      throw new Error(`hubble-export-file-max-backups: ${String(maxBackups)} is not a count of files (0 or more)`);
    }
    try {
      this.#predicate = compileFilterLists(options.allowlist, options.denylist);
    } catch (err) {
      if (err instanceof FilterError) throw new Error(`hubble-export-allowlist/denylist: ${err.message}`);
      throw err;
    }
    this.#mask = options.fieldMask && options.fieldMask.length > 0 ? options.fieldMask : undefined;
    this.#ring = ring;
    this.#logger = logger;
    this.#file = new RotatingFile(options.filePath, maxSizeMb * 1024 * 1024, maxBackups, (err) => this.#error(err));
    this.#cursor = ring.end;
    this.#unsubscribe = ring.onPush(() => this.#schedule());
  }

  #error(err: Error): void {
    this.stats.errors++;
    const key = (err as NodeJS.ErrnoException).code ?? err.message;
    if (this.#loggedErrors.has(key)) return;
    this.#loggedErrors.add(key);
    this.#logger?.error({ err: err.message }, 'hubble flow export: write failed');
  }

  #schedule(): void {
    if (this.#scheduled || this.#stopped) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#drain();
    });
  }

  /** Writes up to ENTRIES_PER_TURN entries; schedules itself again while more are waiting. */
  #drain(): void {
    const ring = this.#ring;
    if (this.#cursor < ring.start) {
      this.stats.dropped += ring.start - this.#cursor;
      this.#cursor = ring.start;
    }
    const end = Math.min(ring.end, this.#cursor + ENTRIES_PER_TURN);
    for (; this.#cursor < end; this.#cursor++) {
      const entry = ring.get(this.#cursor);
      if (entry?.flow === undefined || entry.lost) continue;
      this.#export(entry);
    }
    this.stats.rotations = this.#file.rotations;
    if (this.#cursor < ring.end && !this.#stopped) this.#schedule();
  }

  #export(entry: RingEntry): void {
    const flow = entry.flow as PbFlow;
    if (!this.#predicate(flow)) {
      this.stats.filtered++;
      return;
    }
    if (this.#file.pending > MAX_PENDING_BYTES) {
      this.stats.dropped++;
      return;
    }
    const shown = this.#mask ? maskFlow(flow, this.#mask) : flow;
    this.#file.write(exportLine(shown, flow.node_name, entry.time));
    this.stats.exported++;
  }

  /** Writes what is waiting and closes the file. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    while (this.#cursor < this.#ring.end) this.#drain();
    this.#unsubscribe();
    await this.#file.close();
  }
}
