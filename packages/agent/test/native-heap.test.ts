import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '@retina-ts/core';
import { startNativeHeapTrim } from '../src/native-heap.js';

const logger = createLogger({ level: 'silent' });

describe('startNativeHeapTrim', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('trims once after the first delay, then at every interval, until stopped', async () => {
    const trim = vi.fn(() => true);
    const stop = startNativeHeapTrim({ logger, firstMs: 1_000, everyMs: 10_000, load: async () => trim });
    await vi.advanceTimersByTimeAsync(999);
    expect(trim).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(trim).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(trim).toHaveBeenCalledTimes(4);
    stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(trim).toHaveBeenCalledTimes(4);
  });

  it('gives up quietly where the call is unavailable', async () => {
    const load = vi.fn(async (): Promise<() => boolean> => {
      throw new Error('retina-ts/bpf-runtime: the native addon is not built for win32');
    });
    startNativeHeapTrim({ logger, firstMs: 10, everyMs: 10, load });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('does not trim when stopped while the call was loading', async () => {
    const trim = vi.fn(() => true);
    let release!: () => void;
    const loading = new Promise<void>((r) => (release = r));
    const stop = startNativeHeapTrim({ logger, firstMs: 10, load: async () => (await loading, trim) });
    await vi.advanceTimersByTimeAsync(10);
    stop();
    release();
    await vi.advanceTimersByTimeAsync(100_000);
    expect(trim).not.toHaveBeenCalled();
  });
});
