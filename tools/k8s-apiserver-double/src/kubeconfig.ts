/**
 * Writes a kubeconfig file pointing at a server, so clients load it exactly as they would a user's
 * (`KUBECONFIG=... ` or an explicit path).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

/** What the kubeconfig contains. */
export interface KubeconfigOptions {
  /** API server URL, e.g. `api.url`. */
  server: string;
  /** Bearer token of the user. */
  token?: string;
  /** PEM CA certificate that signed the server's certificate. */
  caPem?: string | Buffer;
  /**
   * Skip TLS verification. Default: true for `http://` servers, which clients such as @kubernetes/client-node
   * refuse otherwise; false for `https://`.
   */
  insecureSkipTlsVerify?: boolean;
  /** Default namespace of the context. */
  namespace?: string;
  /** Name used for the cluster, user and context (default `double`). */
  name?: string;
}

// JSON strings are valid YAML double-quoted scalars, so quoting every value with JSON.stringify keeps it exact.
const q = (v: string) => JSON.stringify(v);

/** The kubeconfig YAML text for `options`. */
export function kubeconfigYaml(options: KubeconfigOptions): string {
  const name = options.name ?? 'double';
  const cluster = [`    server: ${q(options.server)}`];
  if (options.caPem !== undefined) {
    cluster.push(`    certificate-authority-data: ${q(Buffer.from(options.caPem).toString('base64'))}`);
  }
  if (options.insecureSkipTlsVerify ?? options.server.startsWith('http://')) cluster.push('    insecure-skip-tls-verify: true');
  const user = options.token !== undefined ? [`    token: ${q(options.token)}`] : ['    {}'];
  const context = [`    cluster: ${q(name)}`, `    user: ${q(name)}`];
  if (options.namespace) context.push(`    namespace: ${q(options.namespace)}`);
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${q(name)}`,
    '  cluster:',
    ...cluster,
    'users:',
    `- name: ${q(name)}`,
    '  user:',
    ...user,
    'contexts:',
    `- name: ${q(name)}`,
    '  context:',
    ...context,
    `current-context: ${q(name)}`,
    '',
  ].join('\n');
}

/** Writes the kubeconfig to `file` (creating its directory) and returns the path. */
export async function writeKubeconfig(file: string, options: KubeconfigOptions): Promise<string> {
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, kubeconfigYaml(options), { mode: 0o600 });
  return file;
}
