/**
 * The retina-capture binary as a Job runs it (configuration from the environment) and as a user runs it (flags),
 * with a stand-in tcpdump on PATH: exit codes and the stored tarball.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const FAKE = fileURLToPath(new URL('./fixtures/fake-tcpdump.sh', import.meta.url));
let root: string;
let path: string;

function run(args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    encoding: 'utf8',
    env: { PATH: path, HOME: root, ...env },
    timeout: 30_000,
  });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string; error?: string });
  return { code: r.status, lines, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build the package first (npm run build -w @retina-ts/capture)`);
  root = await mkdtemp(join(tmpdir(), 'capture-cli-'));
  await mkdir(join(root, 'bin'));
  await symlink(FAKE, join(root, 'bin', 'tcpdump'));
  path = `${join(root, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`;
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('retina-capture', () => {
  it('in a Job: reads the environment and stores <capture>-<node>-<start>.tar.gz in HOSTPATH', async () => {
    const r = run(['--work-dir', join(root, 'w1')], {
      CAPTURE_NAME: 'jobcap',
      NODE_HOST_NAME: 'node-7',
      CAPTURE_START_TIMESTAMP: '20240102030405UTC',
      CAPTURE_DURATION: '1s',
      INCLUDE_METADATA: 'false',
      HOSTPATH: join(root, 'host'),
      TCPDUMP_FILTER: '(port 53)',
    });
    expect(r.code).toBe(0);
    expect(r.lines.at(-1)!.msg).toBe('capture finished');
    expect(await readdir(join(root, 'host'))).toEqual(['jobcap-node-7-20240102030405UTC.tar.gz']);
  });

  it('with flags: exit 2 and the reason for an invalid configuration', () => {
    const r = run(['--host-path', '/etc', '--host-path-base-dir', join(root, 'base')], {});
    expect(r.code).toBe(2);
    expect(r.lines.at(-1)).toMatchObject({ msg: 'invalid capture configuration', error: expect.stringMatching(/--host-path "\/etc" must be a relative subpath/) });
  });

  it('with flags: exit 1 when an output fails, keeping the tarball', async () => {
    const r = run(
      [
        '--name', 'fails',
        '--duration', '1s',
        '--include-metadata=false',
        '--host-path', 'ok',
        '--host-path-base-dir', join(root, 'base'),
        '--blob-upload', 'http://127.0.0.1:9/container?sig=abc',
        '--work-dir', join(root, 'w3'),
        '--upload-retries', '1',
      ],
      {},
    );
    expect(r.code).toBe(1);
    expect(await readdir(join(root, 'base', 'ok'))).toHaveLength(1);
    expect((await readdir(join(root, 'w3'))).filter((f) => f.endsWith('.tar.gz'))).toHaveLength(1);
    expect(r.stdout).not.toContain('sig=abc');
  });
});
