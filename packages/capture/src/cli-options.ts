/**
 * The capture flags shared by `retina-capture` and `kubectl retina capture create`, defined once so both take
 * the same names, defaults and value syntax. Booleans accept Go's forms (`--flag`, `--flag=true|false`), as
 * Retina users write them; `--no-*` flags keep their literal meaning.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CaptureDefaults, DEFAULT_HOST_PATH_BASE_DIR } from './model/constants.js';
import type { CaptureFlags } from './workload/flags.js';

/** Parses `true`/`false`/`1`/`0` (Go's strconv.ParseBool subset); throws for anything else. */
export function parseBoolValue(v: string): boolean {
  const s = v.trim().toLowerCase();
  if (['true', '1', 't', 'yes'].includes(s)) return true;
  if (['false', '0', 'f', 'no'].includes(s)) return false;
  throw new InvalidArgumentError(`"${v}" is not a boolean: use true or false`);
}

/**
 * Adds a Go-style boolean flag. For `--no-x` flags commander stores the positive attribute (`x`), so the parsed
 * value is inverted to keep `readBool(opts, 'no-x')` literal.
 */
export function boolFlag(cmd: Command, flag: string, description: string, defaultValue = false): Command {
  const negated = flag.startsWith('no-');
  const opt = new Option(`--${flag} [bool]`, `${description} (default ${defaultValue})`).argParser((v: string) =>
    negated ? !parseBoolValue(v) : parseBoolValue(v),
  );
  opt.default(negated ? !defaultValue : defaultValue);
  return cmd.addOption(opt);
}

const camel = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** Reads a flag defined with boolFlag, with its literal meaning. */
export function readBool(opts: Record<string, unknown>, flag: string): boolean {
  if (flag.startsWith('no-')) return opts[camel(flag.slice(3))] === false;
  return opts[camel(flag)] === true;
}

/** The tcpdump output flags, as Retina names them. */
export const TCPDUMP_BOOL_FLAGS = [
  ['no-promiscuous', 'do not put the interface into promiscuous mode (tcpdump -p)'],
  ['packet-buffered', 'write each packet as soon as it is captured (tcpdump -U)'],
  ['immediate-mode', 'deliver packets immediately (tcpdump --immediate-mode)'],
  ['no-resolve-dns', 'do not resolve addresses to names (tcpdump -n)'],
  ['no-resolve-port', 'do not resolve addresses or ports to names (tcpdump -nn)'],
  ['print-link-header', 'print link-level headers (tcpdump -e)'],
  ['quiet-output', 'print less protocol information (tcpdump -q)'],
  ['absolute-seq', 'print absolute TCP sequence numbers (tcpdump -S)'],
  ['dont-verify-checksum', 'do not verify TCP checksums (tcpdump -K)'],
] as const;

/** Adds the flags both capture commands share. */
export function addCaptureFlags(cmd: Command): Command {
  cmd
    .option('--name <name>', 'name of the capture', CaptureDefaults.name)
    .option('--duration <duration>', 'how long to capture, e.g. 30s, 1m, 2h', CaptureDefaults.duration)
    .option('--max-size <MB>', 'stop at this file size in MB; per file with --file-count', String(CaptureDefaults.maxSizeMB))
    .option('--packet-size <bytes>', 'truncate packets to this many bytes (0: whole packets)', String(CaptureDefaults.packetSize))
    .option('--file-count <n>', 'rotate over this many files of --max-size each (0: one file)', String(CaptureDefaults.fileCount))
    .option('--include-filter <list>', 'capture only these: IP:Port, IP, Port, *:Port or IP:*, comma separated')
    .option('--exclude-filter <list>', 'do not capture these (same syntax as --include-filter)')
    .option('--pcap-filter <expr>', 'pcap filter expression, e.g. "tcp port 443" (no flags)')
    .option('--tcpdump-filter <expr>', 'deprecated: use --pcap-filter')
    .option('--source-ips <list>', 'capture only packets from these IPs (comma separated)')
    .option('--destination-ips <list>', 'capture only packets to these IPs (comma separated)')
    .option('--interfaces <list>', 'interfaces to capture on (comma separated; default all)')
    .option('--host-path <subpath>', 'relative directory under --host-path-base-dir for the node copy', CaptureDefaults.hostPath)
    .option('--host-path-base-dir <dir>', 'base directory host paths are confined to', DEFAULT_HOST_PATH_BASE_DIR)
    .option('--blob-upload <sasUrl>', 'Azure Blob container SAS URL to upload the tarball to')
    .option('--s3-bucket <bucket>', 'S3 bucket to upload the tarball to')
    .option('--s3-region <region>', 'S3 region')
    .option('--s3-endpoint <url>', 'S3-compatible endpoint URL')
    .option('--s3-path <prefix>', 'key prefix in the bucket', CaptureDefaults.s3Path)
    .option('--s3-access-key-id <id>', 'S3 access key id')
    .option('--s3-secret-access-key <key>', 'S3 secret access key')
    .option('--verbosity <level>', 'tcpdump verbosity: verbose, extra or max')
    .option('--timestamp-format <format>', 'tcpdump timestamps: none, unformatted, delta, date, delta-since-first')
    .option('--print-data <format>', 'tcpdump packet data: hex, hex-with-link, ascii, ascii-with-link');
  boolFlag(cmd, 'include-metadata', 'collect node network metadata with the capture', true);
  for (const [flag, desc] of TCPDUMP_BOOL_FLAGS) boolFlag(cmd, flag, desc);
  return cmd;
}

/** The shared flags' values as CaptureFlags. */
export function captureFlagsFromOptions(o: Record<string, unknown>): CaptureFlags {
  const s = (k: string) => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);
  return {
    name: s('name'),
    duration: s('duration') ?? '0s',
    maxSize: s('maxSize') ?? '0',
    packetSize: s('packetSize'),
    fileCount: s('fileCount'),
    includeFilter: s('includeFilter'),
    excludeFilter: s('excludeFilter'),
    pcapFilter: s('pcapFilter'),
    tcpdumpFilter: s('tcpdumpFilter'),
    sourceIps: s('sourceIps'),
    destinationIps: s('destinationIps'),
    interfaces: s('interfaces'),
    includeMetadata: readBool(o, 'include-metadata'),
    hostPath: s('hostPath'),
    hostPathBaseDir: s('hostPathBaseDir'),
    blobUpload: s('blobUpload'),
    s3Bucket: s('s3Bucket'),
    s3Region: s('s3Region'),
    s3Endpoint: s('s3Endpoint'),
    s3Path: s('s3Path'),
    s3AccessKeyId: s('s3AccessKeyId'),
    s3SecretAccessKey: s('s3SecretAccessKey'),
    noPromiscuous: readBool(o, 'no-promiscuous'),
    packetBuffered: readBool(o, 'packet-buffered'),
    immediateMode: readBool(o, 'immediate-mode'),
    noResolveDns: readBool(o, 'no-resolve-dns'),
    noResolvePort: readBool(o, 'no-resolve-port'),
    printLinkHeader: readBool(o, 'print-link-header'),
    quietOutput: readBool(o, 'quiet-output'),
    absoluteSeq: readBool(o, 'absolute-seq'),
    dontVerifyChecksum: readBool(o, 'dont-verify-checksum'),
    verbosity: s('verbosity'),
    timestampFormat: s('timestampFormat'),
    printData: s('printData'),
  };
}
