/**
 * Whether there is a cluster to reach. Decided before @retina-ts/kubernetes is loaded: the Kubernetes client is the
 * largest part of a standalone agent's memory, so a standalone agent never loads it.
 */
import { existsSync } from 'node:fs';

/** Where the in-cluster service account token is mounted. */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** What clusterConfigured looks at. */
export interface ClusterHints {
  /** A kubeconfig path given to the agent. */
  kubeconfig?: string | undefined;
  /** The agent's environment (`AgentOptions.env`): `KUBECONFIG`, `KUBERNETES_SERVICE_HOST`. */
  env: NodeJS.ProcessEnv;
  /** Whether a file exists (default: the file system); tests replace it. */
  exists?: (path: string) => boolean;
}

/** A kubeconfig was given or named by KUBECONFIG, or the in-cluster service account is mounted. */
export function clusterConfigured(hints: ClusterHints): boolean {
  if (hints.kubeconfig || hints.env['KUBECONFIG']) return true;
  const exists = hints.exists ?? existsSync;
  return Boolean(hints.env['KUBERNETES_SERVICE_HOST']) && exists(SERVICE_ACCOUNT_TOKEN);
}
