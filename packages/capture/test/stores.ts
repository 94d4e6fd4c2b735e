/**
 * Real storage servers for the upload tests, started on 127.0.0.1 with a free port: Azurite (the Azure Storage
 * emulator) as a child process, and s3rver (an S3-compatible server) in-process. Also the SAS tokens Azurite
 * checks, signed with its well-known development account key.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

/** Azurite's development account and its published key. */
export const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const SAS_VERSION = '2021-08-06';

function sign(stringToSign: string): string {
  return createHmac('sha256', Buffer.from(DEV_KEY, 'base64')).update(stringToSign, 'utf8').digest('base64');
}

function expiry(): string {
  return new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
}

/** A service SAS query for one container of the development account, with permissions like `cw` or `rl`. */
export function containerSas(container: string, permissions: string): string {
  const se = expiry();
  // Field order of the service SAS string-to-sign for versions 2020-12-06 and later.
  const fields = [permissions, '', se, `/blob/${DEV_ACCOUNT}/${container}`, '', '', '', SAS_VERSION, 'c', '', '', '', '', '', '', ''];
  const q = new URLSearchParams({ sv: SAS_VERSION, sr: 'c', sp: permissions, se, sig: sign(fields.join('\n')) });
  return q.toString();
}

/** An account SAS query allowing everything on the blob service (used to create containers). */
export function accountSas(): string {
  const se = expiry();
  const fields = [DEV_ACCOUNT, 'racwdl', 'b', 'sco', '', se, '', '', SAS_VERSION, ''];
  const q = new URLSearchParams({ sv: SAS_VERSION, ss: 'b', srt: 'sco', sp: 'racwdl', se, sig: sign(`${fields.join('\n')}\n`) });
  return q.toString();
}

/** A running Azurite blob service. */
export interface Azurite {
  /** `http://127.0.0.1:<port>`; the account's URL is `${url}/devstoreaccount1`. */
  url: string;
  /** Creates a container and returns its URL (without a query). */
  createContainer(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Starts Azurite's blob service in memory, without telemetry, and waits until it listens. */
export async function startAzurite(): Promise<Azurite> {
  const bin = join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'blob', 'main.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, '--blobHost', '127.0.0.1', '--blobPort', '0', '--inMemoryPersistence', '--disableTelemetry', '--silent'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start: ${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const m = /listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with ${code}: ${output}`));
    });
  });
  return {
    url,
    async createContainer(name) {
      const container = `${url}/${DEV_ACCOUNT}/${name}`;
      const res = await fetch(`${container}?restype=container&${accountSas()}`, { method: 'PUT', headers: { 'x-ms-version': SAS_VERSION } });
      if (res.status !== 201) throw new Error(`creating container ${name} in Azurite answered ${res.status}: ${await res.text()}`);
      return container;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (o: Record<string, unknown>) => S3rverInstance;

/** A running s3rver with its buckets; it accepts requests signed with S3RVER_KEY / S3RVER_SECRET. */
export interface S3Server {
  url: string;
  /** Where s3rver keeps the objects (objects are files under `<dir>/<bucket>/`). */
  dir: string;
  close(): Promise<void>;
}

/** The only credentials s3rver accepts. */
export const S3RVER_KEY = 'S3RVER';
export const S3RVER_SECRET = 'S3RVER';

/** Starts s3rver on 127.0.0.1 with the given buckets, storing into a fresh temporary directory. */
export async function startS3rver(buckets: string[]): Promise<S3Server> {
  const S3rver = require('s3rver') as S3rverClass;
  const dir = await mkdtemp(join(tmpdir(), 's3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    vhostBuckets: false,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  return {
    url: `http://127.0.0.1:${port}`,
    dir,
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
