/**
 * The official OTLP exporters for the configured protocol, with headers, timeout and TLS applied. Only the
 * protocol's own exporter packages are loaded (gRPC pulls in @grpc/grpc-js; HTTP does not).
 */
import { readFileSync } from 'node:fs';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { OtlpExporterConfig } from '@retina-ts/core';
import type { PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';

/** Raised when a TLS file of `exporters.otlp.tls` cannot be read. */
export class OtlpConfigError extends Error {
  override readonly name = 'OtlpConfigError';
}

/** PEM contents of the configured TLS files. */
export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

const MAX_PEM_BYTES = 1 << 20;

function readPem(path: string | undefined, key: string): Buffer | undefined {
  if (!path) return undefined;
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new OtlpConfigError(`exporters.otlp.tls.${key}: cannot read ${path}: ${(err as Error).message}`);
  }
  if (data.length > MAX_PEM_BYTES) {
    throw new OtlpConfigError(`exporters.otlp.tls.${key}: ${path} is larger than ${MAX_PEM_BYTES} bytes`);
  }
  if (!data.includes('-----BEGIN ')) {
    throw new OtlpConfigError(`exporters.otlp.tls.${key}: ${path} holds no PEM block (-----BEGIN ...)`);
  }
  return data;
}

/** Reads the TLS files named in the config (errors name the key and the file). */
export function readTlsMaterial(config: OtlpExporterConfig): TlsMaterial {
  const ca = readPem(config.tls.caFile, 'caFile');
  const cert = readPem(config.tls.certFile, 'certFile');
  const key = readPem(config.tls.keyFile, 'keyFile');
  return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
}

/** The URL an HTTP exporter posts a signal to: the endpoint plus OTLP's `/v1/<signal>` path. */
export function signalUrl(endpoint: string, signal: 'metrics' | 'logs'): string {
  return `${endpoint.replace(/\/+$/, '')}/v1/${signal}`;
}

async function grpcOptions(config: OtlpExporterConfig, tls: TlsMaterial) {
  const { credentials, Metadata } = await import('@grpc/grpc-js');
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(config.headers)) metadata.set(k, v);
  const secure = config.endpoint.startsWith('https:');
  return {
    url: config.endpoint,
    metadata,
    credentials: secure
      ? credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null)
      : credentials.createInsecure(),
    timeoutMillis: config.timeoutMs,
  };
}

function httpOptions(config: OtlpExporterConfig, tls: TlsMaterial, signal: 'metrics' | 'logs') {
  return {
    url: signalUrl(config.endpoint, signal),
    headers: { ...config.headers },
    timeoutMillis: config.timeoutMs,
    httpAgentOptions: { keepAlive: true, ...tls },
  };
}

type GrpcOptions = Awaited<ReturnType<typeof grpcOptions>>;
type HttpOptions = ReturnType<typeof httpOptions>;

/** How to load a signal's exporter class for each protocol (only the chosen one is imported). */
interface ExporterClasses<E> {
  grpc(): Promise<new (options: GrpcOptions) => E>;
  protobuf(): Promise<new (options: HttpOptions) => E>;
  json(): Promise<new (options: HttpOptions) => E>;
}

async function createExporter<E>(
  config: OtlpExporterConfig,
  tls: TlsMaterial,
  signal: 'metrics' | 'logs',
  classes: ExporterClasses<E>,
): Promise<E> {
  switch (config.protocol) {
    case 'grpc':
      return new (await classes.grpc())(await grpcOptions(config, tls));
    case 'http/protobuf':
      return new (await classes.protobuf())(httpOptions(config, tls, signal));
    case 'http/json':
      return new (await classes.json())(httpOptions(config, tls, signal));
  }
}

/** The metric exporter of the configured protocol. */
export function createMetricExporter(config: OtlpExporterConfig, tls: TlsMaterial): Promise<PushMetricExporter> {
  return createExporter<PushMetricExporter>(config, tls, 'metrics', {
    grpc: async () => (await import('@opentelemetry/exporter-metrics-otlp-grpc')).OTLPMetricExporter,
    protobuf: async () => (await import('@opentelemetry/exporter-metrics-otlp-proto')).OTLPMetricExporter,
    json: async () => (await import('@opentelemetry/exporter-metrics-otlp-http')).OTLPMetricExporter,
  });
}

/** The log exporter of the configured protocol. */
export function createLogExporter(config: OtlpExporterConfig, tls: TlsMaterial): Promise<LogRecordExporter> {
  return createExporter<LogRecordExporter>(config, tls, 'logs', {
    grpc: async () => (await import('@opentelemetry/exporter-logs-otlp-grpc')).OTLPLogExporter,
    protobuf: async () => (await import('@opentelemetry/exporter-logs-otlp-proto')).OTLPLogExporter,
    json: async () => (await import('@opentelemetry/exporter-logs-otlp-http')).OTLPLogExporter,
  });
}

/**
 * Runs one export (`run` hands the SDK exporter the completion callback it is given) and reports the outcome
 * exactly once, to `done` and then to `resultCallback`: a second completion is ignored, and an exporter that
 * throws counts as a failed export.
 */
export function exportOnce(
  run: (finish: (result: ExportResult) => void) => void,
  done: (result: ExportResult) => void,
  resultCallback: (result: ExportResult) => void,
): void {
  let settled = false;
  const finish = (result: ExportResult): void => {
    if (settled) return;
    settled = true;
    done(result);
    resultCallback(result);
  };
  try {
    run(finish);
  } catch (err) {
    finish({ code: ExportResultCode.FAILED, error: err as Error });
  }
}
