/**
 * PluginBase.readEvents with a scripted reader and a fake clock: start/stop with the plugin, reader failure → fail
 * → restart by the manager, loss deltas with one label scheme, malformed counting and the clock offset refresh.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  definePlugin,
  epochOffsetNs,
  PluginBase,
  type EventClock,
  type EventClockSource,
  type EventReaderHandlers,
  type EventStream,
  type MetricsModule,
  type PluginContext,
} from '../src/index.js';
import { fakeContext, testManager } from './helpers.js';

interface Batch {
  count: number;
  values: number[];
}

/** A reader whose batches, drops and failure the test drives. */
class ScriptedReader {
  started = 0;
  stopped = 0;
  dropped = 0;
  constructor(readonly handlers: EventReaderHandlers<Batch>) {}
  start(): this {
    this.started++;
    return this;
  }
  stop(): void {
    this.stopped++;
  }
  stats(): { dropped: number } {
    return { dropped: this.dropped };
  }
  deliver(...values: number[]): void {
    this.handlers.onBatch({ count: values.length, values });
  }
}

/** A clock whose wall and monotonic readings the test sets. */
class FakeClock implements EventClockSource {
  wallMs = 1_700_000_000_000;
  monoNs = 5_000_000_000n;
  epochMs(): number {
    return this.wallMs;
  }
  monotonicNs(): bigint {
    return this.monoNs;
  }
}

/** Reads events from a ScriptedReader; negative values are malformed, 99 throws, the rest become "times". */
class ReadingPlugin extends PluginBase {
  readonly readers: ScriptedReader[] = [];
  readonly times: bigint[] = [];
  stream: EventStream<ScriptedReader> | undefined;
  kernelLost: number | bigint = 0;
  constructor(
    readonly clock = new FakeClock(),
    readonly withSource = true,
  ) {
    super();
  }
  protected override onInit(): void {}
  protected override onStart(): void {
    this.stream = this.readEvents(
      this.withSource
        ? (h: EventReaderHandlers<Batch>) => {
            const r = new ScriptedReader(h);
            this.readers.push(r);
            return r;
          }
        : undefined,
      (batch: Batch, clock: EventClock) => {
        let bad = 0;
        for (const v of batch.values) {
          if (v === 99) throw new Error('decoder bug');
          if (v < 0) bad++;
          else this.times.push(BigInt(v) + clock.epochOffsetNs);
        }
        return bad;
      },
      { kernelLost: () => this.kernelLost, clock: this.clock, intervalMs: 60_000 },
    );
  }
}

async function lost(metrics: MetricsModule): Promise<string[]> {
  const { values } = await metrics.self.lostEventsCounter.get();
  return values.map((v) => `${v.labels.type}/${v.labels.reason}=${v.value}`).sort();
}

async function started(plugin: ReadingPlugin, name = 'reading') {
  const fake = fakeContext(name);
  await plugin.init(fake.ctx as PluginContext);
  const abort = new AbortController();
  const running = plugin.start(abort.signal);
  // onStart runs on a microtask after start().
  await Promise.resolve();
  await Promise.resolve();
  return { ...fake, running, abort };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('readEvents', () => {
  it('starts the reader with the plugin and stops it, once, at stop', async () => {
    const plugin = new ReadingPlugin();
    const { running } = await started(plugin);
    const reader = plugin.readers[0]!;
    expect(reader.started).toBe(1);
    expect(reader.stopped).toBe(0);
    // Batches are decoded synchronously: a ring buffer may be read in place.
    expect(reader.handlers.mode).toBe('inline');
    await plugin.stop();
    await running;
    expect(reader.stopped).toBe(1);
    // Batches the native side still delivers after stop are not decoded.
    reader.deliver(1);
    expect(plugin.times).toEqual([]);
  });

  it('adds kernel and reader loss growth with type and the plugin name, never twice', async () => {
    const plugin = new ReadingPlugin();
    const { metrics, running } = await started(plugin, 'acme-probe');
    const reader = plugin.readers[0]!;
    plugin.kernelLost = 3n;
    reader.dropped = 2;
    plugin.stream!.account();
    plugin.stream!.account();
    plugin.kernelLost = 7n;
    reader.dropped = 2;
    plugin.stream!.account();
    // A counter that goes back (a map re-created) is not counted again until it passes its old value.
    plugin.kernelLost = 1n;
    plugin.stream!.account();
    expect(await lost(metrics)).toEqual(['buffered_channel/acme-probe=2', 'kernel/acme-probe=7']);
    expect(plugin.stream!.lost).toEqual({ kernel: 7, reader: 2, malformed: 0 });
    // What the reader dropped while stopping is counted at stop.
    reader.dropped = 5;
    await plugin.stop();
    await running;
    expect(await lost(metrics)).toEqual(['buffered_channel/acme-probe=5', 'kernel/acme-probe=7']);
  });

  it('counts malformed records, and a batch whose decoding throws, as parser losses', async () => {
    const plugin = new ReadingPlugin();
    const { metrics, lines, running } = await started(plugin, 'acme-probe');
    const reader = plugin.readers[0]!;
    reader.deliver(1, -1, 2, -5);
    reader.deliver(4, 99, 6);
    expect(plugin.times).toHaveLength(3);
    expect(await lost(metrics)).toEqual(['parser/acme-probe=5']);
    expect(plugin.errorCount).toBe(1);
    expect(lines.some((l) => l['msg'] === 'decoding a batch of kernel events failed; its records are counted as lost')).toBe(
      true,
    );
    await plugin.stop();
    await running;
  });

  it('measures the clock offset again at each accounting, so event times follow a wall-clock step', async () => {
    const clock = new FakeClock();
    const plugin = new ReadingPlugin(clock);
    const { running } = await started(plugin);
    const reader = plugin.readers[0]!;
    // An event stamped at the current monotonic time is "now" on the wall clock.
    reader.deliver(Number(clock.monoNs));
    expect(plugin.times[0]).toBe(BigInt(clock.wallMs) * 1_000_000n);
    // The wall clock is stepped back one hour while the monotonic clock moves on 1 s.
    clock.wallMs -= 3_600_000 - 1000;
    clock.monoNs += 1_000_000_000n;
    reader.deliver(Number(clock.monoNs));
    expect(plugin.times[1]).toBe(plugin.times[0]! + 1_000_000_000n);
    plugin.stream!.account();
    reader.deliver(Number(clock.monoNs));
    expect(plugin.times[2]).toBe(BigInt(clock.wallMs) * 1_000_000n);
    await plugin.stop();
    await running;
  });

  it('refreshes the clock and accounts losses on its interval until stop', async () => {
    vi.useFakeTimers();
    const clock = new FakeClock();
    const plugin = new ReadingPlugin(clock);
    const { metrics, running } = await started(plugin);
    plugin.kernelLost = 4;
    clock.wallMs += 10_000;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(await lost(metrics)).toEqual(['kernel/reading=4']);
    expect(plugin.stream!.epochOffsetNs).toBe(epochOffsetNs(clock));
    await plugin.stop();
    await running;
    plugin.kernelLost = 9;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(await lost(metrics)).toEqual(['kernel/reading=4']);
  });

  it('follows only the kernel loss counter without a source', async () => {
    const plugin = new ReadingPlugin(new FakeClock(), false);
    const { metrics, running } = await started(plugin);
    expect(plugin.stream!.reader).toBeUndefined();
    plugin.kernelLost = 2;
    plugin.stream!.account();
    expect(await lost(metrics)).toEqual(['kernel/reading=2']);
    await plugin.stop();
    await running;
  });

  it('keeps fractions of a millisecond in the offset', () => {
    expect(epochOffsetNs({ epochMs: () => 1000.25, monotonicNs: () => 1n })).toBe(1_000_250_000n - 1n);
    // 1.7e18 ns is past 2^53: the whole milliseconds must not go through a double.
    const clock = { epochMs: () => 1_700_000_000_123.25, monotonicNs: () => 5_000_000_000n };
    expect(epochOffsetNs(clock)).toBe(1_700_000_000_123_250_000n - 5_000_000_000n);
  });
});

describe('readEvents reader failure', () => {
  it('fails the plugin, and the manager restarts it with a fresh reader', async () => {
    const { manager } = testManager();
    const instances: ReadingPlugin[] = [];
    manager.add(
      definePlugin({
        name: 'reading',
        version: '1.0.0',
        platforms: ['linux'],
        create: () => {
          const p = new ReadingPlugin();
          instances.push(p);
          return p;
        },
      }),
    );
    try {
      await manager.start();
      await vi.waitFor(() => expect(instances[0]?.readers).toHaveLength(1));
      const first = instances[0]!;
      first.readers[0]!.handlers.onError(new Error("ring buffer reader for 'events' failed: EBADF"));
      await vi.waitFor(() => expect(instances).toHaveLength(2));
      await vi.waitFor(() => expect(manager.status()[0]?.state).toBe('running'));
      expect(first.readers[0]!.stopped).toBe(1);
      expect(instances[1]!.readers[0]!.started).toBe(1);
      expect(manager.status()[0]).toMatchObject({
        restarts: 1,
        lastError: "start: ring buffer reader for 'events' failed: EBADF",
      });
    } finally {
      await manager.stop({ deadlineMs: 1000 });
    }
  });
});
