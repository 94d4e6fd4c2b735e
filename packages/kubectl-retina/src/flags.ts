/**
 * `kubectl retina capture create` flags to a Capture object (pure), with Retina's defaults and rules: node
 * selectors default to Linux nodes and give way to node names or pod targets; a node copy is always kept under
 * the host path; remote outputs refer to Secrets the CLI creates.
 */
import {
  BLOB_SECRET_PREFIX,
  CAPTURE_API_VERSION,
  CAPTURE_KIND,
  CaptureDefaults,
  parseLabelPairs,
  S3_SECRET_PREFIX,
  splitList,
  validateCapture,
  type Capture,
  type CaptureFlags,
  type CaptureOption,
  type PrintDataFormat,
  type TimestampFormat,
  type Verbosity,
} from '@retina-ts/capture';

/** The create-only flags on top of the shared capture flags. */
export interface CreateFlags extends CaptureFlags {
  namespace: string;
  nodeSelectors?: string;
  nodeNames?: string;
  podNames?: string;
  podSelectors?: string;
  namespaceSelectors?: string;
  pvc?: string;
  cleanupAfterUpload?: boolean;
}

/** Credentials the CLI stores in Secrets for the capture. */
export interface CaptureSecrets {
  blob?: { name: string; sasUrl: string };
  s3?: { name: string; accessKeyId: string; secretAccessKey: string };
}

/** A flag combination that cannot work, naming the flags. */
export class CreateFlagError extends Error {
  override name = 'CreateFlagError';
}

const num = (v: string | undefined, flag: string): number | undefined => {
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new CreateFlagError(`${flag}: "${v}" is not a non-negative integer`);
  return Number(v);
};

/** Secret name for a capture: the CLI's prefix and the capture name (Secret names allow 253 characters). */
export function secretNameFor(prefix: string, captureName: string): string {
  return `${prefix}-${captureName}`.slice(0, 253);
}

/** Builds and validates the Capture the flags describe, and the secrets it needs. */
export function captureFromFlags(
  f: CreateFlags,
  options: { hostPathBaseDir?: string } = {},
): { capture: Capture; secrets: CaptureSecrets } {
  const name = f.name ?? CaptureDefaults.name;
  const nodeNames = splitList(f.nodeNames);
  const podNames = splitList(f.podNames);
  const podSel = f.podSelectors ? parseLabelPairs(f.podSelectors, '--pod-selectors') : undefined;
  const nsSel = f.namespaceSelectors ? parseLabelPairs(f.namespaceSelectors, '--namespace-selectors') : undefined;
  const target: Capture['spec']['captureConfiguration']['captureTarget'] = {};
  if (podNames.length > 0) target.podNames = podNames;
  else if (podSel || nsSel) {
    if (podSel) target.podSelector = { matchLabels: podSel };
    if (nsSel) target.namespaceSelector = { matchLabels: nsSel };
  } else if (nodeNames.length > 0) {
    target.nodeSelector = { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: nodeNames }] };
  } else {
    const sel = parseLabelPairs(f.nodeSelectors ?? CaptureDefaults.nodeSelectors, '--node-selectors');
    target.nodeSelector = { matchLabels: sel };
  }
  const maxSize = num(f.maxSize, '--max-size');
  const fileCount = num(f.fileCount, '--file-count');
  const packetSize = num(f.packetSize, '--packet-size');
  const option: CaptureOption = {};
  if (f.duration && f.duration !== '0' && f.duration !== '0s') option.duration = f.duration;
  if (maxSize) option.maxCaptureSize = maxSize;
  if (fileCount) option.fileCount = fileCount;
  if (packetSize) option.packetSize = packetSize;
  const ifaces = splitList(f.interfaces);
  if (ifaces.length) option.interfaces = ifaces;
  if (f.pcapFilter) option.pcapFilter = f.pcapFilter;
  const src = splitList(f.sourceIps);
  const dst = splitList(f.destinationIps);
  if (src.length) option.sourceIPs = src;
  if (dst.length) option.destinationIPs = dst;
  const bools: [keyof CaptureOption, boolean | undefined][] = [
    ['noPromiscuous', f.noPromiscuous],
    ['packetBuffered', f.packetBuffered],
    ['immediateMode', f.immediateMode],
    ['noResolveDNS', f.noResolveDns],
    ['noResolvePort', f.noResolvePort],
    ['printLinkHeader', f.printLinkHeader],
    ['quietOutput', f.quietOutput],
    ['absoluteSeq', f.absoluteSeq],
    ['dontVerifyChecksum', f.dontVerifyChecksum],
  ];
  for (const [k, v] of bools) if (v) (option as Record<string, unknown>)[k] = true;
  if (f.verbosity) option.verbosity = f.verbosity as Verbosity;
  if (f.printData) option.printDataFormat = f.printData as PrintDataFormat;
  if (f.timestampFormat) option.timestampFormat = f.timestampFormat as TimestampFormat;

  const include = splitList(f.includeFilter);
  const exclude = splitList(f.excludeFilter);
  const secrets: CaptureSecrets = {};
  const output: Capture['spec']['outputConfiguration'] = { hostPath: f.hostPath ?? CaptureDefaults.hostPath };
  if (f.pvc) output.persistentVolumeClaim = f.pvc;
  if (f.blobUpload) {
    const secret = secretNameFor(BLOB_SECRET_PREFIX, name);
    output.blobUpload = secret;
    secrets.blob = { name: secret, sasUrl: f.blobUpload };
  }
  if (f.s3Bucket) {
    if (!f.s3AccessKeyId || !f.s3SecretAccessKey) {
      throw new CreateFlagError('--s3-bucket needs --s3-access-key-id and --s3-secret-access-key');
    }
    if (!f.s3Region && !f.s3Endpoint) throw new CreateFlagError('--s3-bucket needs --s3-region or --s3-endpoint');
    const secret = secretNameFor(S3_SECRET_PREFIX, name);
    output.s3Upload = {
      bucket: f.s3Bucket,
      secretName: secret,
      ...(f.s3Region ? { region: f.s3Region } : {}),
      ...(f.s3Endpoint ? { endpoint: f.s3Endpoint } : {}),
      path: f.s3Path ?? CaptureDefaults.s3Path,
    };
    secrets.s3 = { name: secret, accessKeyId: f.s3AccessKeyId, secretAccessKey: f.s3SecretAccessKey };
  }
  const capture: Capture = {
    apiVersion: CAPTURE_API_VERSION,
    kind: CAPTURE_KIND,
    metadata: { name, namespace: f.namespace },
    spec: {
      captureConfiguration: {
        captureTarget: target,
        ...(include.length || exclude.length
          ? { filters: { ...(include.length ? { include } : {}), ...(exclude.length ? { exclude } : {}) } }
          : {}),
        ...(f.tcpdumpFilter ? { tcpdumpFilter: f.tcpdumpFilter } : {}),
        includeMetadata: f.includeMetadata ?? CaptureDefaults.includeMetadata,
        captureOption: option,
      },
      outputConfiguration: output,
      ...(f.cleanupAfterUpload ? { cleanUpAfterUpload: true } : {}),
    },
  };
  return { capture: validateCapture(capture, options), secrets };
}
