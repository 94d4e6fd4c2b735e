import { describe, expect, it } from 'vitest';
import { captureFromFlags, captureImage, DEFAULT_AGENT_IMAGE, formatAge, formatTable } from '../src/index.js';

describe('capture create flags', () => {
  it('defaults: Linux nodes, one minute, 100 MB, metadata, node copy under retina/', () => {
    const { capture, secrets } = captureFromFlags({ namespace: 'default', duration: '1m', maxSize: '100', packetSize: '0', fileCount: '0', includeMetadata: true });
    expect(capture).toEqual({
      apiVersion: 'retina.sh/v1alpha1',
      kind: 'Capture',
      metadata: { name: 'retina-capture', namespace: 'default' },
      spec: {
        captureConfiguration: {
          captureTarget: { nodeSelector: { matchLabels: { 'kubernetes.io/os': 'linux' } } },
          includeMetadata: true,
          captureOption: { duration: '1m', maxCaptureSize: 100 },
        },
        outputConfiguration: { hostPath: 'retina' },
      },
    });
    expect(secrets).toEqual({});
  });

  it('node names replace the node selector; pod targets replace both', () => {
    const byName = captureFromFlags({ namespace: 'x', duration: '1m', nodeNames: 'n1,n2', nodeSelectors: 'pool=a' }).capture;
    expect(byName.spec.captureConfiguration.captureTarget).toEqual({
      nodeSelector: { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: ['n1', 'n2'] }] },
    });
    const byPods = captureFromFlags({ namespace: 'x', duration: '1m', podSelectors: 'app=api', namespaceSelectors: 'team=a', nodeNames: 'n1' }).capture;
    expect(byPods.spec.captureConfiguration.captureTarget).toEqual({
      podSelector: { matchLabels: { app: 'api' } },
      namespaceSelector: { matchLabels: { team: 'a' } },
    });
    expect(captureFromFlags({ namespace: 'x', duration: '1m', podNames: 'a, b' }).capture.spec.captureConfiguration.captureTarget).toEqual({
      podNames: ['a', 'b'],
    });
  });

  it('maps filters, options and remote outputs; credentials go to secrets only', () => {
    const { capture, secrets } = captureFromFlags({
      namespace: 'ns',
      name: 'dbg',
      duration: '30s',
      maxSize: '10',
      fileCount: '3',
      packetSize: '96',
      includeFilter: '10.0.0.1:80,*:53',
      excludeFilter: '10.0.0.2',
      pcapFilter: 'tcp',
      sourceIps: '10.0.0.1',
      interfaces: 'eth0',
      noResolveDns: true,
      verbosity: 'max',
      includeMetadata: false,
      hostPath: 'mine',
      pvc: 'claim',
      blobUpload: 'https://a.blob.core.windows.net/c?sig=SECRET',
      s3Bucket: 'b',
      s3Region: 'eu',
      s3AccessKeyId: 'ID',
      s3SecretAccessKey: 'KEY',
      cleanupAfterUpload: true,
    });
    expect(capture.spec).toEqual({
      captureConfiguration: {
        captureTarget: { nodeSelector: { matchLabels: { 'kubernetes.io/os': 'linux' } } },
        filters: { include: ['10.0.0.1:80', '*:53'], exclude: ['10.0.0.2'] },
        includeMetadata: false,
        captureOption: {
          duration: '30s',
          maxCaptureSize: 10,
          fileCount: 3,
          packetSize: 96,
          interfaces: ['eth0'],
          pcapFilter: 'tcp',
          sourceIPs: ['10.0.0.1'],
          noResolveDNS: true,
          verbosity: 'max',
        },
      },
      outputConfiguration: {
        hostPath: 'mine',
        persistentVolumeClaim: 'claim',
        blobUpload: 'capture-blob-upload-secret-dbg',
        s3Upload: { bucket: 'b', secretName: 'capture-s3-upload-secret-dbg', region: 'eu', path: 'retina/captures' },
      },
      cleanUpAfterUpload: true,
    });
    expect(JSON.stringify(capture)).not.toMatch(/SECRET|KEY"/);
    expect(secrets).toEqual({
      blob: { name: 'capture-blob-upload-secret-dbg', sasUrl: 'https://a.blob.core.windows.net/c?sig=SECRET' },
      s3: { name: 'capture-s3-upload-secret-dbg', accessKeyId: 'ID', secretAccessKey: 'KEY' },
    });
  });

  it.each([
    [{ hostPath: '/etc' }, /spec.outputConfiguration.hostPath: "\/etc" must be a relative subpath/],
    [{ fileCount: '2', maxSize: '0' }, /fileCount: requires maxCaptureSize/],
    [{ cleanupAfterUpload: true }, /spec.cleanUpAfterUpload: requires/],
    [{ s3Bucket: 'b', s3Region: 'r' }, /--s3-access-key-id and --s3-secret-access-key/],
    [{ nodeSelectors: 'oops' }, /--node-selectors: "oops" is not key=value/],
    [{ includeFilter: '1.2.3.4:99999' }, /filters.include\[0\]: invalid filter/],
  ])('rejects %j naming the field', (flags, message) => {
    expect(() => captureFromFlags({ namespace: 'x', duration: '1m', ...flags })).toThrow(message);
  });

  it('chooses the workload image', () => {
    expect(captureImage('img:1', true, { RETINA_AGENT_IMAGE: 'dbg:2' })).toBe('img:1');
    expect(captureImage(undefined, true, { RETINA_AGENT_IMAGE: 'dbg:2' })).toBe('dbg:2');
    expect(captureImage(undefined, false, { RETINA_AGENT_IMAGE: 'dbg:2' })).toBe(DEFAULT_AGENT_IMAGE);
    expect(DEFAULT_AGENT_IMAGE).toMatch(/^ghcr\.io\/retina-ts\/retina-ts-agent:\d+\.\d+\.\d+/);
  });

  it('formats tables and ages like kubectl', () => {
    expect(formatTable(['A', 'LONGER'], [['xx', '1'], ['y', '22']])).toBe('A    LONGER\nxx   1\ny    22');
    const now = new Date('2024-01-03T00:00:00Z');
    expect(formatAge('2024-01-02T23:59:30Z', now)).toBe('30s');
    expect(formatAge('2024-01-02T23:00:00Z', now)).toBe('60m');
    expect(formatAge('2024-01-01T01:00:00Z', now)).toBe('47h');
    expect(formatAge('2023-12-01T00:00:00Z', now)).toBe('33d');
  });
});
