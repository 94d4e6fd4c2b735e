/**
 * `capture download`: tarballs from an Azure Blob container (listed by the capture name as prefix through the
 * SAS URL), from an S3 bucket (listed under the path prefix), or from the nodes that keep them in their host path
 * (read through a short-lived download pod by streamNodeTarball of @retina-ts/capture, which the UI uses too).
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  downloadFromS3,
  LABEL_CAPTURE_NAME,
  listCaptureJobs,
  listS3Tarballs,
  nodeTarballs,
  redactUrl,
  streamNodeTarball,
  type NodeTarball,
  type S3OutputConfig,
} from '@retina-ts/capture';

export { DOWNLOAD_IMAGE, DOWNLOAD_MOUNT_PREFIX, downloadPodManifest, nodeTarballs, type NodeTarball } from '@retina-ts/capture';

/** What to download. */
export interface DownloadOptions {
  name?: string;
  blobUrl?: string;
  /** Download from this bucket (with --name: only that capture's tarballs). */
  s3?: S3OutputConfig;
  output: string;
  kube?: { kc: KubeConfig; namespace: string };
  out: (line: string) => void;
  fetch?: typeof fetch;
  /** Image of the download pods (default DOWNLOAD_IMAGE). */
  image?: string;
  /** How long a download pod may take to start (default 30 s, as Retina). */
  podReadyTimeoutMs?: number;
  /** Poll period while waiting for a download pod (default 500 ms). */
  pollIntervalMs?: number;
}

/** Blob names in a List Blobs response page, and the marker of the next page. */
export function parseBlobList(xml: string): { names: string[]; next?: string } {
  const names = [...xml.matchAll(/<Blob>[\s\S]*?<Name>([^<]*)<\/Name>/g)].map((m) => decodeXml(m[1]!));
  const next = /<NextMarker>([^<]+)<\/NextMarker>/.exec(xml)?.[1];
  return { names, ...(next ? { next: decodeXml(next) } : {}) };
}

function decodeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

async function fromBlob(o: DownloadOptions & { blobUrl: string }): Promise<string[]> {
  const f = o.fetch ?? fetch;
  const container = new URL(o.blobUrl);
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const u = new URL(container);
    u.searchParams.set('restype', 'container');
    u.searchParams.set('comp', 'list');
    if (o.name) u.searchParams.set('prefix', `${o.name}-`);
    if (marker) u.searchParams.set('marker', marker);
    const res = await f(u, { headers: { 'x-ms-version': '2021-08-06' } });
    if (!res.ok) throw new Error(`listing blobs in ${redactUrl(o.blobUrl)} answered ${res.status} ${res.statusText}`);
    const page = parseBlobList(await res.text());
    names.push(...page.names.filter((n) => n.endsWith('.tar.gz')));
    marker = page.next;
  } while (marker);
  if (names.length === 0) throw new Error(`no capture tarballs${o.name ? ` of ${o.name}` : ''} found in ${redactUrl(o.blobUrl)}`);
  await mkdir(o.output, { recursive: true });
  const written: string[] = [];
  for (const name of names) {
    const u = new URL(container);
    u.pathname = `${u.pathname.replace(/\/+$/, '')}/${encodeURIComponent(name)}`;
    const res = await f(u, { headers: { 'x-ms-version': '2021-08-06' } });
    if (!res.ok || !res.body) throw new Error(`downloading ${name} answered ${res.status} ${res.statusText}`);
    const dest = join(o.output, name.split('/').pop()!);
    await pipeline(Readable.fromWeb(res.body as WebReadableStream), createWriteStream(dest));
    o.out(`  ${dest}`);
    written.push(dest);
  }
  return written;
}

async function fromS3(o: DownloadOptions & { s3: S3OutputConfig }): Promise<string[]> {
  const base = (o.s3.path ?? '').replace(/^\/+|\/+$/g, '');
  const prefix = o.name ? posix.join(base, `${o.name}-`) : base ? `${base}/` : '';
  const keys = await listS3Tarballs(o.s3, prefix);
  if (keys.length === 0) throw new Error(`no capture tarballs${o.name ? ` of ${o.name}` : ''} found in s3://${o.s3.bucket}/${prefix}`);
  await mkdir(o.output, { recursive: true });
  const written: string[] = [];
  for (const key of keys) {
    const dest = join(o.output, posix.basename(key));
    await downloadFromS3(o.s3, key, dest);
    o.out(`  ${dest}`);
    written.push(dest);
  }
  return written;
}

async function fromNode(o: DownloadOptions & { kube: NonNullable<DownloadOptions['kube']>; name: string }, t: NodeTarball): Promise<string> {
  const dest = join(o.output, t.file);
  const partial = `${dest}.partial`;
  const file = createWriteStream(partial);
  try {
    await streamNodeTarball(o.kube.kc, o.kube.namespace, o.name, t, file, {
      ...(o.image ? { image: o.image } : {}),
      ...(o.podReadyTimeoutMs !== undefined ? { podReadyTimeoutMs: o.podReadyTimeoutMs } : {}),
      ...(o.pollIntervalMs !== undefined ? { pollIntervalMs: o.pollIntervalMs } : {}),
      warn: (m) => o.out(`  warning: ${m}`),
    });
    await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
  } catch (err) {
    file.destroy();
    await rm(partial, { force: true });
    throw err;
  }
  await rename(partial, dest);
  return dest;
}

/**
 * `--all`: every capture that has capture Jobs in the namespace (or in every namespace), each into
 * `<output>/<namespace>/<capture>/`. A capture that fails is reported and the others are still downloaded.
 */
export async function downloadAllCaptures(o: DownloadOptions & { kube: NonNullable<DownloadOptions['kube']>; allNamespaces: boolean }): Promise<string[]> {
  const jobs = await listCaptureJobs(o.kube.kc, o.allNamespaces ? undefined : o.kube.namespace);
  const captures = new Map<string, { namespace: string; name: string }>();
  for (const j of jobs) {
    const name = j.metadata?.labels?.[LABEL_CAPTURE_NAME];
    const namespace = j.metadata?.namespace ?? 'default';
    if (name) captures.set(`${namespace}/${name}`, { namespace, name });
  }
  if (captures.size === 0) {
    o.out(o.allNamespaces ? 'No captures found in any namespace' : `No captures found in namespace ${o.kube.namespace}`);
    return [];
  }
  o.out(`Found ${captures.size} capture(s) to download`);
  const written: string[] = [];
  const failures: string[] = [];
  for (const [key, c] of [...captures].sort(([a], [b]) => (a < b ? -1 : 1))) {
    o.out(`capture ${key}:`);
    try {
      written.push(
        ...(await downloadCapture({ ...o, name: c.name, output: join(o.output, c.namespace, c.name), kube: { kc: o.kube.kc, namespace: c.namespace } })),
      );
    } catch (err) {
      failures.push(`${key}: ${(err as Error).message}`);
    }
  }
  if (failures.length > 0) throw new Error(`downloaded ${written.length} file(s); failed: ${failures.join('; ')}`);
  return written;
}

/** Downloads the capture's tarballs; returns the files written. */
export async function downloadCapture(o: DownloadOptions): Promise<string[]> {
  if (o.blobUrl) return fromBlob({ ...o, blobUrl: o.blobUrl });
  if (o.s3) return fromS3({ ...o, s3: o.s3 });
  if (!o.kube || !o.name) throw new Error('capture download needs --name, --blob-url or --s3-bucket');
  const kube = o.kube;
  const name = o.name;
  const tarballs = await nodeTarballs(kube.kc, kube.namespace, name);
  await mkdir(o.output, { recursive: true });
  const written: string[] = [];
  const failures: string[] = [];
  for (const t of tarballs) {
    o.out(`  node ${t.node}: ${posix.join(t.hostPath, t.file)}`);
    try {
      const dest = await fromNode({ ...o, kube, name }, t);
      o.out(`  ${dest}`);
      written.push(dest);
    } catch (err) {
      failures.push(`node ${t.node}: ${(err as Error).message}`);
    }
  }
  if (failures.length > 0) {
    throw new Error(`downloaded ${written.length} of ${tarballs.length} tarball(s); ${failures.join('; ')}`);
  }
  return written;
}
