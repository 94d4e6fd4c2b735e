/**
 * The workload's orchestration with a stand-in tcpdump (no root needed): stop on signal and on duration, tarball
 * layout, every output, retries, a failed upload keeping the local file, and no credential in any log line.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@retina-ts/core';
import { runCaptureWorkload, tarballEntries, TcpdumpError, type WorkloadConfig } from '../src/index.js';
import { withFakeStores } from './fakes.js';

const fakeTcpdump = fileURLToPath(new URL('./fixtures/fake-tcpdump.sh', import.meta.url));
const start = new Date('2024-03-04T05:06:07Z');
let root: string;

function capturingLogger() {
  const lines: string[] = [];
  const logger = createLogger({
    level: 'debug',
    destination: new Writable({
      write(chunk, _e, cb) {
        lines.push(String(chunk));
        cb();
      },
    }),
  });
  return { logger, lines };
}

const config = (over: Partial<WorkloadConfig>): WorkloadConfig => ({
  captureName: 'cap',
  nodeName: 'node-a',
  startTime: start,
  interfaces: [],
  includeMetadata: false,
  tcpdumpFlags: [],
  outputs: {},
  workDir: join(root, 'work'),
  ...over,
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'capture-workload-'));
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('capture workload', () => {
  it('stops on abort, packs <base>/ and stores it on every output', async () => {
    const { logger, lines } = capturingLogger();
    const ac = new AbortController();
    await withFakeStores('sigvalue', 'AKIDWORK', async (blob, s3) => {
      const hostDir = join(root, 'host', 'retina');
      const pvcDir = join(root, 'pvc');
      const result = await runCaptureWorkload(
        config({
          filter: 'port 53',
          outputs: {
            hostPath: hostDir,
            pvcDir,
            blobSasUrl: blob.sasUrl('captures'),
            s3: { bucket: 'bkt', endpoint: s3.url, path: 'retina/captures', accessKeyId: 'AKIDWORK', secretAccessKey: 'VERYSECRET' },
          },
        }),
        { logger, signal: ac.signal, tcpdumpPath: fakeTcpdump, onCaptureStarted: () => ac.abort() },
      );
      const base = 'cap-node-a-20240304050607UTC';
      expect(result).toEqual({
        baseName: base,
        pcapFiles: [`${base}.pcap`],
        stoppedBy: 'signal',
        artifacts: [
          { output: 'hostPath', location: join(hostDir, `${base}.tar.gz`) },
          { output: 'pvc', location: join(pvcDir, `${base}.tar.gz`) },
          { output: 'blob', location: `${blob.url}/devstoreaccount1/captures/${base}.tar.gz?<redacted>` },
          { output: 's3', location: `s3://bkt/retina/captures/${base}.tar.gz` },
        ],
        failures: [],
      });
      expect((await tarballEntries(join(hostDir, `${base}.tar.gz`))).sort()).toEqual([
        `${base}/`,
        `${base}/${base}.pcap`,
        `${base}/tcpdump.log`,
      ]);
      expect(blob.objects.has(`/devstoreaccount1/captures/${base}.tar.gz`)).toBe(true);
      expect(s3.objects.has(`/bkt/retina/captures/${base}.tar.gz`)).toBe(true);
      // Everything stored: nothing is left in the work directory.
      expect(await readdir(join(root, 'work'))).toEqual([]);
      const all = lines.join('');
      expect(all).toContain('capture stored');
      expect(all).not.toMatch(/sigvalue|VERYSECRET/);
    });
  });

  it('stops at the duration', async () => {
    const { logger } = capturingLogger();
    const result = await runCaptureWorkload(
      config({ captureName: 'timed', durationMs: 200, outputs: { hostPath: join(root, 'timed') } }),
      { logger, tcpdumpPath: fakeTcpdump },
    );
    expect(result.stoppedBy).toBe('duration');
  });

  it('retries a flaky upload and keeps the local tarball when an output fails for good', async () => {
    const { logger, lines } = capturingLogger();
    const ac = new AbortController();
    await withFakeStores('ok', 'AKID', async (blob, s3) => {
      blob.failNext(1);
      const result = await runCaptureWorkload(
        config({
          captureName: 'flaky',
          outputs: {
            hostPath: join(root, 'flaky-host'),
            blobSasUrl: blob.sasUrl('c'),
            s3: { bucket: 'b', endpoint: s3.url, accessKeyId: 'WRONG', secretAccessKey: 'KEEPME' },
          },
        }),
        {
          logger,
          signal: ac.signal,
          tcpdumpPath: fakeTcpdump,
          onCaptureStarted: () => ac.abort(),
          retry: { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 2 },
        },
      );
      expect(result.artifacts.map((a) => a.output)).toEqual(['hostPath', 'blob']);
      expect(result.failures).toHaveLength(1);
      expect(result.failures[0]!.output).toBe('s3');
      expect(result.failures[0]!.error).toMatch(/HTTP 403/);
      expect(s3.requests).toHaveLength(3);
      expect(result.localTarball).toBe(join(root, 'work', `${result.baseName}.tar.gz`));
      expect((await stat(result.localTarball!)).size).toBeGreaterThan(0);
      expect(lines.join('')).not.toContain('KEEPME');
    });
  });

  it('fails before capturing when tcpdump rejects the filter', async () => {
    const { logger } = capturingLogger();
    await expect(
      runCaptureWorkload(config({ captureName: 'bad', filter: 'invalid filter', outputs: { hostPath: join(root, 'bad') } }), {
        logger,
        tcpdumpPath: fakeTcpdump,
      }),
    ).rejects.toThrow(TcpdumpError);
  });

  it('fails with tcpdump missing, naming the package to install', async () => {
    const { logger } = capturingLogger();
    await expect(
      runCaptureWorkload(config({ captureName: 'none', outputs: { hostPath: join(root, 'none') } }), {
        logger,
        tcpdumpPath: join(root, 'no-such-tcpdump'),
      }),
    ).rejects.toThrow(/apt-get install tcpdump/);
  });
});
