import { describe, expect, it } from 'vitest';
import {
  CiliumEventType,
  FlowType,
  IpVersion,
  L7FlowType,
  TraceObservationPoint,
  TrafficDirection,
  Verdict,
  createMetricsModule,
  type Flow,
  type MetricsModule,
} from '@retina-ts/core';
import { dnsMetrics } from '../src/metrics.js';
import { DnsEventProcessor, type DnsProcessorOptions } from '../src/processor.js';
import { a, aaaa, batch, cname, query, record, response } from './packets.js';
import {
  LATENCY,
  LOST,
  PARSE_ERRORS,
  REQUESTS,
  RESPONSES,
  histogramCount,
  requestCount,
  responseCount,
  series,
} from './helpers.js';

const OPTIONS: DnsProcessorOptions = {
  maxQueries: 500,
  maxQueryTypes: 64,
  maxResponses: 1000,
  queryTrailingDot: false,
  requestTimeoutMs: 10_000,
  maxPendingRequests: 1000,
};

const MS = 1_000_000n;

function setup(options: Partial<DnsProcessorOptions> = {}, withFlows = true) {
  const metrics = createMetricsModule();
  const flows: Flow[] = [];
  const processor = new DnsEventProcessor(
    { ...OPTIONS, ...options },
    {
      metrics: dnsMetrics(metrics),
      ...(withFlows ? { emit: (f: Flow) => (flows.push(f), true) } : {}),
      nodeName: 'node-1',
      monoToEpochNs: 1_700_000_000_000_000_000n,
      interfaceName: (i) => (i === 7 ? 'veth7' : undefined),
    },
  );
  return { metrics, flows, processor };
}

/** A query from 10.1.0.2:40000 to 10.1.0.53:53 at `at` ms, and its answer `after` ms later. */
function exchange(
  name: string,
  type: 'A' | 'AAAA',
  answers: Parameters<typeof response>[2],
  opts: { id: number; at: bigint; after: bigint; rcode?: number; port?: number },
) {
  const port = opts.port ?? 40000;
  return [
    record(query(name, type, opts.id), { tsNs: opts.at * MS, sourcePort: port }),
    record(response(name, type, answers, { id: opts.id, rcode: opts.rcode ?? 0 }), {
      tsNs: (opts.at + opts.after) * MS,
      source: '10.1.0.53',
      destination: '10.1.0.2',
      sourcePort: 53,
      destinationPort: port,
    }),
  ];
}

async function dnsText(metrics: MetricsModule): Promise<string[]> {
  return [...(await series(metrics, REQUESTS)), ...(await series(metrics, RESPONSES))].map(
    ([k, v]) => `${k} ${v}`,
  );
}

describe('DnsEventProcessor', () => {
  it('counts requests and responses with Retina label values', async () => {
    const { metrics, processor } = setup();
    processor.processBatch(
      batch([
        ...exchange('Example.COM', 'A', [a('example.com', '192.0.2.1')], { id: 1, at: 100n, after: 3n }),
        ...exchange(
          'multi.example',
          'A',
          [
            a('multi.example', '192.0.2.12'),
            a('multi.example', '192.0.2.11'),
            a('multi.example', '192.0.2.13'),
          ],
          { id: 2, at: 200n, after: 1n, port: 40001 },
        ),
        ...exchange('nope.example', 'AAAA', [], { id: 3, at: 300n, after: 1n, rcode: 3, port: 40002 }),
        ...exchange('fail.example', 'A', [], { id: 4, at: 400n, after: 2n, rcode: 2, port: 40003 }),
        ...exchange('v6.example', 'AAAA', [aaaa('v6.example', '2001:db8::5')], {
          id: 5,
          at: 500n,
          after: 1n,
          port: 40004,
        }),
      ]),
    );
    expect(await dnsText(metrics)).toEqual([
      `${REQUESTS}{query_type=A,query=example.com} 1`,
      `${REQUESTS}{query_type=A,query=multi.example} 1`,
      `${REQUESTS}{query_type=AAAA,query=nope.example} 1`,
      `${REQUESTS}{query_type=A,query=fail.example} 1`,
      `${REQUESTS}{query_type=AAAA,query=v6.example} 1`,
      `${RESPONSES}{query_type=A,query=example.com,return_code=NOERROR,response=192.0.2.1,num_response=1} 1`,
      `${RESPONSES}{query_type=A,query=multi.example,return_code=NOERROR,response=192.0.2.11,192.0.2.12,192.0.2.13,num_response=3} 1`,
      `${RESPONSES}{query_type=AAAA,query=nope.example,return_code=NXDOMAIN,response=,num_response=0} 1`,
      `${RESPONSES}{query_type=A,query=fail.example,return_code=SERVFAIL,response=,num_response=0} 1`,
      `${RESPONSES}{query_type=AAAA,query=v6.example,return_code=NOERROR,response=2001:db8::5,num_response=1} 1`,
    ]);
    expect(processor.stats()).toMatchObject({ records: 10, requests: 5, responses: 5 });
  });

  it('adds up repeated exchanges in one series', async () => {
    const { metrics, processor } = setup();
    const records = [];
    for (let i = 0; i < 7; i++)
      records.push(
        ...exchange('same.example', 'A', [a('same.example', '192.0.2.1')], {
          id: i,
          at: BigInt(i) * 1000n,
          after: 1n,
        }),
      );
    processor.processBatch(batch(records));
    expect(await requestCount(metrics, 'A', 'same.example')).toBe(7);
    expect(await responseCount(metrics, 'A', 'same.example', 'NOERROR', ['192.0.2.1'])).toBe(7);
  });

  it('publishes counts on flush, once per batch', async () => {
    const { metrics, processor } = setup();
    const [q] = exchange('late.example', 'A', [], { id: 1, at: 1n, after: 1n });
    processor.processRecord(q as Buffer, 0, (q as Buffer).length);
    expect(await requestCount(metrics, 'A', 'late.example')).toBe(0);
    processor.flush();
    expect(await requestCount(metrics, 'A', 'late.example')).toBe(1);
  });

  it('observes the latency of each matched response, by query type and return code', async () => {
    const { metrics, processor } = setup();
    processor.processBatch(
      batch([
        ...exchange('a.example', 'A', [a('a.example', '192.0.2.1')], { id: 1, at: 100n, after: 3n }),
        ...exchange('b.example', 'A', [a('b.example', '192.0.2.2')], {
          id: 2,
          at: 100n,
          after: 40n,
          port: 40001,
        }),
        ...exchange('n.example', 'A', [], { id: 3, at: 100n, after: 1n, rcode: 3, port: 40002 }),
      ]),
    );
    expect(await histogramCount(metrics, LATENCY, { query_type: 'A', return_code: 'NOERROR' })).toBe(2);
    expect(await histogramCount(metrics, LATENCY, { query_type: 'A', return_code: 'NXDOMAIN' })).toBe(1);
    const all = await series(metrics, LATENCY);
    expect(all.get(`${LATENCY}_sum{query_type=A,return_code=NOERROR}`)).toBeCloseTo(0.043, 9);
    expect(all.get(`${LATENCY}_bucket{le=0.005,query_type=A,return_code=NOERROR}`)).toBe(1);
    expect(all.get(`${LATENCY}_bucket{le=0.05,query_type=A,return_code=NOERROR}`)).toBe(2);
    expect(processor.stats().latency).toEqual({ matched: 3, unmatched: 0, expired: 0 });
  });

  it('does not match a response to a request with another id or port', async () => {
    const { metrics, processor } = setup();
    const [q] = exchange('x.example', 'A', [], { id: 1, at: 1n, after: 1n });
    const [, wrongId] = exchange('x.example', 'A', [], { id: 2, at: 1n, after: 1n });
    const [, wrongPort] = exchange('x.example', 'A', [], { id: 1, at: 1n, after: 1n, port: 41000 });
    processor.processBatch(batch([q as Buffer, wrongId as Buffer, wrongPort as Buffer]));
    expect(await histogramCount(metrics, LATENCY, { query_type: 'A', return_code: 'NOERROR' })).toBe(0);
    expect(processor.stats().latency).toEqual({ matched: 0, unmatched: 2, expired: 0 });
  });

  it('builds flows as Retina fills them', () => {
    const { flows, processor } = setup();
    processor.processBatch(
      batch(
        exchange(
          'www.example.com',
          'A',
          [cname('www.example.com', 'edge.example.net', 30), a('edge.example.net', '192.0.2.7', 20)],
          {
            id: 9,
            at: 100n,
            after: 2n,
          },
        ),
      ),
    );
    expect(flows).toHaveLength(2);
    const [req, resp] = flows as [Flow, Flow];
    expect(req).toEqual({
      timeNs: 1_700_000_000_000_000_000n + 100n * MS,
      verdict: Verdict.DNS,
      type: FlowType.L7,
      nodeName: 'node-1',
      ip: { source: '10.1.0.2', destination: '10.1.0.53', ipVersion: IpVersion.IPv4 },
      l4: { udp: { sourcePort: 40000, destinationPort: 53 } },
      l7: {
        type: L7FlowType.REQUEST,
        dns: { query: 'www.example.com.', ips: [], ttl: 0, cnames: [], rcode: 0, qtypes: ['A'], rrtypes: [] },
      },
      eventType: { type: CiliumEventType.L7, subType: 0 },
      trafficDirection: TrafficDirection.EGRESS,
      traceObservationPoint: TraceObservationPoint.TO_NETWORK,
      isReply: false,
      emitter: 'dns',
      extensions: { dnsType: 'QUERY' },
      interface: { index: 7, name: 'veth7' },
    });
    expect(resp.l7).toEqual({
      type: L7FlowType.RESPONSE,
      latencyNs: 2_000_000,
      dns: {
        query: 'www.example.com.',
        ips: ['192.0.2.7'],
        ttl: 20,
        cnames: ['edge.example.net.'],
        rcode: 0,
        qtypes: ['A'],
        rrtypes: ['CNAME', 'A'],
      },
    });
    expect([resp.trafficDirection, resp.traceObservationPoint, resp.isReply]).toEqual([
      TrafficDirection.INGRESS,
      TraceObservationPoint.FROM_NETWORK,
      true,
    ]);
    expect(resp.extensions).toEqual({ dnsType: 'RESPONSE', numResponses: 2 });
    expect(resp.ip).toEqual({ source: '10.1.0.53', destination: '10.1.0.2', ipVersion: IpVersion.IPv4 });
  });

  it('marks TCP and IPv6 in flows', () => {
    const { flows, processor } = setup();
    const rec = record(query('t.example', 'AAAA'), {
      protocol: 6,
      source: 'fd00:1::2',
      destination: 'fd00:1::53',
      ifindex: 0,
    });
    processor.processBatch(batch([rec]));
    expect(flows[0]?.l4).toEqual({ tcp: { sourcePort: 40000, destinationPort: 53 } });
    expect(flows[0]?.ip?.ipVersion).toBe(IpVersion.IPv6);
    expect(flows[0]?.interface).toBeUndefined();
  });

  it('builds no flows when none are wanted', async () => {
    const { metrics, flows, processor } = setup({}, false);
    processor.processBatch(batch(exchange('x.example', 'A', [], { id: 1, at: 1n, after: 1n })));
    expect(flows).toHaveLength(0);
    expect(processor.stats().flowsEmitted).toBe(0);
    expect(await requestCount(metrics, 'A', 'x.example')).toBe(1);
  });

  it('folds query names beyond the cap into "other"', async () => {
    const { metrics, processor } = setup({ maxQueries: 2 });
    processor.processBatch(
      batch(
        ['one.example', 'two.example', 'three.example', 'one.example', 'four.example'].map((n, i) =>
          record(query(n, 'A', i), { tsNs: BigInt(i) * 1000n * MS }),
        ),
      ),
    );
    expect(await dnsText(metrics)).toEqual([
      `${REQUESTS}{query_type=A,query=one.example} 2`,
      `${REQUESTS}{query_type=A,query=two.example} 1`,
      `${REQUESTS}{query_type=A,query=other} 2`,
    ]);
    expect(processor.stats().queriesFolded).toBe(2);
  });

  it('folds answer sets beyond the cap into "other"', async () => {
    const { metrics, processor } = setup({ maxResponses: 1 });
    const recs = ['192.0.2.1', '192.0.2.2'].map((ip, i) =>
      record(response('r.example', 'A', [a('r.example', ip)], { id: i }), {
        tsNs: BigInt(i) * 1000n * MS,
        source: '10.1.0.53',
        destination: '10.1.0.2',
        sourcePort: 53,
        destinationPort: 40000,
      }),
    );
    processor.processBatch(batch(recs));
    expect(await dnsText(metrics)).toEqual([
      `${RESPONSES}{query_type=A,query=r.example,return_code=NOERROR,response=192.0.2.1,num_response=1} 1`,
      `${RESPONSES}{query_type=A,query=r.example,return_code=NOERROR,response=other,num_response=1} 1`,
    ]);
  });

  it('folds query types beyond the cap into "other"', async () => {
    const { metrics, processor } = setup({ maxQueryTypes: 1 });
    processor.processBatch(
      batch([
        record(query('t.example', 'A', 1), { tsNs: 1000n * MS }),
        record(query('t.example', 'MX', 2), { tsNs: 2000n * MS }),
      ]),
    );
    expect(await dnsText(metrics)).toEqual([
      `${REQUESTS}{query_type=A,query=t.example} 1`,
      `${REQUESTS}{query_type=other,query=t.example} 1`,
    ]);
  });

  it('writes the trailing dot when asked', async () => {
    const { metrics, processor } = setup({ queryTrailingDot: true });
    processor.processBatch(batch([record(query('dot.example'))]));
    expect(await requestCount(metrics, 'A', 'dot.example.')).toBe(1);
  });

  it('counts undecodable records by reason, exposes every reason from the start, and goes on', async () => {
    const { metrics, processor } = setup();
    expect(await series(metrics, PARSE_ERRORS)).toEqual(
      new Map(
        ['record', 'header', 'question', 'truncated', 'answer'].map((r) => [
          `${PARSE_ERRORS}{reason=${r}}`,
          0,
        ]),
      ),
    );
    const good = record(query('ok.example'));
    const short = Buffer.alloc(20);
    const badQuestion = record(
      Buffer.concat([query('x.example').subarray(0, 12), Buffer.from([0xc0, 12, 0, 1, 0, 1])]),
    );
    const longName = query(`${'a'.repeat(63)}.${'b'.repeat(63)}.example`);
    const cut = record(longName, { capLen: 40, msgLen: longName.length });
    processor.processBatch(batch([short, good, badQuestion, cut]));
    const errors = await series(metrics, PARSE_ERRORS);
    expect(errors.get(`${PARSE_ERRORS}{reason=record}`)).toBe(1);
    expect(errors.get(`${PARSE_ERRORS}{reason=question}`)).toBe(1);
    expect(errors.get(`${PARSE_ERRORS}{reason=truncated}`)).toBe(1);
    expect(await requestCount(metrics, 'A', 'ok.example')).toBe(1);
    expect(processor.stats().parseErrors).toEqual({
      record: 1,
      header: 0,
      question: 1,
      truncated: 1,
      answer: 0,
    });
    expect(metrics.registry.getSingleMetric(LOST)).toBeDefined();
  });
});
