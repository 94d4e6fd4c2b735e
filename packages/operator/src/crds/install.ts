/**
 * Installing the CRDs at operator start (Retina's `installCRDs`): each is created, or replaced when the served
 * definition differs from this version's, so an upgraded operator brings its schema along. Equal definitions are
 * left alone, so restarts write nothing.
 */
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { apiErrorMessage, httpStatus } from '@retina-ts/capture';
import type { CustomResourceDefinition } from './definitions.js';
import { canonicalJson } from '../canonical-json.js';

/** What happened to each CRD. */
export type CrdInstallOutcome = 'created' | 'updated' | 'unchanged';

/** Whether the served CRD already has the wanted names, scope and versions (server defaults aside). */
function sameDefinition(served: CustomResourceDefinition, wanted: CustomResourceDefinition): boolean {
  const s = served.spec as CustomResourceDefinition['spec'] | undefined;
  if (!s) return false;
  const pick = (spec: CustomResourceDefinition['spec']) => ({
    group: spec.group,
    scope: spec.scope,
    names: spec.names,
    versions: spec.versions,
  });
  return canonicalJson(pick(s)) === canonicalJson(pick(wanted.spec));
}

/** Creates or updates `crds`; returns what happened to each, by name. */
export async function installCRDs(kc: KubeConfig, crds: readonly CustomResourceDefinition[]): Promise<Map<string, CrdInstallOutcome>> {
  // Through the generic client, which sends and returns the objects as they are: the typed CRD model renames the
  // x-kubernetes-* keys of schemas and would not round-trip them.
  const api = kc.makeApiClient(CustomObjectsApi);
  const at = { group: 'apiextensions.k8s.io', version: 'v1', plural: 'customresourcedefinitions' };
  const done = new Map<string, CrdInstallOutcome>();
  for (const crd of crds) {
    const name = crd.metadata.name;
    try {
      await api.createClusterCustomObject({ ...at, body: crd });
      done.set(name, 'created');
      continue;
    } catch (err) {
      if (httpStatus(err) !== 409) throw new Error(`creating CRD ${name}: ${apiErrorMessage(err)}`);
    }
    const served = (await api.getClusterCustomObject({ ...at, name })) as CustomResourceDefinition;
    if (sameDefinition(served, crd)) {
      done.set(name, 'unchanged');
      continue;
    }
    try {
      await api.replaceClusterCustomObject({
        ...at,
        name,
        body: { ...crd, metadata: { ...served.metadata, name, resourceVersion: served.metadata.resourceVersion } },
      });
    } catch (err) {
      throw new Error(`updating CRD ${name}: ${apiErrorMessage(err)}`);
    }
    done.set(name, 'updated');
  }
  return done;
}
