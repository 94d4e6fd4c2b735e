/**
 * `capture download`: tarballs from an Azure Blob container (listed by the capture name as prefix through the
 * SAS URL), from an S3 bucket (listed under the path prefix), or from the nodes that keep them in their host path.
 * For the nodes, a short-lived pod on each node mounts the host path read-only and the file is streamed out of it
 * with exec (`cat`), as the API server offers no other way to read a node's files.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { PassThrough, Readable, type Writable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { CoreV1Api, Exec, type KubeConfig, type V1Pod, type V1Status } from '@kubernetes/client-node';
import {
  ANNOTATION_HOSTPATH,
  ANNOTATION_TIMESTAMP,
  captureTarballName,
  downloadFromS3,
  httpStatus,
  LABEL_APP,
  LABEL_APP_DOWNLOAD,
  LABEL_CAPTURE_NAME,
  LABEL_CAPTURE_NODE,
  listCaptureJobs,
  listS3Tarballs,
  parseCaptureTimestamp,
  redactUrl,
  type S3OutputConfig,
} from '@retina-ts/capture';

/** The image of the download pods (a busybox, as Retina uses): it only needs `sleep`, `test` and `cat`. */
export const DOWNLOAD_IMAGE = 'mcr.microsoft.com/azurelinux/busybox:1.36';
/** Where the download pod mounts the node's root of captures: the host path below this prefix. */
export const DOWNLOAD_MOUNT_PREFIX = '/host';

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

/** Where a capture Job left its tarball: the node and the file's path on it. */
export interface NodeTarball {
  node: string;
  jobName: string;
  /** Directory on the node (the Job's host path). */
  hostPath: string;
  file: string;
}

/** The pod that exposes `t.hostPath` of node `t.node` read-only under DOWNLOAD_MOUNT_PREFIX. */
export function downloadPodManifest(captureName: string, namespace: string, t: NodeTarball, image = DOWNLOAD_IMAGE): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      // Node names can be long; the API server appends five characters to generateName within the 63 allowed.
      generateName: `${`${captureName}-download-${t.node}`.slice(0, 57).replace(/[^a-z0-9]+$/, '')}-`,
      namespace,
      labels: { [LABEL_APP]: LABEL_APP_DOWNLOAD, [LABEL_CAPTURE_NAME]: captureName },
    },
    spec: {
      nodeName: t.node,
      restartPolicy: 'Never',
      // Captures run on tainted nodes too; their tarballs must be reachable the same way.
      tolerations: [{ operator: 'Exists' }],
      containers: [
        {
          name: 'download',
          image,
          command: ['sleep', '3600'],
          volumeMounts: [{ name: 'capture-host-path', mountPath: posix.join(DOWNLOAD_MOUNT_PREFIX, t.hostPath), readOnly: true }],
        },
      ],
      volumes: [{ name: 'capture-host-path', hostPath: { path: t.hostPath, type: 'Directory' } }],
    },
  };
}

/** The tarballs the capture's Jobs wrote to their nodes. */
export async function nodeTarballs(kc: KubeConfig, namespace: string, name: string): Promise<NodeTarball[]> {
  const jobs = await listCaptureJobs(kc, namespace, name);
  if (jobs.length === 0) throw new Error(`capture ${name} in namespace ${namespace} was not found`);
  const out: NodeTarball[] = [];
  for (const j of jobs) {
    const a = j.spec?.template.metadata?.annotations ?? {};
    const node = j.metadata?.labels?.[LABEL_CAPTURE_NODE];
    const hostPath = a[ANNOTATION_HOSTPATH];
    const ts = a[ANNOTATION_TIMESTAMP];
    if (!node || !hostPath || !ts) {
      throw new Error(
        `job ${j.metadata?.name} of capture ${name} lacks the ${!node ? `label ${LABEL_CAPTURE_NODE}` : `annotation ${!hostPath ? ANNOTATION_HOSTPATH : ANNOTATION_TIMESTAMP}`}: it was not created by retina; download with --blob-url or --s3-bucket`,
      );
    }
    out.push({ node, jobName: j.metadata!.name!, hostPath, file: captureTarballName(name, node, parseCaptureTimestamp(ts)) });
  }
  return out;
}

async function waitRunning(core: CoreV1Api, namespace: string, pod: string, node: string, o: DownloadOptions): Promise<void> {
  const timeout = o.podReadyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeout;
  for (;;) {
    const p = await core.readNamespacedPod({ namespace, name: pod });
    const phase = p.status?.phase;
    if (phase === 'Running') return;
    if (phase === 'Failed' || phase === 'Succeeded') {
      throw new Error(`download pod ${namespace}/${pod} on node ${node} ended (${phase}) before the file could be read: ${p.status?.message ?? 'no message'}`);
    }
    if (Date.now() > deadline) {
      const waiting = p.status?.containerStatuses?.[0]?.state?.waiting;
      throw new Error(
        `download pod ${namespace}/${pod} on node ${node} did not start within ${timeout / 1000} s (phase ${phase ?? 'unknown'}${waiting?.reason ? `, ${waiting.reason}` : ''})`,
      );
    }
    await new Promise((r) => setTimeout(r, o.pollIntervalMs ?? 500));
  }
}

/** Runs `command` in the pod, sending stdout to `stdout`; resolves with the exit code (0 on success). */
async function execIn(kc: KubeConfig, namespace: string, pod: string, command: string[], stdout: Writable): Promise<{ code: number; stderr: string }> {
  const stderr: Buffer[] = [];
  const errStream = new PassThrough();
  errStream.on('data', (c: Buffer) => stderr.push(c));
  const status = await new Promise<V1Status>((resolve, reject) => {
    new Exec(kc)
      .exec(namespace, pod, 'download', command, stdout, errStream, null, false, resolve)
      .then((ws) => ws.on('close', () => resolve({ status: 'Failure', message: 'the exec connection closed without a status' })))
      .catch((err: unknown) => reject(err instanceof Error ? err : new Error(`exec into ${namespace}/${pod} failed: ${JSON.stringify(err)}`)));
  });
  if (status.status === 'Success') return { code: 0, stderr: Buffer.concat(stderr).toString() };
  const exit = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  return { code: exit ? Number(exit) : -1, stderr: Buffer.concat(stderr).toString() || (status.message ?? '') };
}

async function fromNode(o: DownloadOptions & { kube: NonNullable<DownloadOptions['kube']>; name: string }, t: NodeTarball): Promise<string> {
  const { kc, namespace } = o.kube;
  const core = kc.makeApiClient(CoreV1Api);
  const created = await core.createNamespacedPod({ namespace, body: downloadPodManifest(o.name, namespace, t, o.image) });
  const pod = created.metadata!.name!;
  try {
    await waitRunning(core, namespace, pod, t.node, o);
    const path = posix.join(DOWNLOAD_MOUNT_PREFIX, t.hostPath, t.file);
    const check = await execIn(kc, namespace, pod, ['test', '-r', path], new PassThrough().resume());
    if (check.code !== 0) throw new Error(`node ${t.node} has no readable ${posix.join(t.hostPath, t.file)} (the capture may still be running, or failed)`);
    const dest = join(o.output, t.file);
    const partial = `${dest}.partial`;
    const sink = new PassThrough();
    const written = pipeline(sink, createWriteStream(partial));
    let result: { code: number; stderr: string };
    try {
      result = await execIn(kc, namespace, pod, ['cat', path], sink);
    } finally {
      sink.end();
    }
    await written;
    if (result.code !== 0) {
      await rm(partial, { force: true });
      throw new Error(`reading ${posix.join(t.hostPath, t.file)} on node ${t.node} failed (exit ${result.code}): ${result.stderr.trim()}`);
    }
    await rename(partial, dest);
    return dest;
  } finally {
    try {
      await core.deleteNamespacedPod({ namespace, name: pod, gracePeriodSeconds: 0 });
    } catch (err) {
      if (httpStatus(err) !== 404) o.out(`  warning: could not delete download pod ${namespace}/${pod}: ${(err as Error).message}`);
    }
  }
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
