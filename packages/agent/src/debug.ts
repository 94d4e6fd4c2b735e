/**
 * Debug endpoints of the agent's listener (`enableDebugEndpoints: true`), so an operator can profile a live agent
 * the way Retina's users use pprof:
 *
 *   GET /debug/heap                 a V8 heap snapshot (`.heapsnapshot`, open in Chrome DevTools > Memory)
 *   GET /debug/profile?seconds=N    a CPU profile of N seconds (`.cpuprofile`, DevTools > Performance), 1 ≤ N ≤ 60
 *   GET /debug/vars                 event-loop delay, memory, plugin states and queue states, as JSON
 *
 * A heap snapshot or a profile is expensive, so one runs at a time: another request for either gets 409 until it
 * ends. Writing a heap snapshot stops the event loop while V8 walks the heap (seconds on a large heap).
 */
import { Session } from 'node:inspector/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { monitorEventLoopDelay, performance, type IntervalHistogram } from 'node:perf_hooks';
import { pipeline } from 'node:stream/promises';
import { getHeapSnapshot, getHeapStatistics } from 'node:v8';
import type { MetricsModule } from '@retina-ts/core';

/** Bounds of `seconds` for /debug/profile. */
export const PROFILE_SECONDS = { min: 1, max: 60, default: 10 } as const;

/** What the debug endpoints read from the running agent. */
export interface DebugSources {
  metrics: MetricsModule;
  /** The plugin table (already redacted by the caller when it is served elsewhere). */
  plugins(): unknown[];
  /** Queue states of the agent's own pipeline (e.g. the FlowBus), by name. */
  queues?(): Record<string, unknown>;
}

/** Parses `seconds` of /debug/profile; throws a message naming the value when it is not a whole number in range. */
export function profileSeconds(raw: string | null): number {
  if (raw === null || raw === '') return PROFILE_SECONDS.default;
  const n = /^\d{1,3}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(n) || n < PROFILE_SECONDS.min || n > PROFILE_SECONDS.max) {
    throw new RangeError(
      `seconds=${JSON.stringify(raw)} is not a whole number of seconds from ${PROFILE_SECONDS.min} to ${PROFILE_SECONDS.max}`,
    );
  }
  return n;
}

/** Sampling interval of the event-loop monitor, in ms. */
const LOOP_RESOLUTION_MS = 10;

/** How late a monitor tick ran, in ms: the histogram holds whole intervals between ticks, resolution included. */
const late = (ns: number): number => Math.max(0, Math.round((ns / 1e6 - LOOP_RESOLUTION_MS) * 100) / 100);

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function attachmentName(kind: string, ext: string): string {
  return `retina-agent-${kind}-${process.pid}-${new Date().toISOString().replace(/[:.]/g, '-')}.${ext}`;
}

/** The /debug/* routes; `close()` stops the event-loop monitor. */
export class DebugEndpoints {
  readonly #src: DebugSources;
  readonly #loop: IntervalHistogram;
  #elu = performance.eventLoopUtilization();
  /** What runs now (`heap` or `profile`), if anything. */
  #busy: string | undefined;

  constructor(src: DebugSources) {
    this.#src = src;
    this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.#loop.enable();
  }

  /** Handles `path` (a /debug/ path) and its query; answers 404 for an unknown one. */
  async handle(path: string, query: URLSearchParams, req: IncomingMessage, res: ServerResponse): Promise<void> {
    switch (path) {
      case '/debug/vars':
        return this.#vars(res);
      case '/debug/heap':
        return this.#exclusive('heap', res, () => this.#heap(req, res));
      case '/debug/profile': {
        let seconds: number;
        try {
          seconds = profileSeconds(query.get('seconds'));
        } catch (err) {
          return text(res, 400, `${(err as Error).message}\n`);
        }
        return this.#exclusive('profile', res, () => this.#profile(seconds, req, res));
      }
      default:
        return text(res, 404, 'not found: try /debug/vars, /debug/heap or /debug/profile?seconds=N\n');
    }
  }

  /** Stops the event-loop monitor. */
  close(): void {
    this.#loop.disable();
  }

  async #exclusive(kind: string, res: ServerResponse, run: () => Promise<void>): Promise<void> {
    if (this.#busy !== undefined) {
      return text(res, 409, `a ${this.#busy} is being taken; one heap snapshot or profile runs at a time, retry when it ends\n`);
    }
    this.#busy = kind;
    try {
      await run();
    } finally {
      this.#busy = undefined;
    }
  }

  async #heap(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-disposition': `attachment; filename="${attachmentName('heap', 'heapsnapshot')}"`,
    });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    // Streamed: a snapshot is several times the heap's size, too big to hold as one string.
    await pipeline(getHeapSnapshot(), res);
  }

  async #profile(seconds: number, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const session = new Session();
    session.connect();
    try {
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
      // A client that goes away ends the profile early and gets nothing.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, seconds * 1000);
        function done(): void {
          clearTimeout(timer);
          req.off('close', done);
          res.off('close', done);
          resolve();
        }
        req.once('close', done);
        res.once('close', done);
      });
      const { profile } = await session.post('Profiler.stop');
      if (res.destroyed) return;
      const body = JSON.stringify(profile);
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'content-disposition': `attachment; filename="${attachmentName('cpu', 'cpuprofile')}"`,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    } finally {
      session.disconnect();
    }
  }

  async #vars(res: ServerResponse): Promise<void> {
    const h = this.#loop;
    const elu = performance.eventLoopUtilization(this.#elu);
    this.#elu = performance.eventLoopUtilization();
    const lost = await this.#src.metrics.self.lostEventsCounter.get();
    const body = {
      pid: process.pid,
      uptimeSeconds: Math.round(process.uptime()),
      busy: this.#busy ?? null,
      // How late the loop ran its timers since the listener started (a reset would lose the tick in progress), and
      // how busy the loop was since the previous /debug/vars.
      eventLoop: {
        // null until the monitor has a sample (it samples every 10 ms).
        delayMs:
          h.count > 0
            ? {
                min: late(h.min),
                mean: late(h.mean),
                p50: late(h.percentile(50)),
                p99: late(h.percentile(99)),
                max: late(h.max),
              }
            : null,
        samples: h.count,
        utilization: Math.round(elu.utilization * 1000) / 1000,
      },
      memory: { ...process.memoryUsage(), heapSizeLimit: getHeapStatistics().heap_size_limit },
      plugins: this.#src.plugins(),
      queues: this.#src.queues?.() ?? {},
      // Events lost so far, by where (kernel ring full, a reader's queue to JavaScript full, ...) and by whom.
      lostEvents: lost.values.map((v) => ({ ...v.labels, count: v.value })),
    };
    const json = JSON.stringify(body, null, 2) + '\n';
    res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json) });
    res.end(json);
  }
}
