/**
 * The flow record: a TypeScript model of Hubble's `flow.Flow` (hubble-api flow.proto), with Retina's extension
 * fields. One record feeds both the metrics module and the Hubble server, so the two never disagree.
 *
 * Enum values are the protobuf numbers, so a Hubble encoder can write them unchanged.
 */

/** flow.Verdict, plus Retina's two non-standard values (RETRANSMISSION = 15, DNS = 16). */
export enum Verdict {
  VERDICT_UNKNOWN = 0,
  FORWARDED = 1,
  DROPPED = 2,
  ERROR = 3,
  AUDIT = 4,
  REDIRECTED = 5,
  TRACED = 6,
  TRANSLATED = 7,
  RETRANSMISSION = 15,
  DNS = 16,
}

/** flow.FlowType */
export enum FlowType {
  UNKNOWN_TYPE = 0,
  L3_L4 = 1,
  L7 = 2,
  SOCK = 3,
}

/** flow.TrafficDirection */
export enum TrafficDirection {
  TRAFFIC_DIRECTION_UNKNOWN = 0,
  INGRESS = 1,
  EGRESS = 2,
}

/** flow.TraceObservationPoint (the subset Retina's plugins produce, plus the rest for completeness). */
export enum TraceObservationPoint {
  UNKNOWN_POINT = 0,
  TO_PROXY = 1,
  TO_HOST = 2,
  TO_STACK = 3,
  TO_OVERLAY = 4,
  TO_ENDPOINT = 101,
  FROM_ENDPOINT = 5,
  FROM_PROXY = 6,
  FROM_HOST = 7,
  FROM_STACK = 8,
  FROM_OVERLAY = 9,
  FROM_NETWORK = 10,
  TO_NETWORK = 11,
  FROM_CRYPTO = 12,
  TO_CRYPTO = 13,
}

/** flow.IPVersion */
export enum IpVersion {
  IP_NOT_USED = 0,
  IPv4 = 1,
  IPv6 = 2,
}

/** flow.L7FlowType */
export enum L7FlowType {
  UNKNOWN_L7_TYPE = 0,
  REQUEST = 1,
  RESPONSE = 2,
  SAMPLE = 3,
}

/** Cilium monitor event types carried in `Flow.event_type.type`. */
export const CiliumEventType = {
  DROP: 1,
  TRACE: 4,
  L7: 129,
} as const;

/**
 * Sub types of Cilium trace events (`event_type.sub_type` when the type is TRACE), named as Cilium's monitor API
 * names them. TO_ENDPOINT flows carry TO_LXC (0): Hubble prints 1 as `to-proxy`.
 */
export const TraceSubType = {
  TO_LXC: 0,
  TO_PROXY: 1,
  TO_HOST: 2,
  TO_STACK: 3,
  TO_OVERLAY: 4,
  FROM_LXC: 5,
  FROM_PROXY: 6,
  FROM_HOST: 7,
  FROM_STACK: 8,
  FROM_OVERLAY: 9,
  FROM_NETWORK: 10,
  TO_NETWORK: 11,
  FROM_CRYPTO: 12,
  TO_CRYPTO: 13,
} as const;

export interface TcpFlags {
  FIN?: boolean;
  SYN?: boolean;
  RST?: boolean;
  PSH?: boolean;
  ACK?: boolean;
  URG?: boolean;
  ECE?: boolean;
  CWR?: boolean;
  NS?: boolean;
}

export interface Layer4 {
  tcp?: { sourcePort: number; destinationPort: number; flags?: TcpFlags };
  udp?: { sourcePort: number; destinationPort: number };
  sctp?: { sourcePort: number; destinationPort: number };
  icmpv4?: { type: number; code: number };
  icmpv6?: { type: number; code: number };
}

export interface IpHeader {
  source: string;
  destination: string;
  ipVersion: IpVersion;
  encrypted?: boolean;
}

/** A workload that owns a pod (Deployment, DaemonSet, ...), as Hubble's flow.Workload. */
export interface Workload {
  name: string;
  kind: string;
}

/** flow.Endpoint: one side of a flow, filled by the enricher. */
export interface Endpoint {
  id?: number;
  identity?: number;
  clusterName?: string;
  namespace?: string;
  /** `key=value` strings, as Hubble carries them. */
  labels?: string[];
  podName?: string;
  workloads?: Workload[];
}

/** flow.Service */
export interface Service {
  name: string;
  namespace: string;
}

/** flow.DNS (inside Layer7). */
export interface DnsInfo {
  query: string;
  ips: string[];
  ttl: number;
  cnames?: string[];
  observationSource?: string;
  rcode: number;
  qtypes: string[];
  rrtypes: string[];
}

export interface Layer7 {
  type: L7FlowType;
  /** Request/response latency in nanoseconds, when known. */
  latencyNs?: number;
  dns?: DnsInfo;
}

export interface EventTypeInfo {
  type: number;
  subType: number;
}

/** flow.DropReason values Retina maps to (see retina-dataplane-facts 5.2). */
export enum DropReasonDesc {
  DROP_REASON_UNKNOWN = 0,
  POLICY_DENIED = 133,
  UNKNOWN_CONNECTION_TRACKING_STATE = 163,
  SNAT_NO_MAP_FOUND = 191,
}

export type TcpFlagName = keyof TcpFlags;

/** Retina's extension fields (Flow.extensions). Absent keys mean "not set". */
export interface RetinaExtensions {
  bytes?: number;
  dnsType?: 'QUERY' | 'RESPONSE';
  numResponses?: number;
  tcpId?: number;
  /** Retina drop reason string (IPTABLE_RULE_DROP, ...) or the kernel's own reason name. */
  dropReason?: string;
  previouslyObservedPackets?: number;
  previouslyObservedBytes?: number;
  previouslyObservedTcpFlags?: Partial<Record<TcpFlagName, number>>;
  sourceZone?: string;
  destinationZone?: string;
  /** Packets this record stands for (1 when unset); aggregated kernel records carry more. */
  packets?: number;
  /**
   * retina-ts: the record was reported with chance 1/N under `cpuBudget` sampling, so it stands for N records like it
   * (every count it carries, times N). Unset (or 1): not sampled.
   */
  sampleRate?: number;
}

/** A flow record. Field names follow flow.proto in camelCase. */
export interface Flow {
  /** Nanoseconds since the Unix epoch (bigint keeps full precision). */
  timeNs: bigint;
  uuid?: string;
  verdict: Verdict;
  dropReasonDesc?: DropReasonDesc;
  ip?: IpHeader;
  l4?: Layer4;
  source?: Endpoint;
  destination?: Endpoint;
  type: FlowType;
  nodeName: string;
  sourceNames?: string[];
  destinationNames?: string[];
  l7?: Layer7;
  eventType?: EventTypeInfo;
  sourceService?: Service;
  destinationService?: Service;
  trafficDirection: TrafficDirection;
  traceObservationPoint?: TraceObservationPoint;
  /** `undefined` means unknown (Hubble's unset BoolValue). */
  isReply?: boolean;
  interface?: { index: number; name: string };
  /** Name of the plugin that produced the record. */
  emitter?: string;
  extensions?: RetinaExtensions;
}
