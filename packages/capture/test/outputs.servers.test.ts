/**
 * The Blob and S3 outputs against real servers: Azurite and s3rver, started here on 127.0.0.1. These check what
 * the in-process fakes cannot: that the services accept the requests exactly as sent (signatures, headers, block
 * lists) and store the bytes.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadFromS3, listS3Tarballs, s3Client, uploadToBlob, uploadToS3, withRetry } from '../src/index.js';
import { createLogger } from '@retina-ts/core';
import { containerSas, startAzurite, startS3rver, S3RVER_KEY, S3RVER_SECRET, type Azurite, type S3Server } from './stores.js';

const silent = createLogger({ level: 'silent' });
const NAME = 'cap-node1-20240101000000UTC.tar.gz';
const content = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 253));
let dir: string;
let file: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'capture-servers-'));
  file = join(dir, NAME);
  await writeFile(file, content);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('Azure Blob output against Azurite', () => {
  let azurite: Azurite;
  let container: string;
  beforeAll(async () => {
    azurite = await startAzurite();
    container = await azurite.createContainer('captures');
  }, 90_000);
  afterAll(() => azurite?.close());

  async function readBlob(name: string): Promise<{ status: number; body: Buffer; type: string | null }> {
    const res = await fetch(`${container}/${name}?${containerSas('captures', 'rl')}`, { headers: { 'x-ms-version': '2021-08-06' } });
    return { status: res.status, body: Buffer.from(await res.arrayBuffer()), type: res.headers.get('content-type') };
  }

  it('stores the tarball with one Put Blob through a write-only container SAS', async () => {
    const where = await uploadToBlob(file, `${container}?${containerSas('captures', 'cw')}`);
    expect(where).toBe(`${container}/${NAME}?<redacted>`);
    const got = await readBlob(NAME);
    expect(got.status).toBe(200);
    expect(got.body.equals(content)).toBe(true);
    expect(got.type).toBe('application/gzip');
  });

  it('stores a tarball above the single-put limit as blocks and a block list', async () => {
    const big = join(dir, 'big-node1-20240101000000UTC.tar.gz');
    await writeFile(big, content);
    await uploadToBlob(big, `${container}?${containerSas('captures', 'cw')}`, { singlePutLimit: 1000, blockSize: 100_000 });
    const got = await readBlob('big-node1-20240101000000UTC.tar.gz');
    expect(got.status).toBe(200);
    expect(got.body.equals(content)).toBe(true);
    expect(got.type).toBe('application/gzip');
  });

  it('reports a SAS the service refuses, without its signature', async () => {
    const sas = containerSas('captures', 'cw');
    const forged = sas.replace(/sig=[^&]+/, 'sig=Zm9yZ2VkLXNpZ25hdHVyZQ%3D%3D');
    const err = (await uploadToBlob(file, `${container}?${forged}`).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/^Put Blob to http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/captures\/cap-node1-20240101000000UTC\.tar\.gz\?<redacted> answered 403/);
    expect(err.message).not.toContain('Zm9yZ2Vk');
  });

  it('refuses a read-only SAS', async () => {
    const err = (await uploadToBlob(file, `${container}?${containerSas('captures', 'rl')}`).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/answered 403/);
  });
});

describe('S3 output against s3rver', () => {
  let s3: S3Server;
  beforeAll(async () => {
    s3 = await startS3rver(['captures']);
  });
  afterAll(() => s3?.close());

  const cfg = () => ({ bucket: 'captures', endpoint: s3.url, region: 'us-east-1', accessKeyId: S3RVER_KEY, secretAccessKey: S3RVER_SECRET });

  async function readObject(key: string): Promise<{ body: Buffer; type: string | undefined }> {
    const client = s3Client(cfg());
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: 'captures', Key: key }));
      return { body: Buffer.from(await res.Body!.transformToByteArray()), type: res.ContentType };
    } finally {
      client.destroy();
    }
  }

  it('puts the tarball under the path prefix, signed with SigV4', async () => {
    const where = await withRetry('s3', () => uploadToS3(file, { ...cfg(), path: 'retina/captures' }), silent, { retries: 0 });
    expect(where).toBe(`s3://captures/retina/captures/${NAME}`);
    const got = await readObject(`retina/captures/${NAME}`);
    expect(got.body.equals(content)).toBe(true);
    expect(got.type).toBe('application/gzip');
  });

  it('names bucket, key and status when the key is unknown, without the secret', async () => {
    const err = (await uploadToS3(file, { ...cfg(), accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'topsecret' }).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(new RegExp(`^S3 upload of ${NAME} to s3://captures/${NAME} \\(HTTP 403\\) failed: InvalidAccessKeyId`));
    expect(err.message).not.toContain('topsecret');
  });

  it('names the bucket when it does not exist', async () => {
    const err = (await uploadToS3(file, { ...cfg(), bucket: 'missing' }).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/to s3:\/\/missing\/.* \(HTTP 404\) failed: NoSuchBucket/);
  });

  it('lists the tarballs under a prefix and downloads them back', async () => {
    for (const n of ['web-n1-20240101000000UTC.tar.gz', 'web-n2-20240101000000UTC.tar.gz', 'web-notes.txt', 'other-n1-20240101000000UTC.tar.gz']) {
      const f = join(dir, n);
      await writeFile(f, n);
      await uploadToS3(f, { ...cfg(), path: 'listing' });
    }
    const keys = await listS3Tarballs(cfg(), 'listing/web-');
    expect(keys.sort()).toEqual(['listing/web-n1-20240101000000UTC.tar.gz', 'listing/web-n2-20240101000000UTC.tar.gz']);
    const out = await mkdtemp(join(dir, 'down-'));
    await downloadFromS3(cfg(), keys[0]!, join(out, 'a.tar.gz'));
    expect(await readFile(join(out, 'a.tar.gz'), 'utf8')).toBe('web-n1-20240101000000UTC.tar.gz');
    const err = (await downloadFromS3(cfg(), 'listing/absent.tar.gz', join(out, 'b.tar.gz')).catch((e: Error) => e)) as Error;
    expect(err.message).toMatch(/^downloading s3:\/\/captures\/listing\/absent\.tar\.gz \(HTTP 404\) failed: NoSuchKey/);
    expect(await readdir(out)).toEqual(['a.tar.gz']);
  });
});
