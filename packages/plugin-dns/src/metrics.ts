/** The metric families the dns plugin writes. */
import { LostEventType, PRODUCED_METRIC_NAMES, type MetricsModule } from '@retina-ts/core';

/** Upper bounds (seconds) of the latency histogram: 0.5 ms for a node-local cache up to 10 s for timeouts. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Name of the latency histogram (without the `networkobservability_` prefix; core's catalog spells it). */
export const LATENCY_METRIC = PRODUCED_METRIC_NAMES.dnsResponseLatencySeconds;
/** Name of the parse-error counter (without the prefix). */
export const PARSE_ERRORS_METRIC = PRODUCED_METRIC_NAMES.dnsParseErrors;
/** `reason` of lost_events_counter for everything this plugin loses. */
export const LOST_EVENTS_REASON = 'dns';

type RequestCounter = MetricsModule['basic']['dnsRequestCount'];
type ResponseCounter = MetricsModule['basic']['dnsResponseCount'];
type LatencyHistogram = ReturnType<MetricsModule['histogram']>;
type PlainCounter = ReturnType<MetricsModule['counter']>;

/** Something that counts: a prom-client counter child (`counter.labels(...)`). */
export interface Increment {
  inc(value?: number): void;
}

/** Handles on the families the plugin writes. */
export interface DnsMetrics {
  /** networkobservability_dns_request_count{query_type, query} */
  requests: RequestCounter;
  /** networkobservability_dns_response_count{query_type, query, return_code, response, num_response} */
  responses: ResponseCounter;
  /** networkobservability_dns_response_latency_seconds{query_type, return_code} */
  latency: LatencyHistogram;
  /** networkobservability_dns_parse_errors_total{reason} */
  parseErrors: PlainCounter;
  /** Records the kernel could not write because the ring buffer was full. */
  lostInKernel: Increment;
  /** Records read from the ring buffer but dropped because user space had fallen behind. */
  lostInReader: Increment;
}

/** Registers (or finds) the plugin's families in `metrics`. */
export function dnsMetrics(metrics: MetricsModule): DnsMetrics {
  return {
    requests: metrics.basic.dnsRequestCount,
    responses: metrics.basic.dnsResponseCount,
    latency: metrics.histogram({
      name: LATENCY_METRIC,
      help: 'Time from a DNS request to its response, matched by transaction id and 5-tuple, in seconds',
      labelNames: ['query_type', 'return_code'],
      buckets: LATENCY_BUCKETS_SECONDS,
    }),
    parseErrors: metrics.counter({
      name: PARSE_ERRORS_METRIC,
      help: 'DNS packets that could not be decoded, by the part that failed',
      labelNames: ['reason'],
    }),
    lostInKernel: metrics.self.lostEventsCounter.labels({
      type: LostEventType.KERNEL,
      reason: LOST_EVENTS_REASON,
    }),
    lostInReader: metrics.self.lostEventsCounter.labels({
      type: LostEventType.BUFFERED_CHANNEL,
      reason: LOST_EVENTS_REASON,
    }),
  };
}

/** Removes every series the plugin wrote (at stop, so a restarted plugin starts its label caps afresh). */
export function resetDnsMetrics(m: DnsMetrics): void {
  m.requests.reset();
  m.responses.reset();
  m.latency.reset();
  m.parseErrors.reset();
}
