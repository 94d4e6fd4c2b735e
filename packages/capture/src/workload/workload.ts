/**
 * One node's capture from start to artifact: tcpdump until a stop condition, metadata, the tarball, then every
 * configured output with retries. The capture directory is removed once packed; the tarball is removed only when
 * every output succeeded, so a failed upload always leaves the local file for a retry by hand.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@retina-ts/core';
import { captureBaseName } from '../model/naming.js';
import { copyToDirectory } from '../outputs/directory.js';
import { uploadToBlob, type BlobUploadOptions } from '../outputs/blob.js';
import { withRetry, type RetryOptions } from '../outputs/retry.js';
import { uploadToS3 } from '../outputs/s3.js';
import { describeOutputs, type WorkloadConfig } from './config.js';
import { collectMetadata } from './metadata.js';
import { runTcpdump, type StopReason } from './tcpdump-runner.js';
import { packCaptureDirectory } from './tarball.js';

/** Output kinds, as named in reports. */
export type OutputKind = 'hostPath' | 'pvc' | 'blob' | 's3';

/** Where an output put the tarball (a path or URL without credentials). */
export interface OutputResult {
  output: OutputKind;
  location: string;
}

/** An output that failed after all retries. */
export interface OutputFailure {
  output: OutputKind;
  error: string;
}

/** What a run produced. */
export interface WorkloadResult {
  baseName: string;
  /** The local tarball; removed (and undefined) when every output succeeded. */
  localTarball?: string;
  pcapFiles: string[];
  stoppedBy: StopReason;
  artifacts: OutputResult[];
  failures: OutputFailure[];
}

/** Dependencies and knobs of runCaptureWorkload. */
export interface WorkloadOptions {
  logger: Logger;
  /** Aborting stops the capture early; packing and outputs still happen. */
  signal?: AbortSignal;
  tcpdumpPath?: string;
  sizePollMs?: number;
  retry?: RetryOptions;
  blob?: BlobUploadOptions;
  /** Called once tcpdump listens (tests start their traffic then). */
  onCaptureStarted?: () => void;
  /** Keep the local tarball even when outputs succeeded. */
  keepLocalTarball?: boolean;
}

/** Runs the capture workload once. Throws when the capture itself fails; output failures are in the result. */
export async function runCaptureWorkload(config: WorkloadConfig, o: WorkloadOptions): Promise<WorkloadResult> {
  const log = o.logger.child({ capture: config.captureName, node: config.nodeName });
  const baseName = captureBaseName(config.captureName, config.nodeName, config.startTime);
  const dir = join(config.workDir, baseName);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  log.info(
    {
      durationMs: config.durationMs ?? 0,
      maxSizeMB: config.maxSizeMB ?? 0,
      fileCount: config.fileCount ?? 0,
      packetSize: config.packetSize ?? 0,
      interfaces: config.interfaces,
      includeMetadata: config.includeMetadata,
      outputs: describeOutputs(config.outputs),
    },
    'capture configured',
  );
  let tarball: string;
  let run;
  try {
    run = await runTcpdump(
      {
        dir,
        baseName,
        interfaces: config.interfaces,
        packetSize: config.packetSize,
        flags: config.tcpdumpFlags,
        filter: config.filter,
        durationMs: config.durationMs,
        maxSizeMB: config.maxSizeMB,
        fileCount: config.fileCount,
        signal: o.signal,
        logger: log,
        tcpdumpPath: o.tcpdumpPath,
        sizePollMs: o.sizePollMs,
      },
      o.onCaptureStarted,
    );
    if (config.includeMetadata) await collectMetadata(dir, { logger: log });
    tarball = await packCaptureDirectory(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  log.info({ tarball, pcapFiles: run.files.length }, 'capture packed');

  const artifacts: OutputResult[] = [];
  const failures: OutputFailure[] = [];
  const attempt = async (output: OutputKind, fn: () => Promise<string>, retried: boolean) => {
    try {
      const location = retried ? await withRetry(output, fn, log, o.retry) : await fn();
      artifacts.push({ output, location });
      log.info({ output, location }, 'capture stored');
    } catch (err) {
      failures.push({ output, error: (err as Error).message });
      log.error({ output, error: (err as Error).message }, 'capture output failed');
    }
  };
  const out = config.outputs;
  if (out.hostPath) await attempt('hostPath', () => copyToDirectory(tarball, out.hostPath!), false);
  if (out.pvcDir) await attempt('pvc', () => copyToDirectory(tarball, out.pvcDir!), false);
  if (out.blobSasUrl) await attempt('blob', () => uploadToBlob(tarball, out.blobSasUrl!, o.blob), true);
  if (out.s3) await attempt('s3', () => uploadToS3(tarball, out.s3!), true);

  const anyOutput = artifacts.length + failures.length > 0;
  let localTarball: string | undefined = tarball;
  if (anyOutput && failures.length === 0 && !o.keepLocalTarball) {
    await rm(tarball, { force: true });
    localTarball = undefined;
  } else if (failures.length > 0) {
    log.warn({ tarball }, 'the local tarball is kept because an output failed');
  }
  return {
    baseName,
    ...(localTarball ? { localTarball } : {}),
    pcapFiles: run.files.map((f) => f.slice(dir.length + 1)),
    stoppedBy: run.stoppedBy,
    artifacts,
    failures,
  };
}
