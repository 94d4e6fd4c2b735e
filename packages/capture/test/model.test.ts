import { describe, expect, it } from 'vitest';
import {
  captureBaseName,
  captureTarballName,
  formatCaptureTimestamp,
  HostPathError,
  parseCaptureTimestamp,
  parseTcpdumpFlags,
  resolveHostPath,
  tcpdumpArgs,
  tcpdumpFlags,
} from '../src/index.js';

describe('tcpdump command line', () => {
  it('puts the output, privileges, snap length, flags, interface, rotation and filter in order', () => {
    expect(
      tcpdumpArgs({
        outputFile: '/tmp/c/c.pcap',
        interface: 'eth0',
        packetSize: 96,
        flags: ['-n', '-U'],
        rotateSizeMB: 10,
        fileCount: 3,
        filter: 'port 53',
      }),
    ).toEqual(['-w', '/tmp/c/c.pcap', '--relinquish-privileges=root', '-s', '96', '-n', '-U', '-i', 'eth0', '-C', '10', '-W', '3', 'port 53']);
  });

  it('leaves out the snap length for whole packets and rotation without a file count', () => {
    expect(tcpdumpArgs({ outputFile: 'f', interface: 'any', packetSize: 0, rotateSizeMB: 100 })).toEqual([
      '-w',
      'f',
      '--relinquish-privileges=root',
      '-i',
      'any',
    ]);
  });

  it('maps output options to flags', () => {
    expect(
      tcpdumpFlags({
        noPromiscuous: true,
        packetBuffered: true,
        immediateMode: true,
        noResolveDNS: true,
        printLinkHeader: true,
        quietOutput: true,
        absoluteSeq: true,
        dontVerifyChecksum: true,
        verbosity: 'extra',
        printDataFormat: 'ascii-with-link',
        timestampFormat: 'delta-since-first',
      }),
    ).toEqual(['-p', '-U', '--immediate-mode', '-n', '-e', '-q', '-S', '-K', '-vv', '-AA', '-ttttt']);
    expect(tcpdumpFlags({ noResolveDNS: true, noResolvePort: true })).toEqual(['-nn']);
    expect(tcpdumpFlags({})).toEqual([]);
  });

  it('accepts only known flags from TCPDUMP_FLAGS', () => {
    expect(parseTcpdumpFlags(' -n  -vv ')).toEqual(['-n', '-vv']);
    expect(parseTcpdumpFlags(undefined)).toEqual([]);
    expect(() => parseTcpdumpFlags('-n -w /etc/x')).toThrow('TCPDUMP_FLAGS: "-w" is not an allowed tcpdump flag');
  });
});

describe('artifact names', () => {
  const t = new Date(Date.UTC(2024, 0, 31, 23, 5, 9, 750));
  it('formats and parses the timestamp (UTC, whole seconds)', () => {
    expect(formatCaptureTimestamp(t)).toBe('20240131230509UTC');
    expect(parseCaptureTimestamp('20240131230509UTC').toISOString()).toBe('2024-01-31T23:05:09.000Z');
    expect(() => parseCaptureTimestamp('2024-01-31')).toThrow(/YYYYMMDDhhmmssUTC/);
  });
  it('names the base and tarball after capture, node and time', () => {
    expect(captureBaseName('web', 'node-1', t)).toBe('web-node-1-20240131230509UTC');
    expect(captureTarballName('web', 'node-1', t)).toBe('web-node-1-20240131230509UTC.tar.gz');
  });
});

describe('hostPath confinement', () => {
  const base = '/var/log/retina/captures';
  it.each([
    ['retina', '/var/log/retina/captures/retina'],
    ['team/a/', '/var/log/retina/captures/team/a'],
    ['./x', '/var/log/retina/captures/x'],
  ])('joins %j under the base', (sub, want) => {
    expect(resolveHostPath(base, sub)).toBe(want);
  });

  it.each([
    ['/tmp/foo', /not an absolute path/],
    ['C:\\foo', /not an absolute path/],
    ['\\\\server\\share', /not an absolute path/],
    ['../etc', /must not contain '\.\.'/],
    ['a/../../b', /must not contain '\.\.'/],
    ['a\\..\\b', /must not contain '\.\.'/],
    ['', /is empty/],
    ['.', /base directory .* itself/],
  ])('rejects %j', (sub, message) => {
    expect(() => resolveHostPath(base, sub)).toThrow(HostPathError);
    expect(() => resolveHostPath(base, sub)).toThrow(message);
  });

  it('requires an absolute base', () => {
    expect(() => resolveHostPath('relative/base', 'x')).toThrow(/must be an absolute path/);
  });
});
