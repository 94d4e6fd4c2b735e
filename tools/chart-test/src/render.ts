/**
 * Rendering the chart with the real helm and checking what it renders against Kubernetes' schemas
 * (kubernetes-models: the OpenAPI schemas of Kubernetes and the Prometheus operator, validated with ajv).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { helm, REPO_ROOT } from './helm.js';

export const CHART = join(REPO_ROOT, 'deploy', 'helm', 'retina-ts');

/** A rendered Kubernetes object. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

/** Writes values to a temporary file for `-f`. */
export function valuesFile(values: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), 'retina-ts-values-'));
  const file = join(dir, 'values.yaml');
  writeFileSync(file, stringify(values));
  return file;
}

/** `helm template` of the chart with the given values files and `--set` pairs; returns every object. */
export function render(options: { values?: Record<string, unknown>; files?: string[]; namespace?: string } = {}): KubeObject[] {
  const args = ['template', 'retina', CHART, '--namespace', options.namespace ?? 'kube-system'];
  for (const f of options.files ?? []) args.push('-f', f);
  if (options.values) args.push('-f', valuesFile(options.values));
  const text = helm(args);
  const objects: KubeObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]!.message}`);
    const obj = doc.toJS({ maxAliasCount: 100 }) as KubeObject | null;
    if (obj) objects.push(obj);
  }
  return objects;
}

/** The one object of a kind and name; throws naming what is there when it is missing. */
export function find(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) {
    throw new Error(`no ${kind}/${name} rendered; got ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  }
  return o;
}

/** Where kubernetes-models keeps the model class of an apiVersion and kind. */
function modelModule(apiVersion: string, kind: string): string {
  if (apiVersion.startsWith('monitoring.coreos.com/')) return `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`;
  return `kubernetes-models/${apiVersion}/${kind}`;
}

/** Validates an object against its Kubernetes schema; throws with the schema's message and the object's name. */
export async function validateObject(obj: KubeObject): Promise<void> {
  let mod: Record<string, new (o: unknown) => { validate(): void }>;
  try {
    mod = (await import(modelModule(obj.apiVersion, obj.kind))) as typeof mod;
  } catch {
    throw new Error(`${obj.kind}/${obj.metadata.name}: no schema for apiVersion ${obj.apiVersion} kind ${obj.kind}`);
  }
  const Model = mod[obj.kind];
  if (!Model) throw new Error(`${obj.kind}/${obj.metadata.name}: the model module has no ${obj.kind}`);
  try {
    new Model(obj).validate();
  } catch (err) {
    throw new Error(`${obj.kind}/${obj.metadata.name} does not match the ${obj.apiVersion} schema: ${(err as Error).message}`);
  }
}
