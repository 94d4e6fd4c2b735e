/**
 * `capture download`: tarballs from an Azure Blob container (listed by the capture name as prefix through the
 * SAS URL), or, for captures kept on the nodes, where each node's tarball is.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { ANNOTATION_HOSTPATH, ANNOTATION_TIMESTAMP, captureTarballName, LABEL_CAPTURE_NODE, listCaptureJobs, parseCaptureTimestamp, redactUrl } from '@retina-ts/capture';

/** What to download. */
export interface DownloadOptions {
  name?: string;
  blobUrl?: string;
  output: string;
  kube?: { kc: KubeConfig; namespace: string };
  out: (line: string) => void;
  fetch?: typeof fetch;
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

/** Downloads the capture's tarballs; returns the files written. */
export async function downloadCapture(o: DownloadOptions): Promise<string[]> {
  if (o.blobUrl) return fromBlob({ ...o, blobUrl: o.blobUrl });
  if (!o.kube || !o.name) throw new Error('capture download needs --name or --blob-url');
  const jobs = await listCaptureJobs(o.kube.kc, o.kube.namespace, o.name);
  if (jobs.length === 0) throw new Error(`capture ${o.name} in namespace ${o.kube.namespace} was not found`);
  o.out('The tarballs are kept on the nodes (copy them with a pod that mounts the host path, or use --blob-url):');
  for (const j of jobs) {
    const a = j.spec?.template.metadata?.annotations ?? {};
    const node = j.metadata?.labels?.[LABEL_CAPTURE_NODE] ?? '?';
    const ts = a[ANNOTATION_TIMESTAMP];
    const file = ts ? captureTarballName(o.name, node, parseCaptureTimestamp(ts)) : '?';
    o.out(`  node ${node}: ${a[ANNOTATION_HOSTPATH] ?? '(no host path)'}/${file}`);
  }
  return [];
}
