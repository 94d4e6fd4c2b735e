import { describe, expect, it } from 'vitest';
import { cleanSecretValue, describeOutputs, redactUrl, workloadConfigFromEnv, workloadConfigFromFlags } from '../src/index.js';

const secrets: Record<string, string> = {
  '/etc/blob-upload-secret/blob-upload-url': '"https://acct.blob.core.windows.net/captures?sv=2021&sig=SECRET"\n',
  '/etc/s3-upload-secret/s3-access-key-id': 'AKIDEXAMPLE\n',
  '/etc/s3-upload-secret/s3-secret-access-key': ' wJalrSECRET ',
};
const reader = (p: string) => secrets[p];

describe('workload configuration from a Job environment', () => {
  it('reads every variable and mounted secret', () => {
    const c = workloadConfigFromEnv(
      {
        CAPTURE_NAME: 'web',
        NODE_HOST_NAME: 'node-1',
        CAPTURE_START_TIMESTAMP: '20240131230509UTC',
        CAPTURE_DURATION: '1m30.7s',
        CAPTURE_MAX_SIZE: '50',
        CAPTURE_FILE_COUNT: '3',
        CAPTURE_PACKET_SIZE: '128',
        CAPTURE_INTERFACES: 'eth0, eth1',
        INCLUDE_METADATA: 'true',
        HOSTPATH: '/var/log/retina/captures/retina',
        PERSISTENT_VOLUME_CLAIM: 'my-pvc',
        S3_BUCKET: 'bkt',
        S3_ENDPOINT: 'http://127.0.0.1:9000',
        S3_PATH: 'pfx',
        PCAP_FILTER: 'tcp',
        TCPDUMP_FILTER: '(port 53)',
        TCPDUMP_FLAGS: '-n -U',
      },
      reader,
      { workDir: '/work' },
    );
    expect(c).toEqual({
      captureName: 'web',
      nodeName: 'node-1',
      startTime: new Date('2024-01-31T23:05:09Z'),
      durationMs: 90_000,
      maxSizeMB: 50,
      fileCount: 3,
      packetSize: 128,
      interfaces: ['eth0', 'eth1'],
      includeMetadata: true,
      filter: '(tcp) and ((port 53))',
      tcpdumpFlags: ['-n', '-U'],
      outputs: {
        hostPath: '/var/log/retina/captures/retina',
        pvcDir: '/mnt/azure',
        blobSasUrl: 'https://acct.blob.core.windows.net/captures?sv=2021&sig=SECRET',
        s3: { bucket: 'bkt', endpoint: 'http://127.0.0.1:9000', path: 'pfx', accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrSECRET' },
      },
      workDir: '/work',
    });
  });

  it('treats an empty or unparsable INCLUDE_METADATA as false and skips S3 without endpoint or region', () => {
    const c = workloadConfigFromEnv({ CAPTURE_NAME: 'x', INCLUDE_METADATA: 'yes', S3_BUCKET: 'b' }, () => undefined);
    expect(c.includeMetadata).toBe(false);
    expect(c.outputs).toEqual({});
    expect(c.filter).toBeUndefined();
  });

  it('prefers PCAP_FILTER over the deprecated raw filter, with a warning', () => {
    const warnings: string[] = [];
    const c = workloadConfigFromEnv({ CAPTURE_NAME: 'x', PCAP_FILTER: 'udp', TCPDUMP_RAW_FILTER: 'tcp' }, () => undefined, {
      warn: (m) => warnings.push(m),
    });
    expect(c.filter).toBe('udp');
    expect(warnings).toEqual(['PCAP_FILTER and TCPDUMP_RAW_FILTER are both set; using PCAP_FILTER']);
  });

  it.each([
    [{}, /CAPTURE_NAME is not set/],
    [{ CAPTURE_NAME: 'x', CAPTURE_MAX_SIZE: '-3' }, /CAPTURE_MAX_SIZE: "-3" is not a non-negative integer/],
    [{ CAPTURE_NAME: 'x', CAPTURE_DURATION: 'soon' }, /CAPTURE_DURATION: "soon" is not a duration/],
    [{ CAPTURE_NAME: 'x', PCAP_FILTER: 'port 1 -w /x' }, /flags which are not allowed/],
    [{ CAPTURE_NAME: 'x', TCPDUMP_FLAGS: '-r /x' }, /"-r" is not an allowed tcpdump flag/],
    [{ CAPTURE_NAME: 'x', CAPTURE_START_TIMESTAMP: 'now' }, /YYYYMMDDhhmmssUTC/],
  ])('rejects %j', (env, message) => {
    expect(() => workloadConfigFromEnv(env, () => undefined)).toThrow(message);
  });

  it('never shows credentials when describing outputs', () => {
    const c = workloadConfigFromEnv({ CAPTURE_NAME: 'x', S3_BUCKET: 'b', S3_REGION: 'r' }, reader);
    const text = describeOutputs(c.outputs).join(' ');
    expect(text).toBe('blob https://acct.blob.core.windows.net/captures?<redacted> s3 b/retina/captures');
    expect(text).not.toMatch(/SECRET|AKID/);
    expect(redactUrl('https://u:p@h/x?sig=1')).toBe('https://h/x?<redacted>');
    expect(cleanSecretValue("'v'\n")).toBe('v');
  });
});

describe('workload configuration from retina-capture flags', () => {
  const now = new Date('2024-05-01T10:00:00Z');
  it('applies capture create defaults', () => {
    const c = workloadConfigFromFlags({ nodeName: 'n1', workDir: '/w' }, now);
    expect(c).toEqual({
      captureName: 'retina-capture',
      nodeName: 'n1',
      startTime: now,
      durationMs: 60_000,
      maxSizeMB: 100,
      interfaces: [],
      includeMetadata: true,
      tcpdumpFlags: [],
      outputs: { hostPath: '/var/log/retina/captures/retina' },
      workDir: '/w',
    });
  });

  it('translates filters and outputs', () => {
    const c = workloadConfigFromFlags(
      {
        name: 'dbg',
        includeFilter: '10.0.0.1:80,*:53',
        excludeFilter: '10.0.0.9',
        pcapFilter: 'tcp or udp',
        sourceIps: '10.0.0.1',
        hostPath: 'mine',
        hostPathBaseDir: '/data/captures',
        s3Bucket: 'b',
        s3Endpoint: 'http://127.0.0.1:1',
        s3AccessKeyId: 'id',
        s3SecretAccessKey: 'key',
        noResolvePort: true,
        verbosity: 'max',
      },
      now,
    );
    expect(c.filter).toBe(
      '((tcp or udp) and ((src host 10.0.0.1))) and ((((port 53) or (host 10.0.0.1 and port 80)) and not (host 10.0.0.9)))',
    );
    expect(c.outputs).toEqual({
      hostPath: '/data/captures/mine',
      s3: { bucket: 'b', endpoint: 'http://127.0.0.1:1', path: 'retina/captures', accessKeyId: 'id', secretAccessKey: 'key' },
    });
    expect(c.tcpdumpFlags).toEqual(['-nn', '-vvv']);
  });

  it.each([
    [{ hostPath: '../x' }, /--host-path "..\/x" must not contain/],
    [{ fileCount: '2', maxSize: '0' }, /--file-count requires --max-size/],
    [{ duration: '0s', maxSize: '0' }, /neither --duration nor --max-size/],
    [{ tcpdumpFilter: 'tcp', sourceIps: '10.0.0.1' }, /cannot be combined/],
    [{ s3Bucket: 'b' }, /--s3-region or --s3-endpoint/],
    [{ verbosity: 'loud' }, /--verbosity: "loud" must be one of/],
  ])('rejects %j', (flags, message) => {
    expect(() => workloadConfigFromFlags(flags, now)).toThrow(message);
  });
});
