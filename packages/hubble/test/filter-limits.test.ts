/**
 * Hostile filters: backtracking-prone regular expressions, FQDN patterns and oversized filter lists must neither
 * freeze the event loop nor be accepted without bound. Responsiveness is measured by counting event-loop turns
 * (setImmediate ticks) that run while the work is in progress, never by wall-clock time.
 */
import { mkdtempSync } from 'node:fs';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowBus } from '@retina-ts/core';
import type { Flow } from '@retina-ts/core';
import {
  FILTER_LIMITS,
  FilterError,
  FlowRing,
  IpPrefixSet,
  MAX_REQUEST_BYTES,
  compileFilterLists,
  compileFlowFilter,
  hubbleTypes,
  parseGetFlowsRequest,
  startHubble,
} from '../src/index.js';
import type { FlowFilterInput, HubbleServer, RingEntry } from '../src/index.js';
import { FlowStreamer, ResponseEncoder } from '../src/getflows.js';
import { connect, dnsRequestFlow, getFlows, pbFlow, tcpFlow, unary, waitFor } from './helpers.js';
import type { HubbleClients } from './helpers.js';

const types = hubbleTypes();
const EVIL = '^(a+)+$';
// 30 letters and a mismatch: a backtracking engine tries about 2^30 ways before failing.
const EVIL_NAME = `${'a'.repeat(30)}!`;

/** A DNS request that also names the queried host as the destination. */
const dnsFlow = (n: number, query: string): Flow => dnsRequestFlow(n, query, { destinationNames: [query] });

/** Counts event-loop turns until `stop()` is called. */
function tickCounter(): { stop(): number } {
  let ticks = 0;
  let running = true;
  const tick = () => {
    if (!running) return;
    ticks++;
    setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      running = false;
      return ticks;
    },
  };
}

describe('regular expressions use RE2', () => {
  it('dns_query with a catastrophic-backtracking pattern answers at once', () => {
    const match = compileFlowFilter({ dns_query: [EVIL] });
    expect(match(pbFlow(dnsFlow(0, EVIL_NAME)))).toBe(false);
    expect(match(pbFlow(dnsFlow(0, 'a'.repeat(30))))).toBe(true);
  });

  it('http_path and http_url patterns compile with RE2 (and match nothing: flows carry no HTTP)', () => {
    expect(compileFlowFilter({ http_path: [EVIL] })(pbFlow(dnsFlow(0, EVIL_NAME)))).toBe(false);
    expect(compileFlowFilter({ http_url: [EVIL] })(pbFlow(dnsFlow(0, EVIL_NAME)))).toBe(false);
  });

  it('rejects what RE2 rejects, naming the field and the pattern', () => {
    for (const [field, pattern] of [
      ['dns_query', '(a)\\1'],
      ['dns_query', '(?<=a)b'],
      ['http_path', 'a{2000}'],
      ['http_url', '(?=x)'],
    ] as const) {
      const filter = { [field]: [pattern] } as FlowFilterInput;
      expect(() => compileFlowFilter(filter)).toThrow(FilterError);
      expect(() => compileFlowFilter(filter)).toThrow(field);
      expect(() => compileFlowFilter(filter)).toThrow(JSON.stringify(pattern));
    }
  });

  it('an FQDN pattern of many wildcards does not backtrack on a long non-matching name', () => {
    const pattern = Array(40).fill('*').join('.');
    const name = `${'a'.repeat(200)}_`;
    const match = compileFlowFilter({ destination_fqdn: [pattern] });
    expect(match(pbFlow(tcpFlow(0, { destinationNames: [name] })))).toBe(false);
    expect(match(pbFlow(tcpFlow(0, { destinationNames: [Array(40).fill('a').join('.')] })))).toBe(true);
  });

  it('keeps the event loop turning while GetFlows filters a ring of hostile names', async () => {
    const ring = new FlowRing(4095);
    ring.push(
      Array.from({ length: 4095 }, (_, i): RingEntry => {
        const flow = pbFlow(dnsFlow(i, i === 7 ? 'a'.repeat(30) : EVIL_NAME));
        return { timeNs: 1_700_000_000_000_000_000n + BigInt(i), time: flow.time, flow };
      }),
    );
    const query = parseGetFlowsRequest({ number: 10, whitelist: [{ dns_query: [EVIL] }] });
    const out: Uint8Array[] = [];
    const streamer = new FlowStreamer({
      ring,
      query,
      encoder: new ResponseEncoder(types.getFlowsResponse),
      nodeName: 'n',
      entriesPerTurn: 256,
      sink: { write: (b) => out.push(b) > 0, onceDrain: () => undefined, end: () => undefined },
    });
    const ticks = tickCounter();
    streamer.start();
    await streamer.done;
    // The walk back over 4095 entries is cut into turns of 256, so other work ran between them.
    expect(ticks.stop()).toBeGreaterThanOrEqual(Math.floor(4095 / 256));
    expect(out).toHaveLength(1);
  });
});

describe('filter size limits', () => {
  const ips = (n: number) =>
    Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

  it('refuses a field with more values than the limit, naming list, index, field and limit', () => {
    const n = FILTER_LIMITS.valuesPerField + 1;
    let err: FilterError | undefined;
    try {
      compileFilterLists([{ source_ip: ['10.0.0.1'] }, { destination_ip: ips(n) }], []);
    } catch (e) {
      err = e as FilterError;
    }
    expect(err).toBeInstanceOf(FilterError);
    expect(err?.kind).toBe('invalid');
    expect(err?.message).toContain('whitelist[1].destination_ip');
    expect(err?.message).toContain(String(FILTER_LIMITS.valuesPerField));
  });

  it('refuses too many filters, too many patterns and too long values', () => {
    const many = Array.from({ length: FILTER_LIMITS.filtersPerList + 1 }, () => ({ verdict: [1] }));
    expect(() => compileFilterLists([], many)).toThrow(/blacklist: 65 filters, more than the limit of 64/);
    const patterns = Array.from({ length: FILTER_LIMITS.patternsPerField + 1 }, (_, i) => `x${i}`);
    expect(() => compileFilterLists([{ dns_query: patterns }], [])).toThrow(
      /dns_query: 65 regular expressions/,
    );
    expect(() =>
      compileFilterLists([{ source_pod: ['x'.repeat(FILTER_LIMITS.valueLength + 1)] }], []),
    ).toThrow(/whitelist\[0\]\.source_pod: a value of 1025 characters/);
  });

  it('refuses a request whose values together exceed the limit with kind exhausted', () => {
    const per = FILTER_LIMITS.valuesPerField;
    const lists = Array.from({ length: Math.ceil(FILTER_LIMITS.valuesPerRequest / per) + 1 }, () => ({
      source_ip: ips(per),
    }));
    let err: FilterError | undefined;
    try {
      compileFilterLists(lists, []);
    } catch (e) {
      err = e as FilterError;
    }
    expect(err?.kind).toBe('exhausted');
    expect(err?.message).toContain(`limit of ${FILTER_LIMITS.valuesPerRequest}`);
  });
});

describe('IpPrefixSet', () => {
  it('agrees with BlockList on addresses and prefixes of both families', () => {
    const values = [
      '10.1.2.3',
      '10.9.0.0/16',
      '192.168.7.77/24',
      '0.0.0.0/1',
      'fd00::1',
      'fd00:20::/32',
      '::ffff:1.2.3.4',
    ];
    const set = new IpPrefixSet(values, 'source_ip');
    const list = new BlockList();
    list.addAddress('10.1.2.3');
    list.addSubnet('10.9.0.0', 16);
    list.addSubnet('192.168.7.0', 24);
    list.addSubnet('0.0.0.0', 1);
    list.addAddress('fd00::1', 'ipv6');
    list.addSubnet('fd00:20::', 32, 'ipv6');
    list.addAddress('::ffff:1.2.3.4', 'ipv6');
    const probes = [
      '10.1.2.3',
      '10.1.2.4',
      '10.9.255.1',
      '10.10.0.1',
      '192.168.7.1',
      '192.168.8.1',
      '127.0.0.1',
      '200.1.1.1',
      'fd00::1',
      'fd00::2',
      'fd00:20:1::9',
      'fd00:21::1',
      '::1',
    ];
    for (const ip of probes) {
      expect(set.has(ip), ip).toBe(list.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4'));
    }
    expect(set.has(undefined)).toBe(false);
    expect(set.has('not-an-ip')).toBe(false);
  });

  it('matches among thousands of entries by hash, not by scanning', () => {
    const values = Array.from({ length: 4096 }, (_, i) => `172.16.${i >> 8}.${i & 255}`);
    values.push('10.0.0.0/8');
    const set = new IpPrefixSet(values, 'destination_ip');
    expect(set.has('172.16.15.255')).toBe(true);
    expect(set.has('172.16.16.0')).toBe(false);
    expect(set.has('10.200.0.1')).toBe(true);
  });

  it('rejects values that are not strict addresses or have bad prefixes', () => {
    for (const bad of ['10.1', '010.0.0.1', '10.0.0.0/33', 'fd00::/129', '10.0.0.0/x', '10.0.0.0/']) {
      expect(() => new IpPrefixSet([bad], 'source_ip'), bad).toThrow(/source_ip/);
    }
  });
});

describe('over gRPC', () => {
  let server: HubbleServer;
  let bus: FlowBus;
  let c: HubbleClients;

  beforeAll(async () => {
    bus = new FlowBus({ capacity: 1024 });
    const dir = mkdtempSync(join(tmpdir(), 'hubble-limits-'));
    server = await startHubble({
      flowBus: bus,
      nodeName: 'node-a',
      options: { unixSocket: join(dir, 'h.sock'), listenAddress: false, ringCapacity: 1023 },
    });
    for (let i = 0; i < 200; i++) bus.publish(dnsFlow(i, i === 3 ? 'aaaa' : EVIL_NAME));
    await waitFor(() => server.observer.ring.size === 200, 'flows in the ring');
    c = connect(`unix:${server.unixSocket}`);
  });

  afterAll(async () => {
    c.close();
    await server.stop(100);
  });

  const failure = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (err) {
      return err as grpc.ServiceError;
    }
    throw new Error('the call succeeded');
  };

  it('serves a dns_query of a backtracking pattern, answering other calls meanwhile', async () => {
    const [flows, status] = await Promise.all([
      getFlows(c.observer, { number: 200, whitelist: [{ dns_query: [EVIL] }] }),
      unary(c.observer, 'ServerStatus'),
    ]);
    expect(flows.map((r) => r.flow?.['l7'])).toHaveLength(1);
    expect(status['num_flows']).toBe('200');
  });

  it('answers INVALID_ARGUMENT for a pattern RE2 rejects, naming field and pattern', async () => {
    const err = await failure(getFlows(c.observer, { whitelist: [{ dns_query: ['(a)\\1'] }] }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toContain('whitelist[0].dns_query');
    expect(err.details).toContain('(a)\\\\1');
  });

  it('answers INVALID_ARGUMENT for a field over its limit and RESOURCE_EXHAUSTED for an oversized request', async () => {
    const ips = (n: number, b: number) => Array.from({ length: n }, (_, i) => `10.${b}.${i >> 8}.${i & 255}`);
    const wide = await failure(getFlows(c.observer, { blacklist: [{ source_ip: ips(5000, 1) }] }));
    expect(wide.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(wide.details).toContain('blacklist[0].source_ip: 5000 values');
    const total = await failure(
      getFlows(c.observer, {
        whitelist: [1, 2, 3, 4, 5].map((b) => ({ source_ip: ips(4000, b) })),
      }),
    );
    expect(total.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(total.details).toContain('20000 filter values');
    // 100,000 addresses: larger than any request the server reads.
    const huge = await failure(getFlows(c.observer, { whitelist: [{ source_ip: ips(100_000, 9) }] }));
    expect(huge.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(huge.details).toContain(String(MAX_REQUEST_BYTES));
    // The server still serves.
    expect((await unary(c.observer, 'ServerStatus'))['num_flows']).toBe('200');
  });
});
