import { mkdtemp, readFile, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@retina-ts/core';
import { blobUrl, copyToDirectory, s3ObjectKey, uploadToBlob, uploadToS3, withRetry } from '../src/index.js';
import { startFakeBlob, startFakeS3 } from './fakes.js';

const silent = createLogger({ level: 'silent' });
let dir: string;
let file: string;
const content = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capture-outputs-'));
  file = join(dir, 'cap-node-20240101000000UTC.tar.gz');
  await writeFile(file, content);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('directory outputs (hostPath, PVC)', () => {
  it('copies the tarball under its name, creating the directory', async () => {
    const dest = await copyToDirectory(file, join(dir, 'host', 'retina'));
    expect(dest).toBe(join(dir, 'host', 'retina', 'cap-node-20240101000000UTC.tar.gz'));
    expect(await readFile(dest)).toEqual(content);
    await expect(stat(`${dest}.partial`)).rejects.toThrow();
  });
});

describe('Azure Blob output', () => {
  it('builds the blob URL inside the SAS container', () => {
    expect(blobUrl('https://a.blob.core.windows.net/c?sv=1&sig=x', 'f.tar.gz').href).toBe(
      'https://a.blob.core.windows.net/c/f.tar.gz?sv=1&sig=x',
    );
    expect(() => blobUrl('https://a.blob.core.windows.net/?sig=x', 'f')).toThrow(/names no container/);
    expect(() => blobUrl('https://a.blob.core.windows.net/c', 'f')).toThrow(/has no SAS token/);
    expect(() => blobUrl('not a url', 'f')).toThrow(/not a URL/);
  });

  it('uploads with one Put Blob, and in blocks above the single-put limit', async () => {
    const blob = await startFakeBlob('s3cr3t');
    try {
      const where = await uploadToBlob(file, blob.sasUrl('captures'));
      expect(where).toBe(`${blob.url}/devstoreaccount1/captures/cap-node-20240101000000UTC.tar.gz?<redacted>`);
      const stored = blob.objects.get('/devstoreaccount1/captures/cap-node-20240101000000UTC.tar.gz');
      expect(stored?.body).toEqual(content);
      expect(stored?.headers['x-ms-blob-type']).toBe('BlockBlob');

      blob.objects.clear();
      await uploadToBlob(file, blob.sasUrl('captures'), { singlePutLimit: 1000, blockSize: 100_000 });
      expect(blob.objects.get('/devstoreaccount1/captures/cap-node-20240101000000UTC.tar.gz')?.body).toEqual(content);
      expect(blob.requests.filter((r) => r.url.includes('comp=block&')).length).toBe(3);
    } finally {
      await blob.close();
    }
  });

  it('reports a refused upload without the signature', async () => {
    const blob = await startFakeBlob('right');
    try {
      const err = await uploadToBlob(file, blob.sasUrl('c').replace('sig=right', 'sig=wrong')).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/answered 403/);
      expect((err as Error).message).not.toContain('wrong');
    } finally {
      await blob.close();
    }
  });
});

describe('S3 output', () => {
  it('keys objects by prefix and tarball name', () => {
    expect(s3ObjectKey('retina/captures', '/tmp/x/a.tar.gz')).toBe('retina/captures/a.tar.gz');
    expect(s3ObjectKey('', '/tmp/a.tar.gz')).toBe('a.tar.gz');
    expect(s3ObjectKey('/lead/', 'a.tar.gz')).toBe('lead/a.tar.gz');
  });

  it('puts the tarball into the bucket with the SDK', async () => {
    const s3 = await startFakeS3('AKIDTEST');
    try {
      const where = await uploadToS3(file, {
        bucket: 'bkt',
        endpoint: s3.url,
        path: 'retina/captures',
        accessKeyId: 'AKIDTEST',
        secretAccessKey: 'topsecret',
      });
      expect(where).toBe('s3://bkt/retina/captures/cap-node-20240101000000UTC.tar.gz');
      expect(s3.objects.get('/bkt/retina/captures/cap-node-20240101000000UTC.tar.gz')?.body).toEqual(content);
    } finally {
      await s3.close();
    }
  });

  it('names bucket, key and status when refused, without the secret', async () => {
    const s3 = await startFakeS3('OTHER');
    try {
      const err = (await uploadToS3(file, { bucket: 'bkt', endpoint: s3.url, accessKeyId: 'AKIDTEST', secretAccessKey: 'topsecret' }).catch(
        (e: Error) => e,
      )) as Error;
      expect(err.message).toMatch(/S3 upload of cap-node-20240101000000UTC.tar.gz to s3:\/\/bkt\/cap-node-20240101000000UTC.tar.gz \(HTTP 403\) failed: InvalidAccessKeyId/);
      expect(err.message).not.toContain('topsecret');
    } finally {
      await s3.close();
    }
  });
});

describe('retries', () => {
  it('retries with backoff until the store accepts, logging each failure', async () => {
    const s3 = await startFakeS3('AKIDTEST');
    const lines: string[] = [];
    const logger = createLogger({
      destination: new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    });
    try {
      s3.failNext(2);
      const cfg = { bucket: 'bkt', endpoint: s3.url, accessKeyId: 'AKIDTEST', secretAccessKey: 'topsecret' };
      await withRetry('s3', () => uploadToS3(file, cfg), logger, { retries: 3, minTimeoutMs: 5, maxTimeoutMs: 10 });
      expect(s3.objects.size).toBe(1);
      expect(s3.requests.length).toBe(3);
      const warnings = lines.map((l) => JSON.parse(l) as { msg: string; attempt: number });
      expect(warnings.map((w) => [w.msg, w.attempt])).toEqual([
        ['upload attempt failed', 1],
        ['upload attempt failed', 2],
      ]);
      expect(lines.join('')).not.toContain('topsecret');
    } finally {
      await s3.close();
    }
  });

  it('gives up after the retries with the last error', async () => {
    let calls = 0;
    await expect(
      withRetry('x', async () => {
        calls++;
        throw new Error(`boom ${calls}`);
      }, silent, { retries: 2, minTimeoutMs: 1, maxTimeoutMs: 2 }),
    ).rejects.toThrow('boom 3');
  });
});
