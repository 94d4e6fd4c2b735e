/**
 * Fuzzing the decode path: random bytes and mutated valid records go through the processor. Nothing may throw,
 * every record must be accounted for exactly once (request, response or parse error), and the label
 * caps must hold whatever the input.
 */
import { describe, expect, it } from 'vitest';
import { createMetricsModule } from '@retina-ts/core';
import { DNS_EVENT_HEADER_SIZE } from '../src/decode.js';
import { dnsMetrics } from '../src/metrics.js';
import { DnsEventProcessor } from '../src/processor.js';
import { a, aaaa, batch, cname, query, record, response } from './packets.js';
import { REQUESTS, RESPONSES } from './helpers.js';

/** A small seeded PRNG (mulberry32), so a failure reproduces with the printed seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS = [1, 2, 3, 0xdecafbad];
const PER_SEED = 3000;

function seeds(): Buffer[] {
  return [
    query('example.com'),
    query('www.a-very-long-label-for-testing-purposes.example.org', 'AAAA', 99),
    response('www.example.com', 'A', [
      cname('www.example.com', 'edge.example.net'),
      a('edge.example.net', '192.0.2.7'),
    ]),
    response('v6.example', 'AAAA', [aaaa('v6.example', '2001:db8::1'), aaaa('v6.example', '2001:db8::2')]),
    response('nx.example', 'A', [], { rcode: 3 }),
  ];
}

/** One mutation of a valid DNS message. */
function mutate(msg: Buffer, rnd: () => number): Buffer {
  const out = Buffer.from(msg);
  const pick = (n: number) => Math.floor(rnd() * n);
  switch (pick(7)) {
    case 0: // flip random bytes
      for (let i = 0, n = 1 + pick(6); i < n; i++) out[pick(out.length)] = pick(256);
      return out;
    case 1: // cut short
      return out.subarray(0, pick(out.length));
    case 2: // point a name somewhere, possibly at itself or forward
      if (out.length > 14) {
        const at = 12 + pick(out.length - 13);
        out[at] = 0xc0 | pick(4);
        out[at + 1] = pick(out.length + 16);
      }
      return out;
    case 3: // absurd section counts
      out.writeUInt16BE(pick(65536), 4 + 2 * pick(4));
      return out;
    case 4: // grow with garbage (an oversized message)
      return Buffer.concat([out, Buffer.from(Array.from({ length: pick(3000) }, () => pick(256)))]);
    case 5: // a label length byte that runs past the end
      if (out.length > 13) out[12] = 63;
      return out;
    default: // a record data length that lies
      if (out.length > 4) out.writeUInt16BE(pick(65536), out.length - 2 - 2 * pick(2));
      return out;
  }
}

describe('decode path fuzzing', () => {
  for (const seed of SEEDS) {
    it(`survives random and mutated packets (seed ${seed})`, async () => {
      const rnd = prng(seed);
      const metrics = createMetricsModule();
      let emitted = 0;
      const processor = new DnsEventProcessor(
        {
          maxQueries: 50,
          maxQueryTypes: 20,
          maxResponses: 50,
          queryTrailingDot: false,
          requestTimeoutMs: 1000,
          maxPendingRequests: 100,
        },
        { metrics: dnsMetrics(metrics), emit: () => (emitted++, true), nodeName: 'n', monoToEpochNs: 0n },
      );
      const base = seeds();
      const records: Buffer[] = [];
      for (let i = 0; i < PER_SEED; i++) {
        const kind = rnd();
        const ts = BigInt(i) * 10_000_000n;
        if (kind < 0.15) {
          // random bytes where a whole record should be (header included)
          records.push(
            Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256))),
          );
        } else if (kind < 0.3) {
          // a valid header over random message bytes
          const junk = Buffer.from(
            Array.from({ length: 12 + Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256)),
          );
          records.push(record(junk, { tsNs: ts }));
        } else {
          const msg = mutate(base[Math.floor(rnd() * base.length)] as Buffer, rnd);
          const capLen = Math.min(
            msg.length,
            2048,
            Math.floor(rnd() * 2) ? msg.length : Math.floor(rnd() * (msg.length + 1)),
          );
          records.push(
            record(msg, {
              tsNs: ts,
              capLen,
              msgLen: Math.min(msg.length, 65535),
              sourcePort: 1000 + (i % 5000),
            }),
          );
        }
        if (records.length === 256 || i === PER_SEED - 1) {
          expect(() => processor.processBatch(batch(records))).not.toThrow();
          records.length = 0;
        }
      }
      const s = processor.stats();
      const errors = Object.values(s.parseErrors).reduce((x, y) => x + y, 0);
      expect(s.records).toBe(PER_SEED);
      expect(s.requests + s.responses + errors).toBe(PER_SEED);
      expect(emitted).toBe(s.requests + s.responses);
      expect(errors).toBeGreaterThan(0);
      expect(s.requests + s.responses).toBeGreaterThan(0);

      const queries = new Set<string>();
      const queryTypes = new Set<string>();
      const responses = new Set<string>();
      for (const name of [REQUESTS, RESPONSES]) {
        const data = await metrics.registry.getSingleMetric(name)!.get();
        for (const v of data.values) {
          queries.add(String(v.labels.query));
          queryTypes.add(String(v.labels.query_type));
          if (v.labels.response !== undefined) responses.add(String(v.labels.response));
        }
      }
      expect(queries.size).toBeLessThanOrEqual(51); // 50 kept names plus `other`
      expect(responses.size).toBeLessThanOrEqual(51);
      expect(queryTypes.size).toBeLessThanOrEqual(21);
    });
  }

  it('never reads beyond its own record in a shared batch buffer', () => {
    // Two records back to back; the first claims more captured bytes than it carries.
    const first = record(query('one.example'));
    first.writeUInt16LE(first.length, 54);
    const second = record(query('two.example'));
    const metrics = createMetricsModule();
    const processor = new DnsEventProcessor(
      {
        maxQueries: 10,
        maxQueryTypes: 10,
        maxResponses: 10,
        queryTrailingDot: false,
        requestTimeoutMs: 1000,
        maxPendingRequests: 10,
      },
      { metrics: dnsMetrics(metrics), nodeName: 'n', monoToEpochNs: 0n },
    );
    processor.processBatch(batch([first, second]));
    expect(processor.stats()).toMatchObject({ requests: 1, parseErrors: { record: 1 } });
    expect(first.length).toBeGreaterThan(DNS_EVENT_HEADER_SIZE);
  });
});
