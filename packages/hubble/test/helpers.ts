/**
 * Test helpers: a gRPC client built at test time from the recorded official Hubble API (api-record/, the wire
 * contract, independent of the package's own .proto files), throwaway certificates made with openssl, servers on
 * a loopback port, and flow fixtures.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { Flow } from '@retina-ts/core';
import { FlowBus, FlowType, L7FlowType, TrafficDirection, TraceObservationPoint, Verdict, IpVersion } from '@retina-ts/core';
import { HubbleMetrics, hubbleTypes, parseMetricsConfig, startHubble, toPbFlow } from '../src/index.js';
import type { FlowSource, HubbleMetricsOptions, HubbleOptions, HubbleServer, PbFlow } from '../src/index.js';
import { recordPackageDefinition } from '../api-record/record.mjs';

/** Service definitions of the recorded official Hubble API, as proto-loader gives them to @grpc/grpc-js. */
export function officialPackageDefinition(options: protoLoader.Options = {}): protoLoader.PackageDefinition {
  return recordPackageDefinition({
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    ...options,
  });
}

// A health client from its own copy of the standard grpc.health.v1 definition, independent of the package's file.
const HEALTH_PROTO = `syntax = "proto3";
package grpc.health.v1;
message HealthCheckRequest { string service = 1; }
message HealthCheckResponse {
  enum ServingStatus { UNKNOWN = 0; SERVING = 1; NOT_SERVING = 2; SERVICE_UNKNOWN = 3; }
  ServingStatus status = 1;
}
service Health {
  rpc Check(HealthCheckRequest) returns (HealthCheckResponse);
  rpc Watch(HealthCheckRequest) returns (stream HealthCheckResponse);
}
`;

/** Clients of every service, generated from the recorded official API. */
export interface HubbleClients {
  observer: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  peer: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  health: grpc.Client & Record<string, (...args: unknown[]) => unknown>;
  close(): void;
}

type ClientCtor = new (
  address: string,
  creds: grpc.ChannelCredentials,
  options?: grpc.ChannelOptions,
) => HubbleClients['observer'];

let healthDir: string | undefined;

/** Connects clients of Observer, Peer and Health to `address` (e.g. `unix:/path` or `127.0.0.1:port`). */
export function connect(
  address: string,
  creds = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): HubbleClients {
  const pkg = grpc.loadPackageDefinition(officialPackageDefinition()) as unknown as {
    observer: { Observer: ClientCtor };
    peer: { Peer: ClientCtor };
  };
  if (!healthDir) {
    healthDir = mkdtempSync(join(tmpdir(), 'hubble-health-'));
    writeFileSync(join(healthDir, 'health.proto'), HEALTH_PROTO);
  }
  const healthPkg = grpc.loadPackageDefinition(
    protoLoader.loadSync(join(healthDir, 'health.proto'), { keepCase: true, enums: String, defaults: true }),
  ) as unknown as { grpc: { health: { v1: { Health: ClientCtor } } } };
  const observer = new pkg.observer.Observer(address, creds, options);
  const peer = new pkg.peer.Peer(address, creds, options);
  const health = new healthPkg.grpc.health.v1.Health(address, creds, options);
  return {
    observer,
    peer,
    health,
    close() {
      observer.close();
      peer.close();
      health.close();
    },
  };
}

/** Calls a unary method and resolves with the response or rejects with the gRPC error. */
export function unary<T = Record<string, unknown>>(
  client: HubbleClients['observer'],
  method: string,
  request: Record<string, unknown> = {},
  deadlineMs = 10_000,
): Promise<T> {
  return new Promise((resolvePromise, reject) => {
    const fn = client[method] as (
      req: unknown,
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res: T) => void,
    ) => void;
    fn.call(client, request, { deadline: Date.now() + deadlineMs }, (err, res) =>
      err ? reject(err) : resolvePromise(res),
    );
  });
}

/** A decoded GetFlowsResponse as the official client sees it. */
export interface FlowResponse {
  response_types?: string;
  flow?: Record<string, unknown> & {
    uuid: string;
    verdict: string;
    node_name: string;
    IP?: { source: string; destination: string };
    source?: { namespace: string; pod_name: string; labels: string[] };
    destination?: { namespace: string; pod_name: string; labels: string[] };
  };
  lost_events?: { source: string; num_events_lost: string };
  node_name: string;
  time: { seconds: string; nanos: number };
}

/** Opens GetFlows and collects responses until the stream ends (or errors). */
export function getFlows(
  client: HubbleClients['observer'],
  request: Record<string, unknown>,
  deadlineMs = 15_000,
): Promise<FlowResponse[]> {
  return new Promise((resolvePromise, reject) => {
    const out: FlowResponse[] = [];
    const call = (
      client.GetFlows as (req: unknown, opts: grpc.CallOptions) => grpc.ClientReadableStream<FlowResponse>
    ).call(client, request, { deadline: Date.now() + deadlineMs });
    call.on('data', (r: FlowResponse) => out.push(r));
    call.on('error', reject);
    call.on('end', () => resolvePromise(out));
  });
}

/** Polls `check` every 10 ms until it returns true; rejects with `what` after `timeoutMs`. */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Starts a server listening on a free loopback TCP port only (no unix socket), with `options` on top. */
export function startLoopbackHubble(
  options: HubbleOptions = {},
  { flowBus = new FlowBus(), nodeName = 'n' }: { flowBus?: FlowSource; nodeName?: string } = {},
): Promise<HubbleServer> {
  return startHubble({
    flowBus,
    nodeName,
    options: { unixSocket: false, listenAddress: '127.0.0.1:0', ...options },
  });
}

/** Throwaway PKI: a server CA and server cert (SANs for Hubble's node name scheme and 127.0.0.1), a client CA and client cert. */
export interface TestPki {
  dir: string;
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCaCert: string;
  clientCert: string;
  clientKey: string;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Generates certificates with the openssl command (Debian package `openssl`). */
export function makePki(): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'hubble-pki-'));
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(
    [
      'req',
      '-x509',
      ...key,
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
      '-subj',
      '/CN=hubble-test-ca',
      '-days',
      '2',
    ],
    dir,
  );
  openssl(
    [
      'req',
      '-x509',
      ...key,
      '-keyout',
      'client-ca.key',
      '-out',
      'client-ca.crt',
      '-subj',
      '/CN=hubble-test-client-ca',
      '-days',
      '2',
    ],
    dir,
  );
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=DNS:*.default.hubble-grpc.cilium.io,DNS:localhost,IP:127.0.0.1\n',
  );
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  openssl(
    [
      'req',
      ...key,
      '-keyout',
      'server.key',
      '-out',
      'server.csr',
      '-subj',
      '/CN=*.default.hubble-grpc.cilium.io',
    ],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.crt',
      '-days',
      '2',
      '-extfile',
      'server.ext',
    ],
    dir,
  );
  openssl(
    ['req', ...key, '-keyout', 'client.key', '-out', 'client.csr', '-subj', '/CN=hubble-relay-client'],
    dir,
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'client.csr',
      '-CA',
      'client-ca.crt',
      '-CAkey',
      'client-ca.key',
      '-CAcreateserial',
      '-out',
      'client.crt',
      '-days',
      '2',
      '-extfile',
      'client.ext',
    ],
    dir,
  );
  return {
    dir,
    caCert: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCaCert: join(dir, 'client-ca.crt'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
}

let counter = 0;

/** A forwarded TCP flow between two pods, `n` seconds after a fixed base time. */
export function tcpFlow(n: number, overrides: Partial<Flow> = {}): Flow {
  counter++;
  return {
    timeNs: 1_700_000_000_000_000_000n + BigInt(n) * 1_000_000_000n,
    verdict: Verdict.FORWARDED,
    ip: { source: '10.201.0.1', destination: '10.201.0.2', ipVersion: IpVersion.IPv4 },
    l4: { tcp: { sourcePort: 40000 + (counter % 1000), destinationPort: 80, flags: { SYN: true } } },
    source: {
      namespace: 'shop',
      podName: 'web-7c9f-abcde',
      labels: ['app=web'],
      workloads: [{ name: 'web', kind: 'Deployment' }],
    },
    destination: { namespace: 'shop', podName: 'db-0', labels: ['app=db'] },
    type: FlowType.L3_L4,
    nodeName: 'node-a',
    trafficDirection: TrafficDirection.EGRESS,
    traceObservationPoint: TraceObservationPoint.TO_STACK,
    eventType: { type: 4, subType: 3 },
    isReply: false,
    ...overrides,
  };
}

/** A DNS request for `query`, otherwise as tcpFlow(n). */
export function dnsRequestFlow(n: number, query: string, overrides: Partial<Flow> = {}): Flow {
  return tcpFlow(n, {
    type: FlowType.L7,
    verdict: Verdict.DNS,
    l4: { udp: { sourcePort: 33000, destinationPort: 53 } },
    l7: { type: L7FlowType.REQUEST, dns: { query, ips: [], ttl: 0, rcode: 0, qtypes: ['A'], rrtypes: [] } },
    eventType: { type: 129, subType: 0 },
    ...overrides,
  });
}

const types = hubbleTypes();

/** The enum descriptors HubbleMetrics names values with. */
export const metricEnums = { verdict: types.verdict, dropReason: types.dropReason, ipVersion: types.ipVersion };

/** hubble_* metrics of the Hubble metric `specs` (e.g. `dns:query`), with `options` on top. */
export function hubbleMetricsFor(specs: string[], options: Partial<HubbleMetricsOptions> = {}): HubbleMetrics {
  return new HubbleMetrics({ handlers: parseMetricsConfig(specs).handlers, enums: metricEnums, ...options });
}

/** A flow as the server sends it, from node `n`. */
export function pbFlow(flow: Flow): PbFlow {
  return toPbFlow(flow, { nodeName: 'n', structType: types.struct });
}
