/**
 * A GetFlows client for any Hubble-compatible endpoint (the agent's Hubble server or Hubble Relay), built with
 * @grpc/grpc-js from the .proto files @retina-ts/hubble ships.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PbFlow = Record<string, any>;

interface GetFlowsResponse {
  flow?: PbFlow;
  node_name?: string;
}

export type ObserverClient = grpc.Client & {
  GetFlows(req: object, options?: grpc.CallOptions): grpc.ClientReadableStream<GetFlowsResponse>;
};

/** The directory holding observer/observer.proto and its imports, as @retina-ts/hubble ships them. */
export function hubbleProtoDir(): string {
  const observer = fileURLToPath(import.meta.resolve('@retina-ts/hubble/proto/observer/observer.proto'));
  return dirname(dirname(observer));
}

let definition: protoLoader.PackageDefinition | undefined;

/**
 * An Observer client for `address`: `host:port`, `unix:///path` or `unix:/path`. Plain text: put the UI beside
 * the endpoint (or a TLS-terminating proxy in front of it).
 */
export function observerClient(address: string): ObserverClient {
  if (!address || address.length > 1024) throw new Error(`hubble: address ${JSON.stringify(address.slice(0, 64))} is empty or too long`);
  const dir = hubbleProtoDir();
  definition ??= protoLoader.loadSync(join(dir, 'observer/observer.proto'), {
    includeDirs: [dir],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    observer: { Observer: new (addr: string, creds: grpc.ChannelCredentials, o?: grpc.ChannelOptions) => ObserverClient };
  };
  return new pkg.observer.Observer(address, grpc.credentials.createInsecure(), {
    // Flows are small; a larger message is a misbehaving endpoint.
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
  });
}

export interface FollowOptions {
  whitelist: object[];
  /** Recent flows sent before following (default 200). */
  recent?: number;
  onFlow(flow: PbFlow): void;
  onError(err: Error): void;
  onConnected?(): void;
}

/** Follows the flows that pass `whitelist`, starting with the most recent ones; returns a stop function. */
export function followFlows(client: ObserverClient, o: FollowOptions): () => void {
  const call = client.GetFlows({ number: o.recent ?? 200, follow: true, whitelist: o.whitelist });
  let stopped = false;
  let connected = false;
  call.on('metadata', () => {
    if (!connected) {
      connected = true;
      o.onConnected?.();
    }
  });
  call.on('data', (r: GetFlowsResponse) => {
    if (!connected) {
      connected = true;
      o.onConnected?.();
    }
    if (r.flow) o.onFlow(r.flow);
  });
  call.on('error', (err: grpc.ServiceError) => {
    if (!stopped) o.onError(new Error(err.details || err.message));
  });
  call.on('end', () => {
    if (!stopped) o.onError(new Error('the Hubble endpoint ended the flow stream'));
  });
  return () => {
    stopped = true;
    call.cancel();
  };
}
