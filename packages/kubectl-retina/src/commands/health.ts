/**
 * `health`: whether the cluster can run captures: the API server answers, the Capture API is served, the
 * operator runs, and how many agent pods are ready.
 */
import { CoreV1Api, CustomObjectsApi, VersionApi, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { apiErrorMessage, CAPTURE_GROUP, CAPTURE_PLURAL, CAPTURE_VERSION, httpStatus } from '@retina-ts/capture';
import { formatTable } from '../kube.js';
import { OPERATOR_POD_SELECTOR } from './create.js';

/** Label of the agent pods (Retina's chart). */
export const AGENT_POD_SELECTOR = 'k8s-app=retina';

/** One health check. */
export interface HealthCheck {
  check: string;
  ok: boolean;
  detail: string;
}

const ready = (p: V1Pod) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;

/** Runs the checks; the API server check failing makes the rest unknowable, so they are skipped. */
export async function healthChecks(kc: KubeConfig): Promise<HealthCheck[]> {
  const checks: HealthCheck[] = [];
  try {
    const v = await kc.makeApiClient(VersionApi).getCode();
    checks.push({ check: 'api-server', ok: true, detail: `reachable, ${v.gitVersion}` });
  } catch (err) {
    checks.push({ check: 'api-server', ok: false, detail: apiErrorMessage(err) });
    return checks;
  }
  try {
    await kc.makeApiClient(CustomObjectsApi).listClusterCustomObject({ group: CAPTURE_GROUP, version: CAPTURE_VERSION, plural: CAPTURE_PLURAL, limit: 1 });
    checks.push({ check: 'capture-crd', ok: true, detail: `${CAPTURE_PLURAL}.${CAPTURE_GROUP}/${CAPTURE_VERSION} is served` });
  } catch (err) {
    checks.push({
      check: 'capture-crd',
      ok: false,
      detail: httpStatus(err) === 404 ? 'the Capture CRD is not installed (kubectl apply -f deploy/crds/)' : apiErrorMessage(err),
    });
  }
  const core = kc.makeApiClient(CoreV1Api);
  for (const [check, selector, what] of [
    ['operator', OPERATOR_POD_SELECTOR, 'operator'],
    ['agents', AGENT_POD_SELECTOR, 'agent'],
  ] as const) {
    try {
      const pods = (await core.listPodForAllNamespaces({ labelSelector: selector })).items;
      const n = pods.filter(ready).length;
      checks.push({
        check,
        ok: check === 'operator' ? true : n > 0,
        detail: pods.length === 0 ? `no ${what} pods (${selector})${check === 'operator' ? '; captures run as Jobs created by this CLI' : ''}` : `${n}/${pods.length} ${what} pods ready`,
      });
    } catch (err) {
      checks.push({ check, ok: false, detail: apiErrorMessage(err) });
    }
  }
  return checks;
}

/** Prints the checks as a table; returns whether all passed. */
export async function printHealth(kc: KubeConfig, out: (l: string) => void): Promise<boolean> {
  const checks = await healthChecks(kc);
  out(formatTable(['CHECK', 'STATUS', 'DETAIL'], checks.map((c) => [c.check, c.ok ? 'ok' : 'FAIL', c.detail])));
  return checks.every((c) => c.ok);
}
