/**
 * Loads the package's own .proto files (shipped in dist/proto) twice over: as a protobufjs Root, used to encode flows
 * once and reuse the bytes for every client, and as @grpc/proto-loader service definitions for @grpc/grpc-js.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

/** The .proto files the server serves, relative to the proto directory. */
export const PROTO_FILES = [
  'flow/flow.proto',
  'relay/relay.proto',
  'observer/observer.proto',
  'peer/peer.proto',
  'grpc/health/v1/health.proto',
] as const;

/** Directory holding the package's .proto files: dist/proto when built, proto/ beside src/ in the source tree. */
export function protoDir(): string {
  const candidates = [new URL('./proto/', import.meta.url), new URL('../proto/', import.meta.url)];
  for (const candidate of candidates) {
    const dir = fileURLToPath(candidate);
    if (existsSync(join(dir, 'observer', 'observer.proto'))) return dir;
  }
  throw new Error(
    `@retina-ts/hubble: .proto files not found (looked in ${candidates.map((c) => fileURLToPath(c)).join(', ')}); ` +
      'reinstall the package or run its build, which copies proto/ to dist/proto',
  );
}

/** Options under which requests are decoded: proto field names, 64-bit integers as strings, enums as numbers. */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: Number,
  defaults: true,
  oneofs: true,
};

/** The protobufjs types the server encodes with directly. */
export interface HubbleTypes {
  root: protobuf.Root;
  flow: protobuf.Type;
  getFlowsResponse: protobuf.Type;
  struct: protobuf.Type;
  verdict: protobuf.Enum;
  dropReason: protobuf.Enum;
  trafficDirection: protobuf.Enum;
  ipVersion: protobuf.Enum;
  lostEventSource: protobuf.Enum;
}

let cachedTypes: HubbleTypes | undefined;
let cachedDefinition: protoLoader.PackageDefinition | undefined;

/** The protobufjs Root of the package's protos (loaded once per process). */
export function hubbleTypes(): HubbleTypes {
  if (cachedTypes) return cachedTypes;
  const dir = protoDir();
  const root = new protobuf.Root();
  // Imports are relative to the proto directory; well-known types come from protobufjs's bundled copies.
  root.resolvePath = (_origin, target) =>
    isAbsolute(target) || target.startsWith('google/protobuf/') ? target : join(dir, target);
  // struct.proto packs Retina's extension fields; no served file imports it.
  root.loadSync([...PROTO_FILES, 'google/protobuf/struct.proto'], { keepCase: true });
  root.resolveAll();
  cachedTypes = {
    root,
    flow: root.lookupType('flow.Flow'),
    getFlowsResponse: root.lookupType('observer.GetFlowsResponse'),
    struct: root.lookupType('google.protobuf.Struct'),
    verdict: root.lookupEnum('flow.Verdict'),
    dropReason: root.lookupEnum('flow.DropReason'),
    trafficDirection: root.lookupEnum('flow.TrafficDirection'),
    ipVersion: root.lookupEnum('flow.IPVersion'),
    lostEventSource: root.lookupEnum('flow.LostEventSource'),
  };
  return cachedTypes;
}

/** The @grpc/proto-loader package definition of every served service (loaded once per process). */
export function hubblePackageDefinition(): protoLoader.PackageDefinition {
  if (cachedDefinition) return cachedDefinition;
  cachedDefinition = protoLoader.loadSync([...PROTO_FILES], { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
  return cachedDefinition;
}

/** Name of an enum value as Go's String() prints it: the name, or the number for values the enum lacks. */
export function enumName(e: protobuf.Enum, value: number): string {
  return e.valuesById[value] ?? String(value);
}
