/**
 * The OTLP exporter of the agent: a MeterProvider whose periodic reader exports the agent's prom-client
 * registries through `PromRegistryProducer`, and, with `flows: true`, a LoggerProvider fed by `FlowLogPipeline`.
 * Both carry one resource: `service.name=retina-ts`, `service.version`, `k8s.node.name`, `k8s.cluster.name`, plus
 * the configured `resourceAttributes`.
 */
import type { ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { PRODUCED_SELF_METRIC_NAMES, type Logger, type MetricsModule, type OtlpExporterConfig } from '@retina-ts/core';
import { compileFilterLists, FilterError, hubbleTypes, type FlowFilterInput, type FlowPredicate } from '@retina-ts/hubble';
import { AccountingLogExporter, FlowLogPipeline, type FlowLogCounts, type FlowSource } from './flow-logs.js';
import { PromRegistryProducer } from './metrics-producer.js';
import { createLogExporter, createMetricExporter, exportOnce, OtlpConfigError, readTlsMaterial } from './transport.js';

/** What `startOtlpExporter` needs from the agent. */
export interface StartOtlpExporterArgs {
  config: OtlpExporterConfig;
  /** The metrics module whose registries /metrics serves. */
  metrics: MetricsModule;
  /** Enriched flows (required when `config.flows` is on). */
  flows?: FlowSource;
  nodeName: string;
  clusterName?: string;
  /** `service.version` (the agent's version). */
  serviceVersion: string;
  logger: Logger;
  /** When the agent started counting (ms since the epoch): the start time of cumulative series. */
  startedMs?: number;
}

/** A running exporter. */
export interface OtlpExporter {
  /** Exports what is pending now (metrics collected now, queued flow logs). */
  forceFlush(): Promise<void>;
  /** Stops following flows, flushes within `deadlineMs`, and closes the exporters. Idempotent. */
  stop(deadlineMs?: number): Promise<void>;
  /** Flow log counts (undefined without `flows`). */
  readonly flowCounts: Readonly<FlowLogCounts> | undefined;
}

/** Failures are logged at most this often per signal; every one is counted. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

function rateLimitedWarn(logger: Logger, what: string): (message: string, extra?: Record<string, unknown>) => void {
  let last = -Infinity;
  let suppressed = 0;
  return (message, extra = {}) => {
    const now = Date.now();
    if (now - last < FAILURE_LOG_INTERVAL_MS) {
      suppressed++;
      return;
    }
    logger.warn({ ...extra, err: message, suppressedSinceLast: suppressed }, `OTLP ${what} export failed`);
    last = now;
    suppressed = 0;
  };
}

/** Wraps the metric exporter to count and log outcomes. */
class AccountingMetricExporter implements PushMetricExporter {
  constructor(
    private readonly inner: PushMetricExporter,
    private readonly done: (result: ExportResult) => void,
  ) {}

  export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
    exportOnce((finish) => this.inner.export(metrics, finish), this.done, resultCallback);
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/**
 * Compiles `allowList`/`denyList` (Hubble FlowFilters as YAML writes them: proto field names, enums by name or
 * number) into one predicate; errors name the list, the index and the field.
 */
export function compileFlowLogFilter(allowList: readonly object[], denyList: readonly object[]): FlowPredicate {
  const type = hubbleTypes().root.lookupType('flow.FlowFilter');
  const decode = (list: readonly object[], name: string): FlowFilterInput[] =>
    list.map((raw, i) => {
      for (const [key, value] of Object.entries(raw)) {
        const field = type.fields[key];
        if (!field) throw new OtlpConfigError(`exporters.otlp.${name}[${i}]: unknown FlowFilter field "${key}"`);
        const enumType = field.resolvedType;
        if (enumType && 'values' in enumType && !('fields' in enumType)) {
          for (const v of Array.isArray(value) ? value : [value]) {
            const known = typeof v === 'number' ? v in enumType.valuesById : typeof v === 'string' && v in enumType.values;
            if (!known) {
              throw new OtlpConfigError(
                `exporters.otlp.${name}[${i}].${key}: ${JSON.stringify(v)} is not one of ${Object.keys(enumType.values).join(', ')}`,
              );
            }
          }
        }
      }
      try {
        return type.toObject(type.fromObject(raw), { enums: Number, longs: String }) as FlowFilterInput;
      } catch (err) {
        throw new OtlpConfigError(`exporters.otlp.${name}[${i}]: ${(err as Error).message}`);
      }
    });
  const allow = decode(allowList, 'allowList');
  const deny = decode(denyList, 'denyList');
  try {
    return compileFilterLists(allow, deny);
  } catch (err) {
    if (err instanceof FilterError) {
      const message = err.message.replace(/^whitelist/, 'allowList').replace(/^blacklist/, 'denyList');
      throw new OtlpConfigError(`exporters.otlp.${message}`);
    }
    throw err;
  }
}

/** The resource every exported signal carries. */
export function exporterResourceAttributes(args: StartOtlpExporterArgs): Record<string, string | number | boolean> {
  return {
    'service.name': 'retina-ts',
    'service.version': args.serviceVersion,
    'k8s.node.name': args.nodeName,
    ...(args.clusterName ? { 'k8s.cluster.name': args.clusterName } : {}),
    ...args.config.resourceAttributes,
  };
}

/** Starts exporting; throws OtlpConfigError (naming the key) when TLS files or flow filters are unusable. */
export async function startOtlpExporter(args: StartOtlpExporterArgs): Promise<OtlpExporter> {
  const { config, metrics, logger } = args;
  const tls = readTlsMaterial(config);
  const filter = config.flows ? compileFlowLogFilter(config.allowList, config.denyList) : undefined;
  if (config.flows && !args.flows) throw new OtlpConfigError('exporters.otlp.flows: no flow source was given');
  const resource = resourceFromAttributes(exporterResourceAttributes(args));

  const exports = metrics.counter({
    name: PRODUCED_SELF_METRIC_NAMES.otlpExports,
    help: 'OTLP export requests by signal and result',
    labelNames: ['signal', 'result'] as const,
  });

  let meterProvider: MeterProvider | undefined;
  if (config.metrics) {
    const warn = rateLimitedWarn(logger, 'metrics');
    const exporter = new AccountingMetricExporter(await createMetricExporter(config, tls), (result) => {
      const ok = result.code === 0;
      exports.inc({ signal: 'metrics', result: ok ? 'success' : 'failure' });
      if (!ok) warn(result.error?.message ?? 'export failed', { endpoint: config.endpoint });
    });
    const reader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: config.intervalMs,
      exportTimeoutMillis: config.timeoutMs,
      metricProducers: [new PromRegistryProducer([metrics.registry, metrics.advanced.registry], args.startedMs)],
    });
    meterProvider = new MeterProvider({ resource, readers: [reader] });
  }

  let loggerProvider: LoggerProvider | undefined;
  let pipeline: FlowLogPipeline | undefined;
  if (config.flows && filter && args.flows) {
    const dropped = metrics.counter({
      name: PRODUCED_SELF_METRIC_NAMES.otlpFlowLogsDropped,
      help: 'Flow log records not delivered: queue_full (queue and in-flight records at maxQueueSize) or export_failed',
      labelNames: ['reason'] as const,
    });
    const exported = metrics.counter({
      name: PRODUCED_SELF_METRIC_NAMES.otlpFlowLogsExported,
      help: 'Flow log records the OTLP receiver acknowledged',
    });
    const filtered = metrics.counter({
      name: PRODUCED_SELF_METRIC_NAMES.otlpFlowLogsFiltered,
      help: 'Flows not exported because of exporters.otlp allowList/denyList',
    });
    const warn = rateLimitedWarn(logger, 'flow log');
    const inner = await createLogExporter(config, tls);
    const accounting = new AccountingLogExporter(inner, (records, result) => {
      exports.inc({ signal: 'logs', result: result.code === 0 ? 'success' : 'failure' });
      pipeline?.settled(records, result);
    });
    loggerProvider = new LoggerProvider({
      resource,
      processors: [
        new BatchLogRecordProcessor({
          exporter: accounting,
          // The pipeline keeps queued + in-flight records below maxQueueSize, so the SDK's queue never drops.
          maxQueueSize: config.maxQueueSize,
          maxExportBatchSize: config.maxExportBatchSize,
          scheduledDelayMillis: 1000,
          exportTimeoutMillis: config.timeoutMs,
        }),
      ],
    });
    pipeline = new FlowLogPipeline({
      source: args.flows,
      otelLogger: loggerProvider.getLogger('@retina-ts/exporter-otlp'),
      filter,
      nodeName: args.nodeName,
      ...(args.clusterName ? { clusterName: args.clusterName } : {}),
      maxQueueSize: config.maxQueueSize,
      logger,
      hooks: {
        exported: (n) => exported.inc(n),
        filtered: (n) => filtered.inc(n),
        dropped: (reason, n) => dropped.inc({ reason }, n),
        exportFailed: (message, records) => warn(message, { endpoint: config.endpoint, records }),
      },
    });
    pipeline.start();
  }

  logger.info(
    { endpoint: config.endpoint, protocol: config.protocol, intervalMs: config.intervalMs, metrics: config.metrics, flows: config.flows },
    'exporting over OTLP',
  );

  let stopping: Promise<void> | undefined;
  return {
    get flowCounts() {
      return pipeline?.counts;
    },
    async forceFlush() {
      await Promise.all([meterProvider?.forceFlush(), loggerProvider?.forceFlush()]);
    },
    stop(deadlineMs = config.timeoutMs) {
      stopping ??= (async () => {
        pipeline?.stop();
        const shutdown = Promise.allSettled([meterProvider?.shutdown(), loggerProvider?.shutdown()]);
        // A receiver that does not answer must not hold the agent's exit beyond the deadline.
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs).unref()));
        await Promise.race([shutdown, deadline]);
        clearTimeout(timer);
      })();
      return stopping;
    },
  };
}
