/**
 * Reading a capture's tarballs off the nodes that keep them in their host path. The API server offers no way to
 * read a node's files, so a short-lived pod on the node mounts the host path read-only and the file is streamed
 * out of it with exec (`wc -c` for its size, then `cat`). `kubectl retina capture download` writes the stream to
 * files, the UI to a browser: both go through here.
 */
import { posix } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { CoreV1Api, Exec, type KubeConfig, type V1Pod, type V1Status } from '@kubernetes/client-node';
import { ANNOTATION_HOSTPATH, ANNOTATION_TIMESTAMP, LABEL_APP, LABEL_APP_DOWNLOAD, LABEL_CAPTURE_NAME, LABEL_CAPTURE_NODE } from '../model/constants.js';
import { captureTarballName, parseCaptureTimestamp } from '../model/naming.js';
import { httpStatus, listCaptureJobs } from './kube.js';

/** The image of the download pods (a busybox, as Retina uses): it only needs `sleep`, `wc` and `cat`. */
export const DOWNLOAD_IMAGE = 'mcr.microsoft.com/azurelinux/busybox:1.36';
/** Where the download pod mounts the node's root of captures: the host path below this prefix. */
export const DOWNLOAD_MOUNT_PREFIX = '/host';

/** Where a capture Job left its tarball: the node and the file's path on it. */
export interface NodeTarball {
  node: string;
  jobName: string;
  /** Directory on the node (the Job's host path). */
  hostPath: string;
  file: string;
}

/** Why a node download failed, for callers that answer differently (e.g. HTTP 404 vs 413 vs 504). */
export type CaptureDownloadFailure = 'not-found' | 'too-large' | 'timeout' | 'aborted' | 'failed';

export class CaptureDownloadError extends Error {
  override readonly name = 'CaptureDownloadError';
  constructor(
    message: string,
    readonly reason: CaptureDownloadFailure,
  ) {
    super(message);
  }
}

/** How one tarball is read off its node. */
export interface NodeDownloadOptions {
  /** Image of the download pod (default DOWNLOAD_IMAGE). */
  image?: string;
  /** How long the download pod may take to start (default 30 s, as Retina). */
  podReadyTimeoutMs?: number;
  /** Poll period while waiting for the download pod (default 500 ms). */
  pollIntervalMs?: number;
  /** Largest file read; a larger one fails with reason `too-large` before a byte is written. */
  maxBytes?: number;
  /** Stops the download (the pod is still deleted); the error has reason `aborted`, or `timeout` for a TimeoutError. */
  signal?: AbortSignal;
  /** Called with the file's size once it is known to be readable, before any data is written to the sink. */
  onSize?: (bytes: number) => void;
  /** Problems that do not fail the download (a download pod that could not be deleted). */
  warn?: (message: string) => void;
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
  if (jobs.length === 0) throw new CaptureDownloadError(`capture ${name} in namespace ${namespace} was not found`, 'not-found');
  const out: NodeTarball[] = [];
  for (const j of jobs) {
    const a = j.spec?.template.metadata?.annotations ?? {};
    const node = j.metadata?.labels?.[LABEL_CAPTURE_NODE];
    const hostPath = a[ANNOTATION_HOSTPATH];
    const ts = a[ANNOTATION_TIMESTAMP];
    if (!node || !hostPath || !ts) {
      throw new CaptureDownloadError(
        `job ${j.metadata?.name} of capture ${name} lacks the ${!node ? `label ${LABEL_CAPTURE_NODE}` : `annotation ${!hostPath ? ANNOTATION_HOSTPATH : ANNOTATION_TIMESTAMP}`}: it was not created by retina; download with --blob-url or --s3-bucket`,
        'not-found',
      );
    }
    out.push({ node, jobName: j.metadata!.name!, hostPath, file: captureTarballName(name, node, parseCaptureTimestamp(ts)) });
  }
  return out;
}

/** Waits `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

function stopped(signal: AbortSignal | undefined, what: string): CaptureDownloadError | undefined {
  if (!signal?.aborted) return undefined;
  const timedOut = (signal.reason as Error | undefined)?.name === 'TimeoutError';
  return new CaptureDownloadError(`${what} ${timedOut ? 'timed out' : 'was stopped'}`, timedOut ? 'timeout' : 'aborted');
}

async function waitRunning(core: CoreV1Api, namespace: string, pod: string, node: string, o: NodeDownloadOptions): Promise<void> {
  const timeout = o.podReadyTimeoutMs ?? 30_000;
  const deadline = Date.now() + timeout;
  for (;;) {
    const p = await core.readNamespacedPod({ namespace, name: pod });
    const phase = p.status?.phase;
    if (phase === 'Running') return;
    if (phase === 'Failed' || phase === 'Succeeded') {
      throw new CaptureDownloadError(
        `download pod ${namespace}/${pod} on node ${node} ended (${phase}) before the file could be read: ${p.status?.message ?? 'no message'}`,
        'failed',
      );
    }
    if (Date.now() > deadline) {
      const waiting = p.status?.containerStatuses?.[0]?.state?.waiting;
      throw new CaptureDownloadError(
        `download pod ${namespace}/${pod} on node ${node} did not start within ${timeout / 1000} s (phase ${phase ?? 'unknown'}${waiting?.reason ? `, ${waiting.reason}` : ''})`,
        'timeout',
      );
    }
    await pause(o.pollIntervalMs ?? 500, o.signal);
    const halted = stopped(o.signal, `waiting for download pod ${namespace}/${pod}`);
    if (halted) throw halted;
  }
}

/** The parts of the exec WebSocket used here (ws's pause/resume hold back the kubelet's data for a slow sink). */
interface ExecSocket {
  on(event: 'close', listener: () => void): unknown;
  close(): void;
  pause?(): void;
  resume?(): void;
}

/**
 * Runs `command` in the pod's container, writing its stdout to `stdout` (holding the connection back while
 * `stdout` is full) and ending it; resolves with the exit code (0 on success) and stderr.
 */
async function execIn(
  kc: KubeConfig,
  namespace: string,
  pod: string,
  command: string[],
  stdout: Writable,
  signal: AbortSignal | undefined,
): Promise<{ code: number; stderr: string }> {
  const stderr: Buffer[] = [];
  let stderrBytes = 0;
  const errStream = new PassThrough();
  // stderr is only for the error message: keep its first 4 KiB.
  errStream.on('data', (c: Buffer) => {
    if (stderrBytes < 4096) stderr.push(c);
    stderrBytes += c.length;
  });
  let ws: ExecSocket | undefined;
  let failed: Error | undefined;
  // client-node writes each frame without looking at write()'s result: pause the socket until the sink drains.
  const gate = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (!stdout.write(chunk) && ws?.pause) {
        ws.pause();
        stdout.once('drain', () => ws?.resume?.());
      }
      cb();
    },
  });
  stdout.once('error', (err: Error) => {
    failed = err;
    ws?.close();
  });
  const status = await new Promise<V1Status>((resolve, reject) => {
    const onAbort = (): void => ws?.close();
    signal?.addEventListener('abort', onAbort, { once: true });
    new Exec(kc)
      .exec(namespace, pod, 'download', command, gate, errStream, null, false, resolve)
      .then((socket) => {
        ws = socket as unknown as ExecSocket;
        if (signal?.aborted) ws.close();
        ws.on('close', () => {
          signal?.removeEventListener('abort', onAbort);
          resolve({ status: 'Failure', message: 'the exec connection closed without a status' });
        });
      })
      .catch((err: unknown) => {
        signal?.removeEventListener('abort', onAbort);
        reject(err instanceof Error ? err : new Error(`exec into ${namespace}/${pod} failed: ${JSON.stringify(err)}`));
      });
  });
  const halted = stopped(signal, `reading from ${namespace}/${pod}`);
  if (halted) throw halted;
  if (failed) throw new CaptureDownloadError(`writing the data of ${namespace}/${pod} failed: ${failed.message}`, 'failed');
  // The status can arrive while `stdout` still holds data it has not passed on: wait until it has.
  await new Promise<void>((resolve) => {
    stdout.once('close', resolve);
    stdout.end(resolve);
  });
  if (failed) throw new CaptureDownloadError(`writing the data of ${namespace}/${pod} failed: ${(failed as Error).message}`, 'failed');
  const text = Buffer.concat(stderr).toString();
  if (status.status === 'Success') return { code: 0, stderr: text };
  const exit = status.details?.causes?.find((c) => c.reason === 'ExitCode')?.message;
  return { code: exit ? Number(exit) : -1, stderr: text || (status.message ?? '') };
}

/**
 * Streams tarball `t` of capture `captureName` from its node into `sink` through a download pod in `namespace`,
 * and deletes the pod. Resolves with the number of bytes written (the file's size); `sink` is not ended. Errors
 * are CaptureDownloadErrors naming the node and the file, or the client's errors from the API server.
 */
export async function streamNodeTarball(
  kc: KubeConfig,
  namespace: string,
  captureName: string,
  t: NodeTarball,
  sink: Writable,
  o: NodeDownloadOptions = {},
): Promise<number> {
  const halted = stopped(o.signal, `the download of ${t.file}`);
  if (halted) throw halted;
  const core = kc.makeApiClient(CoreV1Api);
  const created = await core.createNamespacedPod({ namespace, body: downloadPodManifest(captureName, namespace, t, o.image) });
  const pod = created.metadata!.name!;
  const nodePath = posix.join(t.hostPath, t.file);
  try {
    await waitRunning(core, namespace, pod, t.node, o);
    const path = posix.join(DOWNLOAD_MOUNT_PREFIX, t.hostPath, t.file);
    const sizeOut: Buffer[] = [];
    const sized = await execIn(kc, namespace, pod, ['wc', '-c', path], new Writable({ write: (c: Buffer, _e, cb) => (sizeOut.push(c), cb()) }), o.signal);
    if (sized.code !== 0) {
      throw new CaptureDownloadError(`node ${t.node} has no readable ${nodePath} (the capture may still be running, or failed)`, 'not-found');
    }
    const size = Number(/^\s*(\d+)/.exec(Buffer.concat(sizeOut).toString())?.[1] ?? NaN);
    if (!Number.isSafeInteger(size)) {
      throw new CaptureDownloadError(`node ${t.node}: the size of ${nodePath} could not be read (wc printed ${JSON.stringify(Buffer.concat(sizeOut).toString().slice(0, 80))})`, 'failed');
    }
    if (o.maxBytes !== undefined && size > o.maxBytes) {
      throw new CaptureDownloadError(`${nodePath} on node ${t.node} is ${size} bytes, over the download limit of ${o.maxBytes} bytes`, 'too-large');
    }
    o.onSize?.(size);
    // The file is complete when the capture is done; a file that grows past its size is cut off there.
    let written = 0;
    const counted = new Writable({
      write(chunk: Buffer, _e, cb) {
        const keep = chunk.subarray(0, Math.max(0, size - written));
        written += keep.length;
        if (keep.length === 0) return cb();
        if (sink.write(keep)) return cb();
        sink.once('drain', () => cb());
      },
    });
    // The gate in execIn watches `counted`'s buffer: pass the sink's errors through to it.
    sink.once('error', (err) => counted.destroy(err));
    const read = await execIn(kc, namespace, pod, ['cat', path], counted, o.signal);
    if (read.code !== 0) {
      throw new CaptureDownloadError(`reading ${nodePath} on node ${t.node} failed (exit ${read.code}): ${read.stderr.trim()}`, 'failed');
    }
    if (written !== size) {
      throw new CaptureDownloadError(`reading ${nodePath} on node ${t.node} ended after ${written} of ${size} bytes`, 'failed');
    }
    return written;
  } finally {
    try {
      await core.deleteNamespacedPod({ namespace, name: pod, gracePeriodSeconds: 0 });
    } catch (err) {
      if (httpStatus(err) !== 404) o.warn?.(`could not delete download pod ${namespace}/${pod}: ${(err as Error).message}`);
    }
  }
}
