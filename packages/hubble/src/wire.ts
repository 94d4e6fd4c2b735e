/**
 * Plain-object shapes of the protobuf messages the server sends, with the proto field names (protobufjs encodes such
 * objects directly). Filters and metrics evaluate these objects, so they judge exactly what clients receive.
 */
import type { TcpFlags } from '@retina-ts/core';

/** google.protobuf.Timestamp */
export interface PbTimestamp {
  seconds: number;
  nanos: number;
}

/** flow.Workload */
export interface PbWorkload {
  name: string;
  kind: string;
}

/** flow.Endpoint */
export interface PbEndpoint {
  ID?: number;
  identity?: number;
  cluster_name?: string;
  namespace?: string;
  /** `source:key=value` strings. */
  labels?: string[];
  pod_name?: string;
  workloads?: PbWorkload[];
}

/** flow.TCPFlags: the flow record already names its flags as the proto does. */
export type PbTcpFlags = TcpFlags;

/** Ports of flow.TCP, flow.UDP and flow.SCTP. */
export interface PbPorts {
  source_port: number;
  destination_port: number;
}

/** flow.Layer4 (one member set). */
export interface PbLayer4 {
  TCP?: PbPorts & { flags?: PbTcpFlags };
  UDP?: PbPorts;
  ICMPv4?: { type: number; code: number };
  ICMPv6?: { type: number; code: number };
  SCTP?: PbPorts;
  VRRP?: { type: number; vrid: number; priority: number };
  IGMP?: { type: number; group_address: string };
}

/** flow.IP */
export interface PbIp {
  source: string;
  destination: string;
  ipVersion: number;
  encrypted?: boolean;
}

/** flow.DNS */
export interface PbDns {
  query: string;
  ips: string[];
  ttl: number;
  cnames: string[];
  observation_source: string;
  rcode: number;
  qtypes: string[];
  rrtypes: string[];
}

/** flow.Layer7 */
export interface PbLayer7 {
  type: number;
  latency_ns: number;
  dns?: PbDns;
}

/** flow.Service */
export interface PbService {
  name: string;
  namespace: string;
}

/** google.protobuf.Any */
export interface PbAny {
  type_url: string;
  value: Uint8Array;
}

/** flow.Flow (the fields retina-ts fills). */
export interface PbFlow {
  time: PbTimestamp;
  uuid: string;
  emitter?: { name: string; version: string };
  verdict: number;
  drop_reason?: number;
  IP?: PbIp;
  l4?: PbLayer4;
  source?: PbEndpoint;
  destination?: PbEndpoint;
  Type: number;
  node_name: string;
  node_labels?: string[];
  source_names?: string[];
  destination_names?: string[];
  l7?: PbLayer7;
  reply?: boolean;
  event_type?: { type: number; sub_type: number };
  source_service?: PbService;
  destination_service?: PbService;
  traffic_direction: number;
  trace_observation_point?: number;
  drop_reason_desc?: number;
  is_reply?: { value: boolean };
  interface?: { index: number; name: string };
  Summary?: string;
  extensions?: PbAny;
}

/** flow.LostEvent */
export interface PbLostEvent {
  source: number;
  num_events_lost: number;
  cpu?: { value: number };
  first?: PbTimestamp;
  last?: PbTimestamp;
}

/** Numbers of the enums the server reasons about. */
export const Wire = {
  verdict: { FORWARDED: 1, DROPPED: 2, REDIRECTED: 5 },
  trafficDirection: { UNKNOWN: 0, INGRESS: 1, EGRESS: 2 },
  lostEventSource: { PERF_EVENT_RING_BUFFER: 1, OBSERVER_EVENTS_QUEUE: 2, HUBBLE_RING_BUFFER: 3 },
  eventType: {
    DROP: 1,
    DEBUG: 2,
    CAPTURE: 3,
    TRACE: 4,
    POLICY_VERDICT: 5,
    TRACE_SOCK: 7,
    L7: 129,
    AGENT: 130,
  },
} as const;

/** Timestamp of a nanosecond epoch time. */
export function timestampOfNs(ns: bigint): PbTimestamp {
  const seconds = ns / 1_000_000_000n;
  const nanos = ns % 1_000_000_000n;
  // Timestamps before 1970 keep nanos non-negative, as the protobuf spec requires.
  if (nanos < 0n) return { seconds: Number(seconds) - 1, nanos: Number(nanos + 1_000_000_000n) };
  return { seconds: Number(seconds), nanos: Number(nanos) };
}

/** Nanosecond epoch time of a decoded Timestamp (seconds may arrive as a string from the decoder). */
export function nsOfTimestamp(ts: { seconds?: string | number | null; nanos?: number | null }): bigint {
  return BigInt(ts.seconds ?? 0) * 1_000_000_000n + BigInt(ts.nanos ?? 0);
}
