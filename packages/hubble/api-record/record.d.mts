import type * as protoLoader from '@grpc/proto-loader';
import type protobuf from 'protobufjs';

/** One field: number, type (a scalar name or a fully qualified message/enum name) and label. */
export interface RecordedField {
  id: number;
  type: string;
  /** Key type of a map field. */
  keyType?: string;
  repeated?: true;
  /** proto3 `optional`. */
  optional?: true;
  /** Name of the oneof the field belongs to. */
  oneof?: string;
}

/** Reserved field numbers as inclusive [from, to] ranges, or reserved names. */
export type RecordedReserved = Array<[number, number] | string>;

export interface RecordedMessage {
  fields: Record<string, RecordedField>;
  reserved?: RecordedReserved;
}

export interface RecordedEnum {
  values: Record<string, number>;
  reserved?: RecordedReserved;
}

export interface RecordedMethod {
  request: string;
  response: string;
  requestStream?: true;
  responseStream?: true;
}

/** What one .proto file declares; names are relative to its package (nested ones dotted, e.g. `Outer.Inner`). */
export interface RecordedFile {
  package: string;
  messages: Record<string, RecordedMessage>;
  enums: Record<string, RecordedEnum>;
  services: Record<string, { methods: Record<string, RecordedMethod> }>;
}

export interface HubbleApiRecord {
  about: string;
  format: 1;
  /** By path relative to the import root, e.g. `observer/observer.proto`. */
  files: Record<string, RecordedFile>;
}

export const RECORD_FILE: string;
export const OFFICIAL_FILES: readonly string[];
export function recordFromProtos(dir: string, files?: readonly string[]): HubbleApiRecord;
export function formatRecord(record: HubbleApiRecord): string;
export function readRecord(file?: string): HubbleApiRecord;
export function recordDescriptor(record?: HubbleApiRecord): protobuf.INamespace;
export function recordRoot(record?: HubbleApiRecord): protobuf.Root;
export function recordPackageDefinition(
  options?: protoLoader.Options,
  record?: HubbleApiRecord,
): protoLoader.PackageDefinition;
export function writeRecordProtos(record: HubbleApiRecord, dir: string): void;
