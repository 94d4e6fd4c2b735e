/**
 * The CRDs: deploy/crds holds exactly what the schema definitions generate; the definitions keep Retina's wire
 * names (group, version, kinds, scopes, field paths); every schema is structural as the API server requires; and
 * installCRDs creates, leaves alone and updates them on the API server double.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '@retina-ts/k8s-apiserver-double';
import { useApiServerDouble } from './api-double.js';
import { crdFiles, installCRDs, operatorCRDs, retinaCRDs, type JSONSchemaProps } from '../src/index.js';

const crdDir = fileURLToPath(new URL('../../../deploy/crds/', import.meta.url));

function paths(s: JSONSchemaProps, prefix = ''): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.push(p, ...paths(v, p));
    if (v.items) out.push(...paths(v.items, `${p}[]`));
  }
  return out;
}

const schemaOf = (kind: string) => retinaCRDs().find((c) => c.spec.names.kind === kind)!.spec.versions[0]!.schema.openAPIV3Schema;

describe('deploy/crds', () => {
  it('holds exactly the generated files (run `npm run generate:crds -w @retina-ts/operator` after changing a schema)', () => {
    const files = crdFiles();
    expect(readdirSync(crdDir).filter((f) => f.endsWith('.yaml')).sort()).toEqual([...files.keys()].sort());
    for (const [name, text] of files) expect(readFileSync(join(crdDir, name), 'utf8'), name).toBe(text);
  });
});

describe('wire compatibility with Retina', () => {
  it('has the group, version, kinds, plurals and scopes', () => {
    expect(
      retinaCRDs().map((c) => [c.metadata.name, c.spec.group, c.spec.versions.map((v) => v.name).join(), c.spec.names.kind, c.spec.scope]),
    ).toEqual([
      ['captures.retina.sh', 'retina.sh', 'v1alpha1', 'Capture', 'Namespaced'],
      ['metricsconfigurations.retina.sh', 'retina.sh', 'v1alpha1', 'MetricsConfiguration', 'Cluster'],
      ['retinaendpoints.retina.sh', 'retina.sh', 'v1alpha1', 'RetinaEndpoint', 'Namespaced'],
      ['tracesconfigurations.retina.sh', 'retina.sh', 'v1alpha1', 'TracesConfiguration', 'Cluster'],
    ]);
    expect(retinaCRDs().every((c) => c.spec.versions[0]!.subresources?.status !== undefined)).toBe(true);
  });

  it("has Retina's MetricsConfiguration fields", () => {
    const p = paths(schemaOf('MetricsConfiguration'));
    for (const f of [
      'spec.contextOptions[].metricName',
      'spec.contextOptions[].sourceLabels',
      'spec.contextOptions[].destinationLabels',
      'spec.contextOptions[].additionalLabels',
      'spec.contextOptions[].ttl',
      'spec.namespaces.include',
      'spec.namespaces.exclude',
      'status.state',
      'status.reason',
      'status.lastKnownSpec.contextOptions[].metricName',
    ]) {
      expect(p).toContain(f);
    }
    const state = schemaOf('MetricsConfiguration').properties!.status!.properties!.state!;
    expect(state.enum).toEqual(['Initialized', 'Accepted', 'Errored', 'Warning']);
    expect(state.default).toBe('Initialized');
    expect(schemaOf('MetricsConfiguration').properties!.spec!.required).toEqual(['contextOptions', 'namespaces']);
    expect(schemaOf('MetricsConfiguration').properties!.spec!.properties!.contextOptions!.items!['required']).toEqual(['metricName']);
  });

  it("has Retina's RetinaEndpoint and TracesConfiguration fields", () => {
    expect(paths(schemaOf('RetinaEndpoint')).filter((x) => x.startsWith('spec')).sort()).toEqual(
      [
        'spec',
        'spec.annotations',
        'spec.containers',
        'spec.containers[].id',
        'spec.containers[].name',
        'spec.labels',
        'spec.nodeIP',
        'spec.ownerReferences',
        'spec.ownerReferences[].apiVersion',
        'spec.ownerReferences[].kind',
        'spec.ownerReferences[].name',
        'spec.podIP',
        'spec.podIPs',
      ].sort(),
    );
    const t = paths(schemaOf('TracesConfiguration'));
    for (const f of [
      'spec.traceConfiguration[].captureLevel',
      'spec.traceConfiguration[].includeLayer7Data',
      'spec.traceConfiguration[].traceTargets[].from.ipBlock.cidr',
      'spec.traceConfiguration[].traceTargets[].to.serviceSelector.matchLabels',
      'spec.traceConfiguration[].traceTargets[].ports[].port',
      'spec.traceConfiguration[].traceTargets[].ports[].endPort',
      'spec.traceConfiguration[].traceTargets[].tracePoints',
      'spec.outputConfiguration.destination',
      'spec.outputConfiguration.connectionConfiguration',
      'status.lastKnownSpec.outputConfiguration.destination',
    ]) {
      expect(t).toContain(f);
    }
  });
});

describe('structural schemas', () => {
  function check(s: JSONSchemaProps, at: string, problems: string[]): void {
    if (s['x-kubernetes-int-or-string']) {
      if (s.type !== undefined) problems.push(`${at}: int-or-string with a type`);
      return;
    }
    if (!s.type) problems.push(`${at}: no type`);
    if (s.anyOf) problems.push(`${at}: anyOf outside int-or-string`);
    if (s.additionalProperties === false) problems.push(`${at}: additionalProperties false`);
    if (s.properties && s.additionalProperties) problems.push(`${at}: properties and additionalProperties`);
    if ('$schema' in s || 'propertyNames' in s) problems.push(`${at}: JSON-Schema-only keyword`);
    for (const [k, v] of Object.entries(s.properties ?? {})) check(v, `${at}.${k}`, problems);
    if (s.items) check(s.items, `${at}[]`, problems);
    if (typeof s.additionalProperties === 'object') check(s.additionalProperties, `${at}{}`, problems);
  }

  it('every node has a type and no keyword the API server rejects', () => {
    const problems: string[] = [];
    for (const c of retinaCRDs()) check(c.spec.versions[0]!.schema.openAPIV3Schema, c.spec.names.kind, problems);
    expect(problems).toEqual([]);
  });
});

describe('installCRDs', () => {
  const cluster = useApiServerDouble({ prefix: 'operator-crds' });

  it('creates the CRDs, leaves equal ones alone and updates changed ones', async () => {
    const first = await installCRDs(cluster.kc, operatorCRDs({ enableRetinaEndpoint: false }));
    expect([...first]).toEqual([
      ['captures.retina.sh', 'created'],
      ['metricsconfigurations.retina.sh', 'created'],
    ]);
    const withEndpoints = await installCRDs(cluster.kc, operatorCRDs({ enableRetinaEndpoint: true }));
    expect(Object.fromEntries(withEndpoints)).toEqual({
      'captures.retina.sh': 'unchanged',
      'metricsconfigurations.retina.sh': 'unchanged',
      'retinaendpoints.retina.sh': 'created',
    });
    const writes = cluster.api.requests({ resource: 'customresourcedefinitions.apiextensions.k8s.io', verb: 'update' }).length;
    expect(writes).toBe(0);

    // An older definition on the server (a field missing) is replaced by this version's.
    cluster.api.modify<KubeObject & { spec: { versions: { schema: { openAPIV3Schema: JSONSchemaProps } }[] } }>(
      'customresourcedefinitions',
      undefined,
      'metricsconfigurations.retina.sh',
      (crd) => {
        delete crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.status;
      },
    );
    const again = await installCRDs(cluster.kc, operatorCRDs({ enableRetinaEndpoint: true }));
    expect(again.get('metricsconfigurations.retina.sh')).toBe('updated');
    const served = cluster.api.get<KubeObject & { spec: unknown }>('customresourcedefinitions', undefined, 'metricsconfigurations.retina.sh');
    expect(served.spec).toEqual(operatorCRDs({ enableRetinaEndpoint: true })[1]!.spec);
    expect(JSON.stringify(served)).toContain('"x-kubernetes-list-type":"set"');
  });
});
