/**
 * S3 output (and reading captures back): one PutObject of the tarball under `<path>/<tarball name>` in the bucket, to AWS or any
 * S3-compatible endpoint (path-style addressing when an endpoint is given, as MinIO and most others need).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { S3OutputConfig } from '../workload/config.js';

/** The object key of a tarball: the prefix joined with the file name. */
export function s3ObjectKey(prefix: string | undefined, file: string): string {
  return posix.join(prefix ?? '', basename(file)).replace(/^\/+/, '');
}

/** A client for the destination; region defaults to `auto` (what S3-compatible stores accept). */
export function s3Client(cfg: S3OutputConfig): S3Client {
  return new S3Client({
    region: cfg.region || 'auto',
    ...(cfg.endpoint ? { endpoint: cfg.endpoint, forcePathStyle: true } : {}),
    ...(cfg.accessKeyId && cfg.secretAccessKey
      ? { credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey } }
      : {}),
    // S3-compatible stores often reject the SDK's default streaming checksums; send them only where required.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Retries happen one level up, with the workload's backoff and logging; the SDK's own console warnings about
    // them would only repeat the workload's structured log lines as unstructured text.
    maxAttempts: 1,
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {} },
  });
}

/** Uploads `file`; returns `s3://bucket/key`. */
export async function uploadToS3(file: string, cfg: S3OutputConfig): Promise<string> {
  const key = s3ObjectKey(cfg.path, file);
  const size = (await stat(file)).size;
  const client = s3Client(cfg);
  try {
    await client.send(
      new PutObjectCommand({
        Bucket: cfg.bucket,
        Key: key,
        Body: createReadStream(file),
        ContentLength: size,
        ContentType: 'application/gzip',
      }),
    );
  } catch (err) {
    const e = err as Error;
    throw new Error(`S3 upload of ${basename(file)} to s3://${cfg.bucket}/${key}${s3StatusSuffix(err)} failed: ${e.name}: ${e.message}`);
  } finally {
    client.destroy();
  }
  return `s3://${cfg.bucket}/${key}`;
}

/** Keys of the capture tarballs (`*.tar.gz`) under `prefix` in the bucket, following every page of the listing. */
export async function listS3Tarballs(cfg: S3OutputConfig, prefix: string): Promise<string[]> {
  const client = s3Client(cfg);
  const keys: string[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await client.send(new ListObjectsV2Command({ Bucket: cfg.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key?.endsWith('.tar.gz')) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  } catch (err) {
    throw new Error(`listing s3://${cfg.bucket}/${prefix}${s3StatusSuffix(err)} failed: ${(err as Error).name}: ${(err as Error).message}`);
  } finally {
    client.destroy();
  }
  return keys;
}

/** Downloads object `key` into `dest` (written under a temporary name, then renamed). */
export async function downloadFromS3(cfg: S3OutputConfig, key: string, dest: string): Promise<void> {
  const client = s3Client(cfg);
  const partial = `${dest}.partial`;
  try {
    const res = await client.send(new GetObjectCommand({ Bucket: cfg.bucket, Key: key }));
    if (!res.Body) throw new Error('the response has no body');
    await pipeline(res.Body as Readable, createWriteStream(partial));
    await rename(partial, dest);
  } catch (err) {
    await rm(partial, { force: true });
    throw new Error(`downloading s3://${cfg.bucket}/${key}${s3StatusSuffix(err)} failed: ${(err as Error).name}: ${(err as Error).message}`);
  } finally {
    client.destroy();
  }
}

function s3StatusSuffix(err: unknown): string {
  const code = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  return code ? ` (HTTP ${code})` : '';
}
