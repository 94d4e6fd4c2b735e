/**
 * The Capture custom resource (`retina.sh/v1alpha1`, kind `Capture`): the same spec fields as Retina's, so
 * manifests written for Retina apply unchanged. Status adds per-node job state and artifact locations.
 */

/** API group, version and kind of the Capture resource. */
export const CAPTURE_GROUP = 'retina.sh';
export const CAPTURE_VERSION = 'v1alpha1';
export const CAPTURE_API_VERSION = `${CAPTURE_GROUP}/${CAPTURE_VERSION}`;
export const CAPTURE_KIND = 'Capture';
export const CAPTURE_PLURAL = 'captures';

/** A label selector requirement (`metav1.LabelSelectorRequirement`). */
export interface LabelSelectorRequirement {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  values?: string[];
}

/** A label selector (`metav1.LabelSelector`). */
export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

/** Which nodes or pods to capture on. */
export interface CaptureTarget {
  nodeSelector?: LabelSelector;
  namespaceSelector?: LabelSelector;
  podSelector?: LabelSelector;
  podNames?: string[];
}

/** `IP`, `IP:port`, `port`, `*:port` or `IP:*` entries; `(include...) and not (exclude...)`. */
export interface CaptureFilters {
  include?: string[];
  exclude?: string[];
}

/** tcpdump `-v`, `-vv`, `-vvv`. */
export type Verbosity = '' | 'verbose' | 'extra' | 'max';
/** tcpdump `-x`, `-xx`, `-A`, `-AA`. */
export type PrintDataFormat = '' | 'hex' | 'hex-with-link' | 'ascii' | 'ascii-with-link';
/** tcpdump `-t` … `-ttttt`. */
export type TimestampFormat = '' | 'none' | 'unformatted' | 'delta' | 'date' | 'delta-since-first';

/** Limits, interfaces, filters and tcpdump output options of a capture. */
export interface CaptureOption {
  /** Go duration string, e.g. `1m`, `30s`. */
  duration?: string;
  /** Snap length in bytes; 0 or unset captures whole packets. */
  packetSize?: number;
  /** Stop when the capture file exceeds this many MB; with fileCount, the size of each rotating file. */
  maxCaptureSize?: number;
  /** Rotating capture: keep at most this many files of maxCaptureSize each. */
  fileCount?: number;
  /** Interfaces to capture on; empty captures on all. */
  interfaces?: string[];
  /** A pcap filter expression (no tcpdump flags). */
  pcapFilter?: string;
  sourceIPs?: string[];
  destinationIPs?: string[];
  noPromiscuous?: boolean;
  packetBuffered?: boolean;
  immediateMode?: boolean;
  noResolveDNS?: boolean;
  noResolvePort?: boolean;
  verbosity?: Verbosity;
  printDataFormat?: PrintDataFormat;
  printLinkHeader?: boolean;
  quietOutput?: boolean;
  absoluteSeq?: boolean;
  dontVerifyChecksum?: boolean;
  timestampFormat?: TimestampFormat;
}

/** What to capture and how. */
export interface CaptureConfiguration {
  captureTarget: CaptureTarget;
  filters?: CaptureFilters;
  /** Deprecated: use captureOption.pcapFilter. */
  tcpdumpFilter?: string;
  /** Collect node network metadata (default true). */
  includeMetadata?: boolean;
  captureOption?: CaptureOption;
}

/** S3 (or S3-compatible) destination; credentials come from the named Secret. */
export interface S3Upload {
  endpoint?: string;
  bucket: string;
  secretName: string;
  region?: string;
  /** Key prefix, e.g. `retina/captures`. */
  path?: string;
}

/** Where the tarball goes; at least one output is required. */
export interface OutputConfiguration {
  /** Relative sub-path under the operator's host base directory. */
  hostPath?: string;
  /** PersistentVolumeClaim mounted into the capture pod. */
  persistentVolumeClaim?: string;
  /** Name of a Secret whose `blob-upload-url` key holds a container SAS URL. */
  blobUpload?: string;
  s3Upload?: S3Upload;
}

/** The desired state of a Capture. */
export interface CaptureSpec {
  captureConfiguration: CaptureConfiguration;
  outputConfiguration: OutputConfiguration;
  cleanUpAfterUpload?: boolean;
}

/** A `metav1.Condition`. */
export interface CaptureCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** State of the capture job on one node. */
export interface CaptureNodeStatus {
  nodeName: string;
  jobName: string;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  /** Where the node's tarball is (or will be) stored, one entry per output, without credentials. */
  artifacts?: string[];
}

/** The observed state of a Capture. */
export interface CaptureStatus {
  conditions?: CaptureCondition[];
  startTime?: string;
  completionTime?: string;
  active?: number;
  succeeded?: number;
  failed?: number;
  nodes?: CaptureNodeStatus[];
}

/** Object metadata fields the capture tools read and write. */
export interface CaptureMetadata {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string | Date;
  deletionTimestamp?: string | Date;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
}

/** A Capture resource. */
export interface Capture {
  apiVersion: typeof CAPTURE_API_VERSION;
  kind: typeof CAPTURE_KIND;
  metadata: CaptureMetadata;
  spec: CaptureSpec;
  status?: CaptureStatus;
}

/** Condition types and reasons the operator writes (Retina's names). */
export const CaptureConditionType = { Complete: 'complete', Error: 'error' } as const;
export const CaptureConditionReason = {
  JobsInProgress: 'JobsInProgress',
  JobsCompleted: 'JobsCompleted',
  JobsFailed: 'JobsFailed',
  ExceedJobNumLimit: 'ExceedJobNumLimit',
  FindSecretFailed: 'FindSecretFailed',
  InvalidSpec: 'InvalidSpec',
  OtherError: 'OtherError',
  CreateJobFailed: 'CreateJobFailed',
} as const;
