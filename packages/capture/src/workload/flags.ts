/**
 * `retina-capture` flags (the names of `kubectl retina capture create`) to a workload configuration. Pure: the
 * command line layer only parses strings into CaptureFlags.
 */
import { hostname, tmpdir } from 'node:os';
import { CaptureDefaults, DEFAULT_HOST_PATH_BASE_DIR } from '../model/constants.js';
import { andFilters, buildAddressFilter, buildSystemFilter, checkUserFilter, splitList } from '../model/filter.js';
import { resolveHostPath } from '../model/hostpath.js';
import { tcpdumpFlags } from '../model/tcpdump.js';
import type { PrintDataFormat, TimestampFormat, Verbosity } from '../model/types.js';
import { parseCount, parseDurationSeconds, WorkloadConfigError, type WorkloadConfig, type WorkloadOutputs } from './config.js';

/** The flag values as strings and booleans, before interpretation. */
export interface CaptureFlags {
  name?: string;
  nodeName?: string;
  duration?: string;
  maxSize?: string;
  packetSize?: string;
  fileCount?: string;
  includeFilter?: string;
  excludeFilter?: string;
  pcapFilter?: string;
  tcpdumpFilter?: string;
  sourceIps?: string;
  destinationIps?: string;
  interfaces?: string;
  includeMetadata?: boolean;
  hostPath?: string;
  hostPathBaseDir?: string;
  blobUpload?: string;
  s3Bucket?: string;
  s3Region?: string;
  s3Endpoint?: string;
  s3Path?: string;
  s3AccessKeyId?: string;
  s3SecretAccessKey?: string;
  noPromiscuous?: boolean;
  packetBuffered?: boolean;
  immediateMode?: boolean;
  noResolveDns?: boolean;
  noResolvePort?: boolean;
  printLinkHeader?: boolean;
  quietOutput?: boolean;
  absoluteSeq?: boolean;
  dontVerifyChecksum?: boolean;
  verbosity?: string;
  timestampFormat?: string;
  printData?: string;
  workDir?: string;
}

const oneOf = <T extends string>(value: string | undefined, allowed: readonly T[], flag: string): T | undefined => {
  if (value === undefined || value === '') return undefined;
  if (!allowed.includes(value as T)) throw new WorkloadConfigError(`${flag}: "${value}" must be one of ${allowed.join(', ')}`);
  return value as T;
};

/** Builds the workload configuration from `retina-capture` flags. */
export function workloadConfigFromFlags(f: CaptureFlags, now: Date = new Date()): WorkloadConfig {
  const durationMs = parseDurationSeconds(f.duration ?? CaptureDefaults.duration, '--duration');
  const maxSizeMB = parseCount(f.maxSize ?? String(CaptureDefaults.maxSizeMB), '--max-size');
  const fileCount = parseCount(f.fileCount ?? '0', '--file-count');
  const packetSize = parseCount(f.packetSize ?? '0', '--packet-size');
  if (fileCount && !maxSizeMB) throw new WorkloadConfigError('--file-count requires --max-size (the size of each file)');
  if (!durationMs && !maxSizeMB) {
    throw new WorkloadConfigError('neither --duration nor --max-size is set: the capture would never stop');
  }
  const sourceIPs = splitList(f.sourceIps);
  const destinationIPs = splitList(f.destinationIps);
  if (f.tcpdumpFilter && (sourceIPs.length || destinationIPs.length)) {
    throw new WorkloadConfigError('--tcpdump-filter cannot be combined with --source-ips/--destination-ips; use --pcap-filter');
  }
  const user = f.pcapFilter
    ? checkUserFilter(f.pcapFilter, '--pcap-filter')
    : f.tcpdumpFilter
      ? checkUserFilter(f.tcpdumpFilter, '--tcpdump-filter')
      : undefined;
  const system = buildSystemFilter({ include: splitList(f.includeFilter), exclude: splitList(f.excludeFilter) });
  const filter = andFilters(andFilters(user, buildAddressFilter(sourceIPs, destinationIPs)), system);

  const outputs: WorkloadOutputs = {};
  // As with `capture create`, a node copy is always kept (default sub-path `retina`).
  const hostPath = f.hostPath ?? CaptureDefaults.hostPath;
  if (hostPath) outputs.hostPath = resolveHostPath(f.hostPathBaseDir ?? DEFAULT_HOST_PATH_BASE_DIR, hostPath, '--host-path');
  if (f.blobUpload) outputs.blobSasUrl = f.blobUpload;
  if (f.s3Bucket) {
    if (!f.s3Region && !f.s3Endpoint) throw new WorkloadConfigError('--s3-bucket needs --s3-region or --s3-endpoint');
    outputs.s3 = {
      bucket: f.s3Bucket,
      ...(f.s3Region ? { region: f.s3Region } : {}),
      ...(f.s3Endpoint ? { endpoint: f.s3Endpoint } : {}),
      path: f.s3Path ?? CaptureDefaults.s3Path,
      ...(f.s3AccessKeyId ? { accessKeyId: f.s3AccessKeyId } : {}),
      ...(f.s3SecretAccessKey ? { secretAccessKey: f.s3SecretAccessKey } : {}),
    };
  }
  return {
    captureName: f.name ?? CaptureDefaults.name,
    nodeName: f.nodeName ?? hostname(),
    startTime: now,
    ...(durationMs ? { durationMs } : {}),
    ...(maxSizeMB ? { maxSizeMB } : {}),
    ...(fileCount ? { fileCount } : {}),
    ...(packetSize ? { packetSize } : {}),
    interfaces: splitList(f.interfaces),
    includeMetadata: f.includeMetadata ?? CaptureDefaults.includeMetadata,
    ...(filter ? { filter } : {}),
    tcpdumpFlags: tcpdumpFlags({
      noPromiscuous: f.noPromiscuous,
      packetBuffered: f.packetBuffered,
      immediateMode: f.immediateMode,
      noResolveDNS: f.noResolveDns,
      noResolvePort: f.noResolvePort,
      printLinkHeader: f.printLinkHeader,
      quietOutput: f.quietOutput,
      absoluteSeq: f.absoluteSeq,
      dontVerifyChecksum: f.dontVerifyChecksum,
      verbosity: oneOf<Verbosity>(f.verbosity, ['', 'verbose', 'extra', 'max'], '--verbosity'),
      printDataFormat: oneOf<PrintDataFormat>(f.printData, ['', 'hex', 'hex-with-link', 'ascii', 'ascii-with-link'], '--print-data'),
      timestampFormat: oneOf<TimestampFormat>(
        f.timestampFormat,
        ['', 'none', 'unformatted', 'delta', 'date', 'delta-since-first'],
        '--timestamp-format',
      ),
    }),
    outputs,
    workDir: f.workDir ?? tmpdir(),
  };
}
