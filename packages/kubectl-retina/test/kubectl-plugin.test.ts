/**
 * The real `kubectl` (on PATH) finds the built plugin as `kubectl-retina` on PATH and runs it: `kubectl retina
 * version`, and global flags (--kubeconfig, --context, -n, --as) handed through to the plugin as kubectl's own.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble } from '@retina-ts/k8s-apiserver-double';
import { VERSION } from '../src/index.js';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let dir: string;
let api: ApiServerDouble;
let kubeconfig: string;
let env: NodeJS.ProcessEnv;

/** Runs kubectl without blocking: the API server double answers from this process. */
function kubectl(...args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', args, { env, encoding: 'utf8', timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, out: stdout.trim(), err: stderr.trim() });
    });
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kr-plugin-'));
  await symlink(CLI, join(dir, 'kubectl-retina'));
  api = await startApiServerDouble();
  kubeconfig = await writeKubeconfig(join(dir, 'kubeconfig'), { server: api.url, namespace: 'from-context' });
  // Only the temp dir's plugin and the system's kubectl; no kubeconfig but the one passed.
  // The test runner's PATH holds node_modules/.bin, whose kubectl-retina kubectl would report as overshadowed.
  const path = (process.env.PATH ?? '').split(delimiter).filter((p) => !p.endsWith(join('node_modules', '.bin')));
  env = { ...process.env, PATH: [dir, ...path].join(delimiter), KUBECONFIG: join(dir, 'absent') };
  api.create('captures', { metadata: { name: 'c1', namespace: 'team' }, spec: {} });
  api.create('captures', { metadata: { name: 'c2', namespace: 'from-context' }, spec: {} });
});
afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

describe('kubectl retina as a kubectl plugin', () => {
  it('kubectl lists the plugin and runs `kubectl retina version`', async () => {
    expect((await kubectl('plugin', 'list')).out).toContain(join(dir, 'kubectl-retina'));
    expect(await kubectl('retina', 'version')).toEqual({ code: 0, out: `v${VERSION}`, err: '' });
  });

  it('takes --kubeconfig, -n and the context namespace as kubectl does', async () => {
    const team = await kubectl('retina', '--kubeconfig', kubeconfig, '-n', 'team', 'capture', 'list');
    expect(team).toEqual({ code: 0, out: 'No captures found in namespace team', err: '' });
    expect(api.requests({ resource: 'jobs.batch', verb: 'list' }).at(-1)!.path).toBe('/apis/batch/v1/namespaces/team/jobs');
    // Flags after the subcommand work too; without -n the context's namespace is used.
    const ctx = await kubectl('retina', 'capture', 'delete', '--name', 'c2', '--kubeconfig', kubeconfig);
    expect(ctx.err).toBe('');
    expect(api.requests({ resource: 'captures.retina.sh' }).some((r) => r.path.startsWith('/apis/retina.sh/v1alpha1/namespaces/from-context/captures'))).toBe(
      true,
    );
  });

  it('refuses an unknown --context naming it, and takes --as', async () => {
    const r = await kubectl('retina', '--kubeconfig', kubeconfig, '--context', 'nope', 'capture', 'list');
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('--context: context "nope" is not in the kubeconfig');
    expect((await kubectl('retina', '--kubeconfig', kubeconfig, '--as', 'jane', 'capture', 'list', '-A')).code).toBe(0);
  });
});
