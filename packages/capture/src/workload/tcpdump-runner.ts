/**
 * Runs tcpdump for a capture and stops it on the first of: the duration, the size limit (non-rotating captures,
 * polled), an abort signal, or tcpdump exiting by itself. tcpdump takes one interface per process, so a capture
 * on several named interfaces runs one process per interface, each writing `<base>.<interface>.pcap`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@retina-ts/core';
import { tcpdumpArgs } from '../model/tcpdump.js';

/** What to capture. */
export interface TcpdumpRunOptions {
  /** Capture directory (exists); tcpdump.log goes here too. */
  dir: string;
  baseName: string;
  interfaces: readonly string[];
  packetSize?: number;
  flags?: readonly string[];
  filter?: string;
  durationMs?: number;
  maxSizeMB?: number;
  fileCount?: number;
  signal?: AbortSignal;
  logger: Logger;
  /** tcpdump binary (default `tcpdump` on PATH). */
  tcpdumpPath?: string;
  /** How often the non-rotating size limit is checked (default 5 s). */
  sizePollMs?: number;
  /** How long to wait for tcpdump to exit after SIGTERM before SIGKILL (default 10 s). */
  stopGraceMs?: number;
}

/** Why a capture ended. */
export type StopReason = 'duration' | 'max-size' | 'signal' | 'exited';

/** The outcome: pcap files written (full paths, sorted) and why it stopped. */
export interface TcpdumpRunResult {
  files: string[];
  stoppedBy: StopReason;
}

/** tcpdump could not start or failed, with its own words. */
export class TcpdumpError extends Error {
  override name = 'TcpdumpError';
}

const MIB = 1024 * 1024;

/** Compiles the filter with `tcpdump -d` so a typo fails with tcpdump's message before any capture starts. */
export function checkFilterSyntax(filter: string, iface: string, tcpdumpPath = 'tcpdump'): void {
  const r = spawnSync(tcpdumpPath, ['-d', '-i', iface, filter], { encoding: 'utf8', timeout: 30_000 });
  if (r.error) throw new TcpdumpError(`cannot run ${tcpdumpPath}: ${r.error.message}; install tcpdump (Debian: apt-get install tcpdump)`);
  if (r.status !== 0) {
    throw new TcpdumpError(`invalid pcap filter "${filter}": ${(r.stderr || r.stdout).trim()}`);
  }
}

interface Proc {
  iface: string;
  file: string;
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  ready: Promise<void>;
}

function startProcess(o: TcpdumpRunOptions, iface: string, file: string, log: WriteStream): Proc {
  const args = tcpdumpArgs({
    outputFile: file,
    interface: iface,
    packetSize: o.packetSize,
    flags: o.flags,
    rotateSizeMB: o.maxSizeMB,
    fileCount: o.fileCount,
    filter: o.filter,
  });
  o.logger.info({ command: ['tcpdump', ...args].join(' ') }, 'starting tcpdump');
  const child = spawn(o.tcpdumpPath ?? 'tcpdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderrTail = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.on('error', (err) =>
      reject(new TcpdumpError(`cannot run tcpdump: ${err.message}; install tcpdump (Debian: apt-get install tcpdump)`)),
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      log.write(chunk);
      stderrTail = (stderrTail + chunk.toString('utf8')).slice(-4096);
      // tcpdump says "listening on <if>" once the socket is open and the filter attached.
      if (stderrTail.includes('listening on')) resolve();
    });
    void exited.then(({ code, signal }) =>
      reject(new TcpdumpError(`tcpdump on ${iface} exited (${signal ?? `code ${code}`}) before it started: ${stderrTail.trim()}`)),
    );
  });
  child.stdout!.on('data', (chunk: Buffer) => log.write(chunk));
  return { iface, file, child, exited, ready };
}

/** Runs the capture to its end and returns the files written. */
export async function runTcpdump(o: TcpdumpRunOptions, onStarted?: () => void): Promise<TcpdumpRunResult> {
  const ifaces = o.interfaces.length > 0 ? [...new Set(o.interfaces)] : ['any'];
  if (o.filter) checkFilterSyntax(o.filter, ifaces[0]!, o.tcpdumpPath);
  const log = createWriteStream(join(o.dir, 'tcpdump.log'), { flags: 'a' });
  const procs: Proc[] = [];
  const stopAll = async (grace: number) => {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.all(
      procs.map(async (p) => {
        const t = setTimeout(() => p.child.kill('SIGKILL'), grace);
        await p.exited;
        clearTimeout(t);
      }),
    );
  };
  try {
    for (const iface of ifaces) {
      const file = join(o.dir, ifaces.length > 1 ? `${o.baseName}.${iface}.pcap` : `${o.baseName}.pcap`);
      procs.push(startProcess(o, iface, file, log));
    }
    try {
      await Promise.all(procs.map((p) => p.ready));
    } catch (err) {
      await stopAll(o.stopGraceMs ?? 10_000);
      throw err;
    }
    o.logger.info({ interfaces: ifaces, filter: o.filter ?? '' }, 'capture started');
    onStarted?.();

    const stoppedBy = await new Promise<StopReason>((resolve) => {
      const cleanups: (() => void)[] = [];
      const done = (reason: StopReason) => {
        for (const c of cleanups) c();
        resolve(reason);
      };
      if (o.durationMs && o.durationMs > 0) {
        const t = setTimeout(() => done('duration'), o.durationMs);
        cleanups.push(() => clearTimeout(t));
      }
      const rotating = (o.fileCount ?? 0) > 0;
      if (!rotating && o.maxSizeMB && o.maxSizeMB > 0) {
        const limit = o.maxSizeMB * MIB;
        const t = setInterval(() => {
          void Promise.all(procs.map((p) => stat(p.file).then((s) => s.size, () => 0))).then((sizes) => {
            if (sizes.some((s) => s > limit)) done('max-size');
          });
        }, o.sizePollMs ?? 5000);
        cleanups.push(() => clearInterval(t));
      }
      if (o.signal) {
        if (o.signal.aborted) return done('signal');
        const onAbort = () => done('signal');
        o.signal.addEventListener('abort', onAbort, { once: true });
        cleanups.push(() => o.signal!.removeEventListener('abort', onAbort));
      }
      for (const p of procs) void p.exited.then(() => done('exited'));
    });

    const unexpected: string[] = [];
    if (stoppedBy === 'exited') {
      for (const p of procs) {
        const r = p.child.exitCode;
        if (r !== null && r !== 0) unexpected.push(`tcpdump on ${p.iface} exited with code ${r}`);
      }
    }
    await stopAll(o.stopGraceMs ?? 10_000);
    o.logger.info({ stoppedBy }, 'capture stopped');
    if (unexpected.length > 0) throw new TcpdumpError(`${unexpected.join('; ')}; see tcpdump.log in the capture`);
    const files = (await readdir(o.dir))
      .filter((f) => f.startsWith(o.baseName) && /\.pcap\d*$/.test(f))
      .sort()
      .map((f) => join(o.dir, f));
    return { files, stoppedBy };
  } finally {
    await new Promise<void>((r) => log.end(r));
  }
}
