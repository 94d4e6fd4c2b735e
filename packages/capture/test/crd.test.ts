/**
 * The Capture CRD manifest in deploy/crds agrees with the TypeScript model: the same spec fields (Retina's),
 * the same enums and limits, and the status fields the operator writes.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const crdDir = fileURLToPath(new URL('../../../deploy/crds/', import.meta.url));

interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  enum?: string[];
  required?: string[];
  default?: unknown;
  maxItems?: number;
  minimum?: number;
  pattern?: string;
  maxLength?: number;
}

function paths(s: Schema, prefix: string): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    const p = `${prefix}.${k}`;
    out.push(p, ...paths(v, p));
    if (v.items?.properties) out.push(...paths(v.items, `${p}[]`));
  }
  return out;
}

const crd = parse(readFileSync(`${crdDir}retina.sh_captures.yaml`, 'utf8')) as {
  spec: { group: string; names: { kind: string; plural: string }; scope: string; versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
};
const root = crd.spec.versions[0]!.schema.openAPIV3Schema;
const at = (path: string): Schema =>
  path.split('.').reduce<Schema>((s, k) => (k.endsWith('[]') ? s.properties![k.slice(0, -2)]!.items! : s.properties![k]!), root);

describe('Capture CRD manifest', () => {
  it('is retina.sh/v1alpha1 Capture, namespaced', () => {
    expect([crd.spec.group, crd.spec.versions[0]!.name, crd.spec.names.kind, crd.spec.names.plural, crd.spec.scope]).toEqual([
      'retina.sh',
      'v1alpha1',
      'Capture',
      'captures',
      'Namespaced',
    ]);
  });

  it("has Retina's spec fields", () => {
    const spec = paths(root.properties!.spec!, 'spec').filter((p) => !/Selector\./.test(p));
    expect(spec.sort()).toEqual(
      [
        'spec.captureConfiguration',
        'spec.captureConfiguration.captureTarget',
        'spec.captureConfiguration.captureTarget.nodeSelector',
        'spec.captureConfiguration.captureTarget.namespaceSelector',
        'spec.captureConfiguration.captureTarget.podSelector',
        'spec.captureConfiguration.captureTarget.podNames',
        'spec.captureConfiguration.filters',
        'spec.captureConfiguration.filters.include',
        'spec.captureConfiguration.filters.exclude',
        'spec.captureConfiguration.tcpdumpFilter',
        'spec.captureConfiguration.includeMetadata',
        'spec.captureConfiguration.captureOption',
        ...[
          'duration',
          'packetSize',
          'maxCaptureSize',
          'fileCount',
          'interfaces',
          'pcapFilter',
          'sourceIPs',
          'destinationIPs',
          'noPromiscuous',
          'packetBuffered',
          'immediateMode',
          'noResolveDNS',
          'noResolvePort',
          'verbosity',
          'printDataFormat',
          'printLinkHeader',
          'quietOutput',
          'absoluteSeq',
          'dontVerifyChecksum',
          'timestampFormat',
        ].map((f) => `spec.captureConfiguration.captureOption.${f}`),
        'spec.outputConfiguration',
        'spec.outputConfiguration.hostPath',
        'spec.outputConfiguration.persistentVolumeClaim',
        'spec.outputConfiguration.blobUpload',
        'spec.outputConfiguration.s3Upload',
        ...['bucket', 'endpoint', 'region', 'path', 'secretName'].map((f) => `spec.outputConfiguration.s3Upload.${f}`),
        'spec.cleanUpAfterUpload',
      ].sort(),
    );
  });

  it('carries the validation rules of the model', () => {
    expect(at('spec').required).toEqual(['captureConfiguration', 'outputConfiguration']);
    expect(at('spec.captureConfiguration').required).toEqual(['captureTarget']);
    expect(at('spec.outputConfiguration.s3Upload').required).toEqual(['bucket', 'secretName']);
    expect(at('spec.captureConfiguration.captureOption.fileCount').minimum).toBe(1);
    expect(at('spec.captureConfiguration.captureOption.maxCaptureSize').default).toBe(100);
    expect(at('spec.captureConfiguration.includeMetadata').default).toBe(true);
    expect(at('spec.captureConfiguration.captureOption.sourceIPs').maxItems).toBe(100);
    expect(at('spec.captureConfiguration.captureOption.pcapFilter')).toMatchObject({ maxLength: 1024, pattern: '^[^-]*$' });
    expect(at('spec.captureConfiguration.captureOption.verbosity').enum).toEqual(['', 'verbose', 'extra', 'max']);
    expect(at('spec.captureConfiguration.captureOption.timestampFormat').enum).toEqual([
      '',
      'none',
      'unformatted',
      'delta',
      'date',
      'delta-since-first',
    ]);
  });

  it('describes the status the operator writes', () => {
    expect(Object.keys(at('status').properties!).sort()).toEqual(
      ['active', 'completionTime', 'conditions', 'failed', 'nodes', 'startTime', 'succeeded'].sort(),
    );
    expect(Object.keys(at('status.nodes[]').properties!).sort()).toEqual(['artifacts', 'jobName', 'nodeName', 'phase']);
  });

  it('ships the other Retina CRDs beside it', () => {
    expect(readdirSync(crdDir).sort()).toEqual([
      'retina.sh_captures.yaml',
      'retina.sh_metricsconfigurations.yaml',
      'retina.sh_retinaendpoints.yaml',
      'retina.sh_tracesconfigurations.yaml',
    ]);
  });
});
