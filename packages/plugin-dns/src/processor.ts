/**
 * DnsEventProcessor: turns ring-buffer records into metric increments, latency observations and flows. No kernel
 * access, so it is driven directly by unit tests, the fuzz test and the benchmark.
 */
import type { Flow } from '@retina-ts/core';
import type { RecordBatch } from '@retina-ts/bpf-runtime';
import { RequestTracker, exchangeKey, type RequestTrackerStats } from './correlate.js';
import {
  DNS_EVENT_HEADER_SIZE,
  DnsDecodeError,
  PARSE_ERROR_REASONS,
  decodeEventHeader,
  parseDnsMessage,
  type DnsEventHeader,
  type DnsMessage,
  type ParseErrorReason,
} from './decode.js';
import { dnsFlow } from './flow.js';
import {
  BoundedLabelValues,
  answerIps,
  queryLabel,
  queryTypeLabel,
  responseLabel,
  returnCodeLabel,
} from './labels.js';
import type { DnsMetrics } from './metrics.js';

/** What the processor needs to know of the plugin's options. */
export interface DnsProcessorOptions {
  maxQueries: number;
  maxQueryTypes: number;
  maxResponses: number;
  queryTrailingDot: boolean;
  requestTimeoutMs: number;
  maxPendingRequests: number;
}

/** The processor's outputs. */
export interface DnsProcessorDeps {
  metrics: DnsMetrics;
  /** Receives one flow per message; leave out when flows are not wanted (they are then never built). */
  emit?: (flow: Flow) => boolean;
  nodeName: string;
  /** Unix time minus CLOCK_MONOTONIC, in ns (kernel timestamps are CLOCK_MONOTONIC). */
  monoToEpochNs: bigint;
  /** Name of an interface by index, when known. */
  interfaceName?: (ifindex: number) => string | undefined;
  /** Told about every record that could not be decoded (the metric is already counted). */
  onParseError?: (error: DnsDecodeError) => void;
}

/** Counters of a processor since it was created. */
export interface DnsProcessorStats {
  /** Records handed in. */
  records: number;
  /** Messages counted as requests. */
  requests: number;
  /** Messages counted as responses. */
  responses: number;
  /** Records that could not be decoded, by reason. */
  parseErrors: Record<ParseErrorReason, number>;
  /** Flows accepted by the FlowBus. */
  flowsEmitted: number;
  /** Flows the FlowBus refused (it was full; the bus counts them as lost). */
  flowsRefused: number;
  /** Request/response matching. */
  latency: RequestTrackerStats;
  /** Label lookups answered with `other` because of the caps. */
  queriesFolded: number;
  responsesFolded: number;
}

type RequestLabels = { query_type: string; query: string };
type ResponseLabels = RequestLabels & { return_code: string; response: string; num_response: string };

/** Counts per label set within one batch; flushed to prom-client once per batch (one hash per series, not per record). */
class PendingIncrements<L extends Record<string, string>> {
  readonly #pending = new Map<string, { labels: L; n: number }>();

  add(key: string, labels: () => L): void {
    const entry = this.#pending.get(key);
    if (entry) entry.n++;
    else this.#pending.set(key, { labels: labels(), n: 1 });
  }

  flush(inc: (labels: L, n: number) => void): void {
    for (const { labels, n } of this.#pending.values()) inc(labels, n);
    this.#pending.clear();
  }
}

/** Decodes DNS records and updates the DNS metrics; optionally emits flows. */
export class DnsEventProcessor {
  readonly #deps: DnsProcessorDeps;
  readonly #options: DnsProcessorOptions;
  readonly #queries: BoundedLabelValues;
  readonly #queryTypes: BoundedLabelValues;
  readonly #responses: BoundedLabelValues;
  readonly #tracker: RequestTracker;
  readonly #requestCounts = new PendingIncrements<RequestLabels>();
  readonly #responseCounts = new PendingIncrements<ResponseLabels>();
  readonly #parseErrors: Record<ParseErrorReason, number>;
  readonly #latencyLabels = new Map<string, { query_type: string; return_code: string }>();
  #records = 0;
  #requests = 0;
  #responsesCounted = 0;
  #flowsEmitted = 0;
  #flowsRefused = 0;

  constructor(options: DnsProcessorOptions, deps: DnsProcessorDeps) {
    this.#options = options;
    this.#deps = deps;
    this.#queries = new BoundedLabelValues(options.maxQueries);
    this.#queryTypes = new BoundedLabelValues(options.maxQueryTypes);
    this.#responses = new BoundedLabelValues(options.maxResponses);
    this.#tracker = new RequestTracker(options.requestTimeoutMs * 1e6, options.maxPendingRequests);
    this.#parseErrors = Object.fromEntries(PARSE_ERROR_REASONS.map((r) => [r, 0])) as Record<
      ParseErrorReason,
      number
    >;
    // Every reason is exposed from the start (at 0), so a rate over it works before the first error.
    for (const reason of PARSE_ERROR_REASONS) deps.metrics.parseErrors.inc({ reason }, 0);
  }

  /** Processes every record of a ring-buffer batch, then flushes the counters. */
  processBatch(batch: RecordBatch): void {
    const { buffer, offsets, lengths, count } = batch;
    for (let i = 0; i < count; i++) this.#process(buffer, offsets[i] as number, lengths[i] as number);
    this.flush();
  }

  /** Processes one record (`length` bytes at `offset` of `buf`); call flush() to publish the counts. */
  processRecord(buf: Buffer, offset: number, length: number): void {
    this.#process(buf, offset, length);
  }

  /** Adds the counts gathered since the last flush to the metric families. */
  flush(): void {
    const { requests, responses } = this.#deps.metrics;
    this.#requestCounts.flush((labels, n) => requests.inc(labels, n));
    this.#responseCounts.flush((labels, n) => responses.inc(labels, n));
  }

  /** Counters since creation. */
  stats(): DnsProcessorStats {
    return {
      records: this.#records,
      requests: this.#requests,
      responses: this.#responsesCounted,
      parseErrors: { ...this.#parseErrors },
      flowsEmitted: this.#flowsEmitted,
      flowsRefused: this.#flowsRefused,
      latency: this.#tracker.stats(),
      queriesFolded: this.#queries.folded,
      responsesFolded: this.#responses.folded,
    };
  }

  #process(buf: Buffer, offset: number, length: number): void {
    this.#records++;
    let header: DnsEventHeader;
    let message: DnsMessage;
    try {
      header = decodeEventHeader(buf, offset, length);
      const start = offset + DNS_EVENT_HEADER_SIZE;
      message = parseDnsMessage(buf.subarray(start, start + header.capturedLength), header.messageLength);
    } catch (err) {
      const error = err instanceof DnsDecodeError ? err : new DnsDecodeError('record', String(err));
      this.#parseErrors[error.reason]++;
      this.#deps.metrics.parseErrors.inc({ reason: error.reason });
      this.#deps.onParseError?.(error);
      return;
    }
    const tsNs = Number(header.tsNs);

    const queryType = this.#queryTypes.label(queryTypeLabel(message.questions));
    const query = this.#queries.label(queryLabel(message.questions, this.#options.queryTrailingDot));
    let latencyNs: number | undefined;
    if (!message.isResponse) {
      this.#requests++;
      this.#requestCounts.add(`${queryType}\0${query}`, () => ({ query_type: queryType, query }));
      this.#tracker.request(
        exchangeKey(
          header.protocol,
          header.source,
          header.sourcePort,
          header.destination,
          header.destinationPort,
          message.id,
        ),
        tsNs,
      );
    } else {
      this.#responsesCounted++;
      const returnCode = returnCodeLabel(message.rcode);
      const response = this.#responses.label(responseLabel(answerIps(message.answers)));
      const numResponse = String(message.answerCount);
      this.#responseCounts.add(`${queryType}\0${query}\0${returnCode}\0${response}\0${numResponse}`, () => ({
        query_type: queryType,
        query,
        return_code: returnCode,
        response,
        num_response: numResponse,
      }));
      latencyNs = this.#tracker.response(
        exchangeKey(
          header.protocol,
          header.destination,
          header.destinationPort,
          header.source,
          header.sourcePort,
          message.id,
        ),
        tsNs,
      );
      if (latencyNs !== undefined)
        this.#deps.metrics.latency.observe(this.#latencyLabelsFor(queryType, returnCode), latencyNs / 1e9);
    }

    const emit = this.#deps.emit;
    if (emit) {
      const flow = dnsFlow(header, message, {
        nodeName: this.#deps.nodeName,
        monoToEpochNs: this.#deps.monoToEpochNs,
        interfaceName: this.#deps.interfaceName?.(header.ifindex),
        latencyNs,
      });
      if (emit(flow)) this.#flowsEmitted++;
      else this.#flowsRefused++;
    }
  }

  #latencyLabelsFor(queryType: string, returnCode: string): { query_type: string; return_code: string } {
    const key = `${queryType}\0${returnCode}`;
    let labels = this.#latencyLabels.get(key);
    if (!labels) {
      labels = { query_type: queryType, return_code: returnCode };
      this.#latencyLabels.set(key, labels);
    }
    return labels;
  }
}
