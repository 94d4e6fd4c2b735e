/**
 * Enriched flows → OTLP log records. The flow stream is never slowed: each batch is only appended to a bounded
 * queue (overflow dropped and counted); the conversion to Hubble's JSON form, the FlowFilter check and the hand-off
 * to the SDK's batch processor run later, a bounded number per event-loop turn. Records handed to the SDK but not
 * yet acknowledged by the receiver count against the same bound, so a receiver that is down or slow costs memory
 * up to `maxQueueSize` records and then only counted drops.
 */
import { SeverityNumber, type Logger as OtelLogger } from '@opentelemetry/api-logs';
import type { ExportResult } from '@opentelemetry/core';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { Verdict, type Flow, type Logger } from '@retina-ts/core';
import {
  flowProtocol,
  hubbleTypes,
  toPbFlow,
  type FlowPredicate,
  type PbEndpoint,
  type PbFlow,
} from '@retina-ts/hubble';
import { flowResponseJson } from './hubble-json.js';
import { exportOnce } from './transport.js';

/** Flows this many at most are converted in one event-loop turn. */
export const FLOWS_PER_TURN = 256;

/** Where enriched flows come from (the agent's EnrichedFlows, or a FlowBus). */
export interface FlowSource {
  subscribe(fn: (flows: readonly Flow[]) => void): () => void;
}

/** Counts the pipeline keeps (also exposed as self-metrics by the exporter). */
export interface FlowLogCounts {
  /** Acknowledged by the receiver. */
  exported: number;
  /** Not matching the allow list, or matching the deny list. */
  filtered: number;
  /** Dropped because queue and in-flight records reached `maxQueueSize`. */
  droppedQueueFull: number;
  /** Handed to the receiver but refused, timed out or unreachable. */
  droppedExportFailed: number;
}

/** Hooks called as counts change (the exporter feeds its prom-client counters from them). */
export interface FlowLogHooks {
  exported?(n: number): void;
  filtered?(n: number): void;
  dropped?(reason: 'queue_full' | 'export_failed', n: number): void;
  /** An export failed (called at most once per `failureLogIntervalMs`). */
  exportFailed?(message: string, records: number): void;
}

/** Wraps the SDK exporter to learn when records leave (acknowledged or failed). */
export class AccountingLogExporter implements LogRecordExporter {
  constructor(
    private readonly inner: LogRecordExporter,
    private readonly done: (records: number, result: ExportResult) => void,
  ) {}

  export(logs: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
    exportOnce(
      (finish) => this.inner.export(logs, finish),
      (result) => this.done(logs.length, result),
      resultCallback,
    );
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

/** Options of `FlowLogPipeline`. */
export interface FlowLogPipelineOptions {
  source: FlowSource;
  /** The SDK logger records are emitted to. */
  otelLogger: OtelLogger;
  /** Allow/deny lists compiled with the Hubble package. */
  filter: FlowPredicate;
  nodeName: string;
  clusterName?: string;
  /** Queued plus in-flight records at most. */
  maxQueueSize: number;
  logger: Logger;
  hooks?: FlowLogHooks;
}

function endpointAttributes(side: 'source' | 'destination', ep: PbEndpoint | undefined, out: Record<string, string>): void {
  if (!ep) return;
  if (ep.namespace) out[`${side}.namespace`] = ep.namespace;
  if (ep.pod_name) out[`${side}.pod`] = ep.pod_name;
  const workload = ep.workloads?.[0];
  if (workload?.name) {
    out[`${side}.workload`] = workload.name;
    if (workload.kind) out[`${side}.workload_kind`] = workload.kind;
  }
}

/** The attributes of a flow's log record: who talked to whom, verdict, drop reason and protocol. */
export function flowAttributes(pb: PbFlow): Record<string, string> {
  const types = hubbleTypes();
  const out: Record<string, string> = {};
  endpointAttributes('source', pb.source, out);
  endpointAttributes('destination', pb.destination, out);
  if (pb.IP) {
    out['source.ip'] = pb.IP.source;
    out['destination.ip'] = pb.IP.destination;
  }
  out['verdict'] = types.verdict.valuesById[pb.verdict] ?? String(pb.verdict);
  if (pb.verdict === Verdict.DROPPED && pb.drop_reason_desc !== undefined) {
    out['drop_reason'] = types.dropReason.valuesById[pb.drop_reason_desc] ?? String(pb.drop_reason_desc);
  }
  out['protocol'] = flowProtocol(pb);
  out['traffic_direction'] = types.trafficDirection.valuesById[pb.traffic_direction] ?? String(pb.traffic_direction);
  return out;
}

/** Turns enriched flows into OTLP log records, bounded and off the flow stream's call path. */
export class FlowLogPipeline {
  readonly counts: FlowLogCounts = { exported: 0, filtered: 0, droppedQueueFull: 0, droppedExportFailed: 0 };
  readonly #opts: FlowLogPipelineOptions;
  /** Flows waiting for conversion; `#head` is the next one (a moving index, so dequeuing does not shift). */
  #queue: Flow[] = [];
  #head = 0;
  /** Records emitted to the SDK and not yet acknowledged or failed. */
  #inFlight = 0;
  #scheduled: NodeJS.Immediate | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #structType = hubbleTypes().struct;

  constructor(opts: FlowLogPipelineOptions) {
    this.#opts = opts;
  }

  /** Queued flows plus records in flight. */
  get pending(): number {
    return this.#queue.length - this.#head + this.#inFlight;
  }

  /** Starts following the flow source. */
  start(): void {
    this.#unsubscribe ??= this.#opts.source.subscribe((batch) => this.#accept(batch));
  }

  /** Stops following; flows still queued are converted and emitted (for a final flush). */
  stop(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#scheduled) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
    this.#drain(Infinity);
  }

  /** Called by the accounting exporter when records leave the SDK. */
  settled(records: number, result: ExportResult): void {
    this.#inFlight = Math.max(0, this.#inFlight - records);
    if (result.code === 0) {
      this.counts.exported += records;
      this.#opts.hooks?.exported?.(records);
    } else {
      this.counts.droppedExportFailed += records;
      this.#opts.hooks?.dropped?.('export_failed', records);
      this.#opts.hooks?.exportFailed?.(result.error?.message ?? 'export failed', records);
    }
  }

  #accept(batch: readonly Flow[]): void {
    const room = this.#opts.maxQueueSize - this.pending;
    const take = Math.max(0, Math.min(room, batch.length));
    for (let i = 0; i < take; i++) this.#queue.push(batch[i] as Flow);
    const dropped = batch.length - take;
    if (dropped > 0) this.#dropQueueFull(dropped);
    if (take > 0) this.#schedule();
  }

  #dropQueueFull(n: number): void {
    this.counts.droppedQueueFull += n;
    this.#opts.hooks?.dropped?.('queue_full', n);
  }

  #schedule(): void {
    this.#scheduled ??= setImmediate(() => {
      this.#scheduled = undefined;
      this.#drain(FLOWS_PER_TURN);
      if (this.#head < this.#queue.length) this.#schedule();
    });
  }

  #drain(budget: number): void {
    const { filter, nodeName, clusterName, otelLogger, logger } = this.#opts;
    let filtered = 0;
    let n = 0;
    while (this.#head < this.#queue.length && n < budget) {
      const flow = this.#queue[this.#head] as Flow;
      this.#head++;
      n++;
      try {
        const pb = toPbFlow(flow, {
          nodeName,
          ...(clusterName ? { clusterName } : {}),
          structType: this.#structType,
        });
        if (!filter(pb)) {
          filtered++;
          continue;
        }
        this.#inFlight++;
        otelLogger.emit({
          timestamp: [Number(flow.timeNs / 1_000_000_000n), Number(flow.timeNs % 1_000_000_000n)],
          severityNumber: pb.verdict === Verdict.DROPPED ? SeverityNumber.WARN : SeverityNumber.INFO,
          severityText: pb.verdict === Verdict.DROPPED ? 'WARN' : 'INFO',
          body: flowResponseJson(pb),
          attributes: flowAttributes(pb),
        });
      } catch (err) {
        // One malformed flow must not stop the others; it is counted as filtered out of the export.
        filtered++;
        logger.warn({ err: (err as Error).message }, 'a flow could not be converted to a log record');
      }
    }
    // Compact once the consumed prefix is large, so the array does not grow without bound.
    if (this.#head >= this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 4096) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    if (filtered > 0) {
      this.counts.filtered += filtered;
      this.#opts.hooks?.filtered?.(filtered);
    }
  }
}
