import { describe, expect, it, vi } from 'vitest';
import { FatalPluginError, PluginBase, type PluginContext } from '../src/index.js';
import { fakeContext } from './helpers.js';

/** A test plugin whose hooks are set per test. */
class TestPlugin extends PluginBase {
  constructor(
    readonly hooks: {
      init?: (self: TestPlugin, ctx: PluginContext) => unknown;
      start?: (self: TestPlugin, signal: AbortSignal) => unknown;
    } = {},
  ) {
    super();
  }
  protected override async onInit(ctx: PluginContext): Promise<void> {
    await this.hooks.init?.(this, ctx);
  }
  protected override async onStart(signal: AbortSignal): Promise<void> {
    await this.hooks.start?.(this, signal);
  }
  // Expose the protected API to the tests.
  callDefer(fn: () => unknown): void {
    this.defer(fn);
  }
  callEvery(ms: number, fn: () => unknown): () => void {
    return this.every(ms, fn);
  }
  callFail(err: unknown): void {
    this.fail(err);
  }
  get context(): PluginContext {
    return this.ctx;
  }
}

describe('PluginBase', () => {
  it('runs disposers once, newest first, even when some throw', async () => {
    const { ctx, lines } = fakeContext('t');
    const order: string[] = [];
    const p = new TestPlugin({
      init: (self) => {
        self.callDefer(() => order.push('map'));
        self.callDefer(() => {
          throw new Error('link already gone');
        });
        self.callDefer(async () => {
          order.push('reader');
        });
      },
    });
    await p.init(ctx);
    const first = p.stop();
    const second = p.stop();
    expect(second).toBe(first);
    await first;
    await p.stop();
    expect(order).toEqual(['reader', 'map']);
    expect(p.state).toBe('stopped');
    const err = lines.find((l) => l['msg'] === 'releasing a resource failed; continuing');
    expect(err).toMatchObject({ plugin: 't', level: 'error' });
    expect((err?.['err'] as { message: string }).message).toBe('link already gone');
  });

  it('stop is safe before init', async () => {
    const p = new TestPlugin();
    await p.stop();
    expect(p.state).toBe('stopped');
  });

  it('releases what init registered when init fails', async () => {
    const { ctx } = fakeContext('t');
    const released: string[] = [];
    const p = new TestPlugin({
      init: (self) => {
        self.callDefer(() => released.push('object'));
        throw new Error('verifier said no');
      },
    });
    await expect(p.init(ctx)).rejects.toThrow('verifier said no');
    expect(p.state).toBe('failed');
    await p.stop();
    expect(released).toEqual(['object']);
  });

  it('start resolves when the signal aborts', async () => {
    const { ctx } = fakeContext('t');
    const p = new TestPlugin();
    await p.init(ctx);
    const ac = new AbortController();
    const started = p.start(ac.signal);
    let done = false;
    void started.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    ac.abort();
    await started;
    await p.stop();
  });

  it('start resolves when stop() is called', async () => {
    const { ctx } = fakeContext('t');
    const p = new TestPlugin();
    await p.init(ctx);
    const started = p.start(new AbortController().signal);
    await p.stop();
    await expect(started).resolves.toBeUndefined();
  });

  it('start rejects when onStart rejects, or fail() is called from a callback', async () => {
    const { ctx } = fakeContext('t');
    const a = new TestPlugin({
      start: () => {
        throw new Error('attach failed');
      },
    });
    await a.init(ctx);
    await expect(a.start(new AbortController().signal)).rejects.toThrow('attach failed');

    const b = new TestPlugin();
    await b.init(fakeContext('t').ctx);
    const started = b.start(new AbortController().signal);
    setImmediate(() => b.callFail(new Error('ring buffer reader died')));
    await expect(started).rejects.toThrow('ring buffer reader died');
    await b.stop();
  });

  it('fail() before start makes start reject at once; after stop it is ignored', async () => {
    const { ctx } = fakeContext('t');
    const p = new TestPlugin();
    await p.init(ctx);
    p.callFail('early');
    await expect(p.start(new AbortController().signal)).rejects.toThrow('early');
    await p.stop();
    expect(() => p.callFail(new Error('late'))).not.toThrow();
  });

  it('refuses start before init and a second init', async () => {
    const p = new TestPlugin();
    await expect(p.start(new AbortController().signal)).rejects.toThrow('start() needs a successful init() first (state "created")');
    const { ctx } = fakeContext('t');
    await p.init(ctx);
    await expect(p.init(ctx)).rejects.toThrow('t: init() called in state "ready"; create a new instance for each run');
  });

  it('ctx is unavailable before init', () => {
    expect(() => new TestPlugin().context).toThrow('TestPlugin: ctx is available once init() has been called');
  });

  describe('every', () => {
    it('calls now, then after each interval, until stop', async () => {
      vi.useFakeTimers();
      try {
        const { ctx } = fakeContext('t');
        let calls = 0;
        const p = new TestPlugin({ init: (self) => void self.callEvery(1000, () => calls++) });
        await p.init(ctx);
        expect(calls).toBe(1);
        await vi.advanceTimersByTimeAsync(1000);
        expect(calls).toBe(2);
        await vi.advanceTimersByTimeAsync(3000);
        expect(calls).toBe(5);
        await p.stop();
        await vi.advanceTimersByTimeAsync(5000);
        expect(calls).toBe(5);
        expect(vi.getTimerCount()).toBe(0);
      } finally {
        vi.useRealTimers();
      }
    });

    it('logs and counts errors with the plugin name and keeps going', async () => {
      vi.useFakeTimers();
      try {
        const { ctx, lines, metrics } = fakeContext('linuxutil');
        let calls = 0;
        const p = new TestPlugin({
          init: (self) =>
            void self.callEvery(100, async () => {
              calls++;
              if (calls <= 2) throw new Error('/proc/net/snmp unreadable');
            }),
        });
        await p.init(ctx);
        await vi.advanceTimersByTimeAsync(300);
        expect(calls).toBe(4);
        expect(p.errorCount).toBe(2);
        const errors = lines.filter((l) => l['msg'] === 'periodic task failed; retrying in 100 ms');
        expect(errors).toHaveLength(2);
        expect(errors[0]).toMatchObject({ plugin: 'linuxutil', level: 'error' });
        const { body } = await metrics.expose();
        expect(body).toContain('controlplane_networkobservability_plugin_errors_total{plugin="linuxutil"} 2\n');
        await p.stop();
      } finally {
        vi.useRealTimers();
      }
    });

    it('a FatalPluginError ends the loop and rejects start', async () => {
      vi.useFakeTimers();
      try {
        const { ctx } = fakeContext('t');
        let calls = 0;
        const p = new TestPlugin({
          start: (self) =>
            void self.callEvery(100, () => {
              calls++;
              if (calls === 3) throw new FatalPluginError('map was unpinned');
            }),
        });
        await p.init(ctx);
        const started = p.start(new AbortController().signal);
        const settled = expect(started).rejects.toThrow(FatalPluginError);
        await vi.advanceTimersByTimeAsync(1000);
        await settled;
        expect(calls).toBe(3);
        await p.stop();
      } finally {
        vi.useRealTimers();
      }
    });

    it('rejects a non-positive interval', async () => {
      const { ctx } = fakeContext('t');
      const p = new TestPlugin({ init: (self) => void self.callEvery(0, () => {}) });
      await expect(p.init(ctx)).rejects.toThrow('t: every(ms) needs a positive interval, got 0');
    });
  });
});
