import { describe, expect, it } from 'vitest';
import { Backoff } from '../src/index.js';

describe('Backoff', () => {
  it('grows by the factor up to the cap and starts over after reset', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, factor: 2, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('removes up to the jitter fraction at random', () => {
    expect(new Backoff({ initialMs: 1000, jitter: 0.2 }, () => 1).next()).toBe(800);
    expect(new Backoff({ initialMs: 1000, jitter: 0.2 }, () => 0).next()).toBe(1000);
  });

  it('refuses settings that make no sense, naming them', () => {
    expect(() => new Backoff({ initialMs: 0 })).toThrow(/initialMs/);
    expect(() => new Backoff({ initialMs: 10, maxMs: 5 })).toThrow(/maxMs/);
    expect(() => new Backoff({ jitter: 2 })).toThrow(/jitter/);
  });
});
