/** Loading the user's kubeconfig the way kubectl does (--kubeconfig, $KUBECONFIG, ~/.kube/config, in-cluster). */
import { KubeConfig } from '@kubernetes/client-node';
import { parseDuration } from '@retina-ts/core';

/** Global Kubernetes flags. */
export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  /** User to impersonate (`Impersonate-User`). */
  as?: string;
  /** kubectl's --request-timeout: `0` (none), seconds, or a duration such as `5s`. */
  requestTimeout?: string;
}

/** kubectl's --request-timeout value in ms (0: no timeout); an error names the flag. */
export function parseRequestTimeout(v: string | undefined): number {
  if (v === undefined || v === '' || v === '0') return 0;
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : parseDuration(v);
  if (ms === undefined || !Number.isFinite(ms) || ms < 0) {
    throw new Error(`--request-timeout: "${v}" is not a duration (0, a number of seconds, or e.g. 5s, 1m)`);
  }
  return ms;
}

/** Loads the kubeconfig and returns it with the namespace to use (flag, then context, then `default`). */
export function loadKube(flags: KubeFlags): { kc: KubeConfig; namespace: string; explicitNamespace: boolean } {
  const kc = new KubeConfig();
  if (flags.kubeconfig) kc.loadFromFile(flags.kubeconfig);
  else kc.loadFromDefault();
  if (flags.context) {
    if (!kc.getContextObject(flags.context)) {
      throw new Error(`--context: context "${flags.context}" is not in the kubeconfig (have: ${kc.getContexts().map((c) => c.name).join(', ')})`);
    }
    kc.setCurrentContext(flags.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error('no Kubernetes cluster is configured: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config');
  }
  if (flags.as) {
    // client-node sends Impersonate-User for a user that names one, as kubectl does for --as.
    const user = kc.getCurrentUser();
    if (!user) throw new Error('--as: the current context has no user to impersonate with');
    kc.users = kc.users.map((u) => (u.name === user.name ? { ...u, impersonateUser: flags.as } : u));
  }
  const timeoutMs = parseRequestTimeout(flags.requestTimeout);
  if (timeoutMs > 0) {
    // Every API request passes through here before it is sent: each gets its own deadline, as kubectl's flag.
    const apply = kc.applySecurityAuthentication.bind(kc);
    kc.applySecurityAuthentication = async (context) => {
      await apply(context);
      if (!context.getSignal()) context.setSignal(AbortSignal.timeout(timeoutMs));
    };
  }
  const ctxNs = kc.getContextObject(kc.getCurrentContext())?.namespace;
  return { kc, namespace: flags.namespace || ctxNs || 'default', explicitNamespace: Boolean(flags.namespace) };
}

/** Formats rows as left-aligned columns separated by three spaces, as kubectl prints tables. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('   ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** kubectl-style age: `45s`, `12m`, `3h`, `2d`. */
export function formatAge(from: Date | string | undefined, now: Date): string {
  if (!from) return '<unknown>';
  const s = Math.max(0, Math.floor((now.getTime() - new Date(from).getTime()) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
