import { describe, expect, it } from 'vitest';
import { RequestTracker, exchangeKey } from '../src/correlate.js';

const MS = 1e6;

describe('RequestTracker', () => {
  it('matches a response to its request and returns the latency', () => {
    const t = new RequestTracker(1000 * MS, 10);
    t.request('x', 10 * MS);
    expect(t.response('x', 13 * MS)).toBe(3 * MS);
    expect(t.response('x', 14 * MS)).toBeUndefined();
    expect(t.stats()).toEqual({ matched: 1, unmatched: 1, expired: 0 });
  });

  it('measures a retransmitted request from its first sighting', () => {
    const t = new RequestTracker(1000 * MS, 10);
    t.request('x', 10 * MS);
    t.request('x', 400 * MS);
    expect(t.response('x', 410 * MS)).toBe(400 * MS);
  });

  it('expires requests older than the timeout', () => {
    const t = new RequestTracker(100 * MS, 10);
    t.request('old', 0);
    t.request('new', 150 * MS);
    expect(t.size).toBe(1);
    expect(t.response('old', 160 * MS)).toBeUndefined();
    expect(t.stats().expired).toBe(1);
  });

  it('forgets the oldest request when full', () => {
    const t = new RequestTracker(1000 * MS, 2);
    t.request('a', 1);
    t.request('b', 2);
    t.request('c', 3);
    expect([t.size, t.stats().expired]).toEqual([2, 1]);
    expect(t.response('a', 4)).toBeUndefined();
    expect(t.response('c', 5)).toBe(2);
  });

  it('ignores a response stamped before its request', () => {
    const t = new RequestTracker(1000 * MS, 2);
    t.request('a', 10);
    expect(t.response('a', 5)).toBeUndefined();
  });
});

describe('exchangeKey', () => {
  it('matches a request key built from the source side with a response key built from the destination side', () => {
    const req = { src: '10.0.0.2', sport: 40000, dst: '10.0.0.53', dport: 53 };
    const resp = { src: '10.0.0.53', sport: 53, dst: '10.0.0.2', dport: 40000 };
    expect(exchangeKey(17, req.src, req.sport, req.dst, req.dport, 7)).toBe(
      exchangeKey(17, resp.dst, resp.dport, resp.src, resp.sport, 7),
    );
    expect(exchangeKey(17, req.src, req.sport, req.dst, req.dport, 7)).not.toBe(
      exchangeKey(6, req.src, req.sport, req.dst, req.dport, 7),
    );
  });
});
