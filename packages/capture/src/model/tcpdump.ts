/**
 * tcpdump's command line for a capture (pure). Output options map one-to-one onto tcpdump flags; Retina passes
 * them to the workload as TCPDUMP_FLAGS.
 */
import type { CaptureOption } from './types.js';

const VERBOSITY: Record<string, string> = { verbose: '-v', extra: '-vv', max: '-vvv' };
const PRINT_DATA: Record<string, string> = { hex: '-x', 'hex-with-link': '-xx', ascii: '-A', 'ascii-with-link': '-AA' };
const TIMESTAMP: Record<string, string> = {
  none: '-t',
  unformatted: '-tt',
  delta: '-ttt',
  date: '-tttt',
  'delta-since-first': '-ttttt',
};

/** Every flag TCPDUMP_FLAGS may carry; anything else is refused so the variable cannot inject options. */
export const ALLOWED_TCPDUMP_FLAGS: ReadonlySet<string> = new Set([
  '-p',
  '-U',
  '--immediate-mode',
  '-n',
  '-nn',
  '-e',
  '-q',
  '-S',
  '-K',
  ...Object.values(VERBOSITY),
  ...Object.values(PRINT_DATA),
  ...Object.values(TIMESTAMP),
]);

/** The tcpdump flags for a capture's output options, in a stable order. */
export function tcpdumpFlags(o: CaptureOption = {}): string[] {
  const flags: string[] = [];
  if (o.noPromiscuous) flags.push('-p');
  if (o.packetBuffered) flags.push('-U');
  if (o.immediateMode) flags.push('--immediate-mode');
  if (o.noResolvePort) flags.push('-nn');
  else if (o.noResolveDNS) flags.push('-n');
  if (o.printLinkHeader) flags.push('-e');
  if (o.quietOutput) flags.push('-q');
  if (o.absoluteSeq) flags.push('-S');
  if (o.dontVerifyChecksum) flags.push('-K');
  if (o.verbosity && VERBOSITY[o.verbosity]) flags.push(VERBOSITY[o.verbosity]!);
  if (o.printDataFormat && PRINT_DATA[o.printDataFormat]) flags.push(PRINT_DATA[o.printDataFormat]!);
  if (o.timestampFormat && TIMESTAMP[o.timestampFormat]) flags.push(TIMESTAMP[o.timestampFormat]!);
  return flags;
}

/** Parses TCPDUMP_FLAGS (space separated), refusing any flag not in ALLOWED_TCPDUMP_FLAGS. */
export function parseTcpdumpFlags(text: string | undefined): string[] {
  const flags = (text ?? '').split(/\s+/).filter((f) => f !== '');
  for (const f of flags) {
    if (!ALLOWED_TCPDUMP_FLAGS.has(f)) {
      throw new Error(`TCPDUMP_FLAGS: "${f}" is not an allowed tcpdump flag (allowed: ${[...ALLOWED_TCPDUMP_FLAGS].join(' ')})`);
    }
  }
  return flags;
}

/** What one tcpdump process writes and how. */
export interface TcpdumpCommand {
  /** Output file (`-w`); with rotation tcpdump appends the file index. */
  outputFile: string;
  /** Interface (`-i`); `any` captures on all. */
  interface: string;
  packetSize?: number;
  flags?: readonly string[];
  /** Per-file size in MB for rotation (`-C`, tcpdump's unit is 1,000,000 bytes). */
  rotateSizeMB?: number;
  /** Number of rotating files (`-W`). */
  fileCount?: number;
  filter?: string;
}

/**
 * The argv (without the program name): `-w FILE --relinquish-privileges=root [-s N] [flags] -i IF [-C MB -W N]
 * [filter]`. The filter is one final argument so tcpdump never reads it as options.
 */
export function tcpdumpArgs(c: TcpdumpCommand): string[] {
  // Debian's tcpdump drops to user "tcpdump" after opening the device; staying root keeps the capture directory
  // (created by the workload as root) writable, which rotation needs.
  const args = ['-w', c.outputFile, '--relinquish-privileges=root'];
  if (c.packetSize && c.packetSize > 0) args.push('-s', String(c.packetSize));
  args.push(...(c.flags ?? []));
  args.push('-i', c.interface);
  if (c.fileCount && c.fileCount > 0 && c.rotateSizeMB && c.rotateSizeMB > 0) {
    args.push('-C', String(c.rotateSizeMB), '-W', String(c.fileCount));
  }
  if (c.filter) args.push(c.filter);
  return args;
}
