/**
 * What the UI server sends to the browser over its one event stream, shared by both sides so a change of shape
 * fails the type check of both.
 */

/** One side of a flow, reduced to what the table and the map show. */
export interface UiEndpoint {
  ip?: string;
  port?: number;
  namespace?: string;
  pod?: string;
  /** `kind/name` of the first workload, when known. */
  workload?: string;
  /** Service map node id: `namespace/workload`, `namespace/pod`, or the bare IP outside the cluster. */
  id: string;
}

/** A flow as a table row; `raw` is the flow as decoded from the Hubble API (proto field names). */
export interface UiFlow {
  /** Increasing per stream; the browser keys rows by it. */
  seq: number;
  /** Milliseconds since the epoch. */
  time: number;
  node: string;
  src: UiEndpoint;
  dst: UiEndpoint;
  /** `TCP`, `UDP`, `ICMPv4`, `ICMPv6`, `DNS` or `` when unknown. */
  protocol: string;
  verdict: string;
  dropReason?: string;
  dns?: { query: string; rcode?: number; type: 'request' | 'response'; qtypes?: string[] };
  tcpFlags?: string[];
  direction?: string;
  summary?: string;
  raw: Record<string, unknown>;
}

/** An edge of the service map with its rates over the last seconds. */
export interface UiEdge {
  source: string;
  target: string;
  /** Flows per second (moving average). */
  rate: number;
  flows: number;
  drops: number;
  resets: number;
  dnsErrors: number;
  lastSeen: number;
}

export interface UiMapNode {
  id: string;
  /** `workload`, `pod` or `external`. */
  kind: 'workload' | 'pod' | 'external';
  namespace?: string;
  label: string;
}

export interface UiServiceMap {
  nodes: UiMapNode[];
  edges: UiEdge[];
}

/** One poll of the agent's /metrics and /plugins. */
export interface UiNodeSample {
  time: number;
  /** Drops by reason since the agent started (sum over directions). */
  drops: Record<string, number>;
  dnsRequests?: number;
  dnsResponses?: number;
  tcpState: Record<string, number>;
  retransmissions?: number;
  plugins: { name: string; state: string; lastError?: string }[];
  /** Why the metrics or plugins could not be read, when they could not. */
  error?: string;
}

/** DNS latency from request/response pairs seen in the flow stream over the last interval. */
export interface UiDnsLatency {
  time: number;
  count: number;
  p50Ms?: number;
  p95Ms?: number;
  maxMs?: number;
}

/** Stream status: connection to the Hubble endpoint, and flows not sent because the browser fell behind. */
export interface UiStatus {
  hubble: string;
  connected: boolean;
  error?: string;
  skipped: number;
  /** The capture mode the server offers. */
  capture: 'standalone' | 'cluster' | 'off';
}

/** The filter fields the UI understands (query parameters of the stream). */
export const FILTER_FIELDS = [
  'namespace',
  'pod',
  'workload',
  'ip',
  'port',
  'verdict',
  'protocol',
  'dns',
  'from',
  'to',
] as const;
export type FilterField = (typeof FILTER_FIELDS)[number];
export type UiFilter = Partial<Record<FilterField, string>>;

/** A packet capture as the server reports it. */
export interface UiCapture {
  id: string;
  name: string;
  state: 'running' | 'done' | 'failed';
  filter: string;
  startedAt: number;
  durationSeconds: number;
  /**
   * The tarball can be downloaded from /api/captures/<id>/download (standalone), or, in a cluster, each node's
   * from /api/captures/<id>/download?node=<node>.
   */
  downloadable: boolean;
  error?: string;
  /** Cluster: where the Capture resource lives. */
  resource?: string;
  /** Cluster, once done: the tarball each node keeps in its host path. */
  files?: { node: string; file: string }[];
}
