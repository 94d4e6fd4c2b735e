/**
 * The official OTLP exporters for the configured protocol, with headers, timeout and TLS applied. Only the
 * protocol's own exporter packages are loaded (gRPC pulls in @grpc/grpc-js; HTTP does not).
 */
import { readFileSync } from 'node:fs';
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

/** The metric exporter of the configured protocol. */
export async function createMetricExporter(config: OtlpExporterConfig, tls: TlsMaterial): Promise<PushMetricExporter> {
  switch (config.protocol) {
    case 'grpc': {
      const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-grpc');
      return new OTLPMetricExporter(await grpcOptions(config, tls));
    }
    case 'http/protobuf': {
      const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-proto');
      return new OTLPMetricExporter(httpOptions(config, tls, 'metrics'));
    }
    case 'http/json': {
      const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-http');
      return new OTLPMetricExporter(httpOptions(config, tls, 'metrics'));
    }
  }
}

/** The log exporter of the configured protocol. */
export async function createLogExporter(config: OtlpExporterConfig, tls: TlsMaterial): Promise<LogRecordExporter> {
  switch (config.protocol) {
    case 'grpc': {
      const { OTLPLogExporter } = await import('@opentelemetry/exporter-logs-otlp-grpc');
      return new OTLPLogExporter(await grpcOptions(config, tls));
    }
    case 'http/protobuf': {
      const { OTLPLogExporter } = await import('@opentelemetry/exporter-logs-otlp-proto');
      return new OTLPLogExporter(httpOptions(config, tls, 'logs'));
    }
    case 'http/json': {
      const { OTLPLogExporter } = await import('@opentelemetry/exporter-logs-otlp-http');
      return new OTLPLogExporter(httpOptions(config, tls, 'logs'));
    }
  }
}
