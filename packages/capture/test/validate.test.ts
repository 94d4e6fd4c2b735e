import { describe, expect, it } from 'vitest';
import { captureIssues, CaptureValidationError, validateCapture, type Capture } from '../src/index.js';

const valid = (): Capture => ({
  apiVersion: 'retina.sh/v1alpha1',
  kind: 'Capture',
  metadata: { name: 'web-capture', namespace: 'default' },
  spec: {
    captureConfiguration: {
      captureTarget: { nodeSelector: { matchLabels: { 'kubernetes.io/os': 'linux' } } },
      filters: { include: ['10.0.0.1:80'], exclude: ['*:22'] },
      includeMetadata: true,
      captureOption: { duration: '1m', maxCaptureSize: 100, packetSize: 0, pcapFilter: 'tcp port 80', sourceIPs: ['10.0.0.1'] },
    },
    outputConfiguration: { hostPath: 'retina', blobUpload: 'blob-secret', s3Upload: { bucket: 'b', secretName: 's', region: 'us-east-1' } },
  },
});

type Mutate = (c: Capture) => void;
const fields = (mutate: Mutate) => {
  const c = valid();
  mutate(c);
  return captureIssues(c).map((i) => i.field);
};

describe('Capture validation', () => {
  it('accepts a complete capture', () => {
    expect(captureIssues(valid())).toEqual([]);
    expect(validateCapture(valid()).metadata.name).toBe('web-capture');
  });

  it.each<[string, Mutate, string]>([
    ['no target', (c) => (c.spec.captureConfiguration.captureTarget = {}), 'spec.captureConfiguration.captureTarget'],
    [
      'node and pod selectors together',
      (c) => (c.spec.captureConfiguration.captureTarget.podSelector = { matchLabels: { app: 'x' } }),
      'spec.captureConfiguration.captureTarget.nodeSelector',
    ],
    [
      'pod names with a pod selector',
      (c) => (c.spec.captureConfiguration.captureTarget = { podNames: ['a'], podSelector: { matchLabels: { app: 'x' } } }),
      'spec.captureConfiguration.captureTarget.podNames',
    ],
    [
      'namespace selector alone',
      (c) => (c.spec.captureConfiguration.captureTarget = { namespaceSelector: { matchLabels: { a: 'b' } } }),
      'spec.captureConfiguration.captureTarget',
    ],
    [
      'In without values',
      (c) =>
        (c.spec.captureConfiguration.captureTarget.nodeSelector = { matchExpressions: [{ key: 'k', operator: 'In' }] }),
      'spec.captureConfiguration.captureTarget.nodeSelector.matchExpressions[0].values',
    ],
    ['bad include entry', (c) => (c.spec.captureConfiguration.filters!.include = ['10.0.0.1:99999']), 'spec.captureConfiguration.filters.include[0]'],
    ['bad duration', (c) => (c.spec.captureConfiguration.captureOption!.duration = '5 minutes'), 'spec.captureConfiguration.captureOption.duration'],
    [
      'no stop condition',
      (c) => (c.spec.captureConfiguration.captureOption = {}),
      'spec.captureConfiguration.captureOption',
    ],
    [
      'file count without max size',
      (c) => (c.spec.captureConfiguration.captureOption = { duration: '1m', fileCount: 3 }),
      'spec.captureConfiguration.captureOption.fileCount',
    ],
    ['file count zero', (c) => (c.spec.captureConfiguration.captureOption!.fileCount = 0), 'spec.captureConfiguration.captureOption.fileCount'],
    ['negative packet size', (c) => (c.spec.captureConfiguration.captureOption!.packetSize = -1), 'spec.captureConfiguration.captureOption.packetSize'],
    ['flags in pcapFilter', (c) => (c.spec.captureConfiguration.captureOption!.pcapFilter = 'port 1 -w x'), 'spec.captureConfiguration.captureOption.pcapFilter'],
    ['bad source IP', (c) => (c.spec.captureConfiguration.captureOption!.sourceIPs = ['x']), 'spec.captureConfiguration.captureOption.sourceIPs[0]'],
    [
      'tcpdumpFilter with source IPs',
      (c) => (c.spec.captureConfiguration.tcpdumpFilter = 'port 80'),
      'spec.captureConfiguration.captureOption.sourceIPs',
    ],
    [
      'unknown verbosity',
      (c) => ((c.spec.captureConfiguration.captureOption as Record<string, unknown>).verbosity = 'loud'),
      'spec.captureConfiguration.captureOption.verbosity',
    ],
    ['absolute hostPath', (c) => (c.spec.outputConfiguration.hostPath = '/etc'), 'spec.outputConfiguration.hostPath'],
    ['hostPath with ..', (c) => (c.spec.outputConfiguration.hostPath = 'a/../..'), 'spec.outputConfiguration.hostPath'],
    ['no outputs', (c) => (c.spec.outputConfiguration = {}), 'spec.outputConfiguration'],
    [
      's3 without secret',
      (c) => (c.spec.outputConfiguration.s3Upload = { bucket: 'b' } as never),
      'spec.outputConfiguration.s3Upload.secretName',
    ],
    [
      'cleanup with only a host path',
      (c) => {
        c.spec.outputConfiguration = { hostPath: 'x' };
        c.spec.cleanUpAfterUpload = true;
      },
      'spec.cleanUpAfterUpload',
    ],
    ['bad name', (c) => (c.metadata.name = 'Web_Capture'), 'metadata.name'],
  ])('%s is reported at its field', (_what, mutate, field) => {
    expect(fields(mutate)).toContain(field);
  });

  it('throws one error listing every issue with its field', () => {
    const c = valid();
    c.spec.outputConfiguration.hostPath = '/abs';
    c.spec.captureConfiguration.captureOption!.duration = 'soon';
    try {
      validateCapture(c);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CaptureValidationError);
      const e = err as CaptureValidationError;
      expect(e.issues.map((i) => i.field).sort()).toEqual([
        'spec.captureConfiguration.captureOption.duration',
        'spec.outputConfiguration.hostPath',
      ]);
      expect(e.message).toContain('spec.outputConfiguration.hostPath: "/abs" must be a relative subpath name');
    }
  });

  it('confines hostPath to a configured base', () => {
    const c = valid();
    c.spec.outputConfiguration.hostPath = 'ok';
    expect(captureIssues(c, { hostPathBaseDir: 'relative' }).map((i) => i.message)).toEqual([
      'host path base directory "relative" must be an absolute path',
    ]);
  });

  it('rejects wrong types with the value', () => {
    const c = valid() as unknown as { spec: { captureConfiguration: { includeMetadata: unknown } } };
    c.spec.captureConfiguration.includeMetadata = 'yes';
    expect(captureIssues(c)).toEqual([
      { field: 'spec.captureConfiguration.includeMetadata', message: 'must be a boolean, got "yes"' },
    ]);
  });
});
