/**
 * Names shared by the CLI, the operator and the workload: labels, annotations, environment variables, mount
 * paths and secret keys. They match Retina's, so existing tooling that looks for capture jobs finds ours.
 */

/** Labels on capture Jobs and the Secrets created for them. */
export const LABEL_APP = 'retina.sh/app';
export const LABEL_APP_CAPTURE = 'capture';
export const LABEL_APP_DOWNLOAD = 'download';
export const LABEL_CAPTURE_NAME = 'capture-name';
/** Node the job captures on (not in Retina; lets list/status name the node without reading pods). */
export const LABEL_CAPTURE_NODE = 'retina.sh/capture-node';

/** Pod annotations of capture jobs. */
export const ANNOTATION_FILENAME = 'retina-capture-filename';
export const ANNOTATION_TIMESTAMP = 'retina-capture-timestamp';
export const ANNOTATION_HOSTPATH = 'retina-capture-hostpath';

/** Finalizer the operator puts on Captures so it can delete their jobs. */
export const CAPTURE_FINALIZER = 'kappio.io/capture-cleanup';

/** Host directory under which hostPath outputs are confined. */
export const DEFAULT_HOST_PATH_BASE_DIR = '/var/log/retina/captures';
/** Where the PVC output is mounted in the capture pod. */
export const PVC_MOUNT_PATH = '/mnt/azure';
/** Blob SAS URL secret: mount directory and key. */
export const BLOB_SECRET_MOUNT_PATH = '/etc/blob-upload-secret';
export const BLOB_SECRET_KEY = 'blob-upload-url';
/** S3 credentials secret: mount directory and keys. */
export const S3_SECRET_MOUNT_PATH = '/etc/s3-upload-secret';
export const S3_SECRET_ACCESS_KEY_ID = 's3-access-key-id';
export const S3_SECRET_SECRET_ACCESS_KEY = 's3-secret-access-key';
/** generateName-style prefixes of secrets the CLI creates. */
export const BLOB_SECRET_PREFIX = 'capture-blob-upload-secret';
export const S3_SECRET_PREFIX = 'capture-s3-upload-secret';

/** Environment variables the Job passes to the workload. */
export const Env = {
  CaptureName: 'CAPTURE_NAME',
  NodeHostName: 'NODE_HOST_NAME',
  StartTimestamp: 'CAPTURE_START_TIMESTAMP',
  PodName: 'POD_NAME',
  Namespace: 'NAMESPACE',
  ApiServer: 'APISERVER',
  HostPath: 'HOSTPATH',
  PersistentVolumeClaim: 'PERSISTENT_VOLUME_CLAIM',
  S3Endpoint: 'S3_ENDPOINT',
  S3Region: 'S3_REGION',
  S3Bucket: 'S3_BUCKET',
  S3Path: 'S3_PATH',
  Duration: 'CAPTURE_DURATION',
  MaxSize: 'CAPTURE_MAX_SIZE',
  FileCount: 'CAPTURE_FILE_COUNT',
  Interfaces: 'CAPTURE_INTERFACES',
  PacketSize: 'CAPTURE_PACKET_SIZE',
  IncludeMetadata: 'INCLUDE_METADATA',
  TcpdumpFilter: 'TCPDUMP_FILTER',
  TcpdumpRawFilter: 'TCPDUMP_RAW_FILTER',
  PcapFilter: 'PCAP_FILTER',
  TcpdumpFlags: 'TCPDUMP_FLAGS',
} as const;

/** Defaults of `kubectl retina capture create` (and `retina-capture`). */
export const CaptureDefaults = {
  name: 'retina-capture',
  namespace: 'default',
  duration: '1m',
  maxSizeMB: 100,
  packetSize: 0,
  fileCount: 0,
  nodeSelectors: 'kubernetes.io/os=linux',
  hostPath: 'retina',
  s3Path: 'retina/captures',
  includeMetadata: true,
} as const;
