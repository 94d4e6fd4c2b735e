/**
 * An OTLP receiver for tests, built from the official opentelemetry-proto definitions as an npm package ships them
 * (`@opentelemetry/otlp-grpc-exporter-base@0.38.0`, installed as `otlp-protos`): a gRPC server of
 * MetricsService/LogsService and an HTTP server of `/v1/metrics` and `/v1/logs` (protobuf and JSON bodies). Every
 * request is decoded with the same protobufjs types, so all three transports land in one shape.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);
/** Import root of the official .proto files. */
export const OTLP_PROTO_DIR = join(dirname(require.resolve('otlp-protos/package.json')), 'build', 'protos');
const METRICS_PROTO = 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto';
const LOGS_PROTO = 'opentelemetry/proto/collector/logs/v1/logs_service.proto';

const root = new protobuf.Root();
root.resolvePath = (_origin, target) => join(OTLP_PROTO_DIR, target);
root.loadSync([METRICS_PROTO, LOGS_PROTO]);
root.resolveAll();
const MetricsRequest = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest');
const LogsRequest = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest');
const MetricsResponse = root.lookupType('opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceResponse');
const LogsResponse = root.lookupType('opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse');

const TO_OBJECT: protobuf.IConversionOptions = { longs: String, enums: String, bytes: String, defaults: false };

/** One received request, decoded (camelCase field names, as protobufjs objects them). */
export interface Received {
  signal: 'metrics' | 'logs';
  transport: 'grpc' | 'http/protobuf' | 'http/json';
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** Behaviour switches of the receiver. */
export interface ReceiverOptions {
  /** TLS for both servers (PEM); `ca` with `requestCert` demands client certificates. */
  tls?: { cert: Buffer; key: Buffer; ca?: Buffer; requestCert?: boolean };
  /** Never answer (a receiver that accepts connections and then hangs). */
  hang?: boolean;
}

/** A running receiver. */
export interface Receiver {
  grpcUrl: string;
  httpUrl: string;
  received: Received[];
  /** Resolves with the first request matching `pred` (already received or future). */
  waitFor(pred: (r: Received) => boolean, what: string): Promise<Received>;
  close(): Promise<void>;
}

function decode(type: protobuf.Type, bytes: Uint8Array): Record<string, unknown> {
  return type.toObject(type.decode(bytes), TO_OBJECT);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Starts both servers on loopback ports chosen by the OS. */
export async function startReceiver(options: ReceiverOptions = {}): Promise<Receiver> {
  const received: Received[] = [];
  const waiters: Array<{ pred: (r: Received) => boolean; resolve: (r: Received) => void }> = [];
  const hung: Array<() => void> = [];
  const record = (r: Received): void => {
    received.push(r);
    for (const w of [...waiters]) {
      if (w.pred(r)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(r);
      }
    }
  };

  const definition = protoLoader.loadSync([METRICS_PROTO, LOGS_PROTO], {
    includeDirs: [OTLP_PROTO_DIR],
    keepCase: false,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    opentelemetry: { proto: { collector: Record<string, { v1: Record<string, { service: grpc.ServiceDefinition }> }> } };
  };
  const collector = loaded.opentelemetry.proto.collector;
  const grpcServer = new grpc.Server();
  // The raw request bytes are decoded with protobufjs, so gRPC and HTTP requests compare field for field.
  const raw = (signal: 'metrics' | 'logs', type: protobuf.Type) => {
    return (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(call.metadata.getMap())) headers[k] = String(v);
      const bytes = (call.request as { __raw: Uint8Array }).__raw;
      if (options.hang) {
        hung.push(() => callback(null, {}));
        return;
      }
      record({ signal, transport: 'grpc', headers, body: decode(type, bytes) });
      callback(null, {});
    };
  };
  const withRawRequest = (service: grpc.ServiceDefinition): grpc.ServiceDefinition => {
    const entries = Object.entries(service).map(([name, method]) => [
      name,
      { ...method, requestDeserialize: (b: Buffer) => ({ __raw: new Uint8Array(b) }) },
    ]);
    return Object.fromEntries(entries) as grpc.ServiceDefinition;
  };
  grpcServer.addService(withRawRequest(collector['metrics']!.v1['MetricsService']!.service), {
    Export: raw('metrics', MetricsRequest),
  });
  grpcServer.addService(withRawRequest(collector['logs']!.v1['LogsService']!.service), {
    Export: raw('logs', LogsRequest),
  });
  const credentials = options.tls
    ? grpc.ServerCredentials.createSsl(
        options.tls.ca ?? null,
        [{ cert_chain: options.tls.cert, private_key: options.tls.key }],
        Boolean(options.tls.requestCert),
      )
    : grpc.ServerCredentials.createInsecure();
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', credentials, (err, port) => (err ? reject(err) : resolve(port))),
  );

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    void (async () => {
      const body = await readBody(req);
      const signal = req.url === '/v1/metrics' ? 'metrics' : req.url === '/v1/logs' ? 'logs' : undefined;
      if (!signal || req.method !== 'POST') {
        res.writeHead(404).end();
        return;
      }
      if (options.hang) {
        hung.push(() => res.destroy());
        return;
      }
      const type = signal === 'metrics' ? MetricsRequest : LogsRequest;
      const json = (req.headers['content-type'] ?? '').includes('json');
      const decoded = json
        ? type.toObject(type.fromObject(JSON.parse(body.toString('utf8')) as Record<string, unknown>), TO_OBJECT)
        : decode(type, body);
      record({ signal, transport: json ? 'http/json' : 'http/protobuf', headers: req.headers, body: decoded });
      const response = (signal === 'metrics' ? MetricsResponse : LogsResponse).encode({}).finish();
      if (json) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(Buffer.from(response));
    })();
  };
  const httpServer: HttpServer = options.tls
    ? createHttpsServer(
        {
          cert: options.tls.cert,
          key: options.tls.key,
          ...(options.tls.ca ? { ca: options.tls.ca } : {}),
          requestCert: Boolean(options.tls.requestCert),
          rejectUnauthorized: Boolean(options.tls.requestCert),
        },
        handler,
      )
    : createHttpServer(handler);
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const httpPort = (httpServer.address() as AddressInfo).port;
  const scheme = options.tls ? 'https' : 'http';

  return {
    grpcUrl: `${scheme}://127.0.0.1:${grpcPort}`,
    httpUrl: `${scheme}://127.0.0.1:${httpPort}`,
    received,
    waitFor(pred, what) {
      const hit = received.find(pred);
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the receiver got no ${what}`)), 30_000);
        waiters.push({
          pred,
          resolve: (r) => {
            clearTimeout(timer);
            resolve(r);
          },
        });
      });
    },
    async close() {
      for (const release of hung) release();
      httpServer.closeAllConnections();
      await new Promise<void>((resolve) => httpServer.close(() => resolve()));
      grpcServer.forceShutdown();
    },
  };
}

/** Attribute list (OTLP KeyValue[]) as a plain record of string values. */
export function attributesOf(list: unknown): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of (list ?? []) as Array<{ key: string; value: Record<string, unknown> }>) {
    const v = kv.value;
    const value = v['stringValue'] ?? v['intValue'] ?? v['doubleValue'] ?? v['boolValue'];
    out[kv.key] = value as string | number | boolean;
  }
  return out;
}

/** Every metric of a decoded metrics request, by name. */
export function metricsByName(body: Record<string, unknown>): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const rm of (body['resourceMetrics'] ?? []) as Array<Record<string, unknown>>) {
    for (const sm of (rm['scopeMetrics'] ?? []) as Array<Record<string, unknown>>) {
      for (const m of (sm['metrics'] ?? []) as Array<Record<string, unknown>>) out.set(m['name'] as string, m);
    }
  }
  return out;
}
