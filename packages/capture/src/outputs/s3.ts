/**
 * S3 output: one PutObject of the tarball under `<path>/<tarball name>` in the bucket, to AWS or any
 * S3-compatible endpoint (path-style addressing when an endpoint is given, as MinIO and most others need).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, posix } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
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
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
    throw new Error(`S3 upload of ${basename(file)} to s3://${cfg.bucket}/${key}${status} failed: ${e.name}: ${e.message}`);
  } finally {
    client.destroy();
  }
  return `s3://${cfg.bucket}/${key}`;
}
