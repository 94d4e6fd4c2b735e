/**
 * Azure Blob output: the tarball is uploaded into the container a SAS URL grants write access to, as a block
 * blob named like the tarball. Small files go in one Put Blob request; larger ones as blocks and a block list,
 * which keeps each request within Azure's limits. The SAS token never appears in errors or logs.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { redactUrl } from '../workload/config.js';

/** Azure Storage REST version used for the requests. */
const X_MS_VERSION = '2021-08-06';

/** A SAS URL that cannot be used, or an upload the service refused. */
export class BlobUploadError extends Error {
  override name = 'BlobUploadError';
}

/** Options of uploadToBlob. */
export interface BlobUploadOptions {
  /** Files up to this size go in one request (default 256 MiB). */
  singlePutLimit?: number;
  /** Block size for larger files (default 64 MiB). */
  blockSize?: number;
  fetch?: typeof fetch;
}

/** The URL of blob `name` inside the container of `sasUrl`, keeping the SAS query. */
export function blobUrl(sasUrl: string, name: string): URL {
  let u: URL;
  try {
    u = new URL(sasUrl);
  } catch {
    throw new BlobUploadError('blob upload URL is not a URL: expected https://<account>.blob.core.windows.net/<container>?<sas>');
  }
  const path = u.pathname.replace(/\/+$/, '');
  if (path === '' || path === '/') {
    throw new BlobUploadError(`blob upload URL ${redactUrl(sasUrl)} names no container: add /<container> before the SAS token`);
  }
  if (!u.search) throw new BlobUploadError(`blob upload URL ${redactUrl(sasUrl)} has no SAS token (query string)`);
  u.pathname = `${path}/${encodeURIComponent(name)}`;
  return u;
}

async function send(f: typeof fetch, url: URL, init: RequestInit, what: string): Promise<void> {
  let res: Response;
  try {
    res = await f(url, init);
  } catch (err) {
    throw new BlobUploadError(`${what} to ${redactUrl(url.href)} failed: ${(err as Error).message}`);
  }
  if (res.status !== 201) {
    const text = (await res.text().catch(() => '')).replace(/sig=[^&\s<"]+/g, 'sig=<redacted>').slice(0, 500);
    throw new BlobUploadError(`${what} to ${redactUrl(url.href)} answered ${res.status} ${res.statusText}: ${text}`);
  }
}

/** Uploads `file` into the SAS URL's container; returns the blob's URL without the SAS token. */
export async function uploadToBlob(file: string, sasUrl: string, o: BlobUploadOptions = {}): Promise<string> {
  const f = o.fetch ?? fetch;
  const url = blobUrl(sasUrl, basename(file));
  const size = (await stat(file)).size;
  const common = { 'x-ms-version': X_MS_VERSION };
  if (size <= (o.singlePutLimit ?? 256 * 1024 * 1024)) {
    await send(
      f,
      url,
      {
        method: 'PUT',
        headers: { ...common, 'x-ms-blob-type': 'BlockBlob', 'content-type': 'application/gzip', 'content-length': String(size) },
        body: createReadStream(file) as unknown as RequestInit['body'],
        duplex: 'half',
      } as RequestInit,
      'Put Blob',
    );
    return redactUrl(url.href);
  }
  const blockSize = o.blockSize ?? 64 * 1024 * 1024;
  const ids: string[] = [];
  for (let offset = 0, i = 0; offset < size; offset += blockSize, i++) {
    const end = Math.min(size, offset + blockSize);
    // Block ids must all have the same length before base64 encoding.
    const id = Buffer.from(`block-${String(i).padStart(6, '0')}`).toString('base64');
    ids.push(id);
    const u = new URL(url);
    u.searchParams.set('comp', 'block');
    u.searchParams.set('blockid', id);
    await send(
      f,
      u,
      {
        method: 'PUT',
        headers: { ...common, 'content-length': String(end - offset) },
        body: createReadStream(file, { start: offset, end: end - 1 }) as unknown as RequestInit['body'],
        duplex: 'half',
      } as RequestInit,
      `Put Block ${i}`,
    );
  }
  const list = `<?xml version="1.0" encoding="utf-8"?><BlockList>${ids.map((id) => `<Latest>${id}</Latest>`).join('')}</BlockList>`;
  const u = new URL(url);
  u.searchParams.set('comp', 'blocklist');
  await send(
    f,
    u,
    { method: 'PUT', headers: { ...common, 'x-ms-blob-content-type': 'application/gzip', 'content-type': 'application/xml' }, body: list },
    'Put Block List',
  );
  return redactUrl(url.href);
}
