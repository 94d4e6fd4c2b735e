import { describe, expect, it } from 'vitest';
import { HnsCollector } from '../src/collector.js';
import { HnsCallError, VfpError } from '../src/errors.js';
import { canonicalGuid } from '../src/hns/guid.js';
import { FixtureHost, recordedNode } from './fixture-host.js';
import { EP, PORT, WEB_HNS_STATS, fixture } from './fixtures.js';

const id = canonicalGuid;
const defaults = { attachedOnly: true, vfpCounters: true, concurrency: 4 };

function collector(host: FixtureHost, options: Partial<typeof defaults> = {}) {
  return new HnsCollector(host, { ...defaults, ...options });
}

/** The report of a poll without problems; `skipped` counts default to 0. */
function cleanReport(listed: number, sampled: number, withVfp: number, skipped: { noIp?: number } = {}) {
  return { listed, sampled, withVfp, skipped: { remote: 0, noIp: 0, vanished: 0, ...skipped }, problems: [] };
}

describe('HnsCollector over the recorded node', () => {
  it('samples the three pod endpoints with HNS and VFP counters and skips the one without an IP', async () => {
    const host = new FixtureHost();
    const { samples, report } = await collector(host).collect();
    expect(samples.map((s) => [s.id, s.ips, s.portId])).toEqual([
      [id(EP.web), ['10.240.0.23'], id(PORT.web)],
      [id(EP.api), ['10.240.0.41', 'fd00:10:240::29'], id(PORT.api)],
      [id(EP.unknown), ['10.240.0.57'], id(PORT.unknown)],
    ]);
    expect(samples[0]!.hns).toEqual(WEB_HNS_STATS);
    expect(samples[0]!.vfp?.in.droppedAclPackets).toBe(17);
    expect(samples[2]!.vfp?.out.synPackets).toBe(10);
    expect(report).toEqual(cleanReport(4, 3, 3, { noIp: 1 }));
  });

  it('sends the AttachedSharing query to both HCN calls and reads stats through /endpointstats', async () => {
    const host = new FixtureHost();
    await collector(host).collect();
    const query = '{"SchemaVersion":{"Major":2,"Minor":0},"Flags":0,"Filter":"{\\"State\\":3}"}';
    expect(host.callsOf('enumerateEndpoints').map((c) => c.args)).toEqual([[query]]);
    expect(host.callsOf('queryEndpointProperties').every((c) => c.args[1] === query)).toBe(true);
    expect(
      host
        .callsOf('hnsCall')
        .map((c) => c.args.slice(0, 2))
        .sort(),
    ).toEqual([EP.web, EP.api, EP.unknown].map((e) => ['GET', `/endpointstats/${id(e)}`]).sort());
  });

  it('lists vSwitch ports once and reads the port of an endpoint HCN names directly without it', async () => {
    const host = new FixtureHost();
    await collector(host).collect();
    const vfp = host.callsOf('vfpctrl').map((c) => (c.args.slice(0, -1) as string[]).join(' '));
    expect(vfp.filter((a) => a === '/list-vmswitch-port')).toHaveLength(1);
    expect(vfp.filter((a) => a !== '/list-vmswitch-port').sort()).toEqual(
      [PORT.web, PORT.api, PORT.unknown].map((p) => `/port ${id(p)} /get-port-counter`).sort(),
    );

    // Only the endpoint whose properties carry its port GUID: no listing needed.
    const only = new FixtureHost({ ...recordedNode(), list: `["${EP.unknown}"]` });
    const { samples } = await collector(only).collect();
    expect(samples.map((s) => s.portId)).toEqual([id(PORT.unknown)]);
    expect(only.callsOf('vfpctrl').map((c) => c.args[0])).toEqual(['/port']);
  });

  it('passes the abort signal to vfpctrl', async () => {
    const host = new FixtureHost();
    const abort = new AbortController();
    await collector(host).collect(abort.signal);
    expect(host.callsOf('vfpctrl').every((c) => c.args.at(-1) === abort.signal)).toBe(true);
  });

  it('makes no vfpctrl call when VFP counters are off', async () => {
    const host = new FixtureHost();
    const { samples, report } = await collector(host, { vfpCounters: false }).collect();
    expect(host.callsOf('vfpctrl')).toEqual([]);
    expect(samples.every((s) => s.vfp === undefined && s.portId === undefined)).toBe(true);
    expect(report.withVfp).toBe(0);
    expect(report.problems).toEqual([]);
  });

  it('asks for every endpoint without the filter and skips remote ones', async () => {
    const host = new FixtureHost({ ...recordedNode(), list: fixture('hns/endpoints-all.json') });
    const { samples, report } = await collector(host, { attachedOnly: false }).collect();
    expect(host.callsOf('enumerateEndpoints')[0]!.args[0]).toBe(
      '{"SchemaVersion":{"Major":2,"Minor":0},"Flags":0}',
    );
    expect(samples).toHaveLength(3);
    expect(report.skipped).toEqual({ remote: 1, noIp: 1, vanished: 0 });
  });
});

describe('HnsCollector with empty, partial and failing answers', () => {
  it('returns nothing for a node without endpoints, without calling vfpctrl', async () => {
    const host = new FixtureHost({ ...recordedNode(), list: fixture('hns/endpoints-empty.json') });
    const { samples, report } = await collector(host).collect();
    expect(samples).toEqual([]);
    expect(report).toEqual(cleanReport(0, 0, 0));
    expect(host.callsOf('vfpctrl')).toEqual([]);
  });

  it('rejects when HCN cannot list endpoints', async () => {
    const script = recordedNode();
    script.list = new HnsCallError('HcnEnumerateEndpoints', -2147024891, 'the endpoint list', '');
    await expect(collector(new FixtureHost(script)).collect()).rejects.toThrow(
      /^HcnEnumerateEndpoints failed with HRESULT 0x80070005 \(access denied/,
    );
    await expect(
      collector(new FixtureHost({ ...recordedNode(), list: '{"nope":1}' })).collect(),
    ).rejects.toThrow(/must be a JSON array of endpoint GUIDs/);
  });

  it('counts endpoints deleted while the poll runs as vanished, not as problems', async () => {
    const script = recordedNode();
    script.properties.delete(id(EP.web)); // HcnOpenEndpoint: element not found
    script.stats.set(id(EP.api), fixture('hns/stats-not-found.json'));
    const { samples, report } = await collector(new FixtureHost(script)).collect();
    expect(samples.map((s) => s.id)).toEqual([id(EP.unknown)]);
    expect(report.skipped.vanished).toBe(2);
    expect(report.problems).toEqual([]);
  });

  it('skips an endpoint whose properties or stats cannot be read, and reports why', async () => {
    const script = recordedNode();
    script.properties.set(id(EP.web), fixture('malformed/endpoint-truncated.json'));
    script.stats.set(id(EP.api), fixture('malformed/stats-negative.json'));
    const { samples, report } = await collector(new FixtureHost(script)).collect();
    expect(samples.map((s) => s.id)).toEqual([id(EP.unknown)]);
    expect(report.problems.map((p) => [p.stage, p.endpoint])).toEqual([
      ['properties', id(EP.web)],
      ['stats', id(EP.api)],
    ]);
    expect(report.problems[0]!.message).toMatch(/is not JSON/);
    expect(report.problems[1]!.message).toMatch(/BytesReceived must not be negative/);
  });

  it('keeps HNS counters of an endpoint whose VFP report fails or is partial', async () => {
    const script = recordedNode();
    script.vfpctrl.set(`/port ${id(PORT.web)} /get-port-counter`, fixture('vfp/port-counter-error.txt'));
    script.vfpctrl.set(
      `/port ${id(PORT.api)} /get-port-counter`,
      new VfpError('vfpctrl timed out', 'timeout'),
    );
    script.vfpctrl.set(
      `/port ${id(PORT.unknown)} /get-port-counter`,
      fixture('vfp/port-counter-partial.txt'),
    );
    const { samples, report } = await collector(new FixtureHost(script)).collect();
    expect(samples.map((s) => [s.id, s.hns.PacketsReceived, s.vfp !== undefined])).toEqual([
      [id(EP.web), 14523, false],
      [id(EP.api), 5200, false],
      [id(EP.unknown), 77, true],
    ]);
    expect(samples[2]!.vfp?.in.tcpConnectionsReset).toBeUndefined();
    expect(report.withVfp).toBe(1);
    expect(report.problems.map((p) => [p.stage, p.endpoint])).toEqual([
      ['vfp-counters', id(EP.web)],
      ['vfp-counters', id(EP.api)],
    ]);
    expect(report.problems[0]!.message).toMatch(
      /reported an error \(line 1\): ERROR: failed to execute get-port-counter/,
    );
  });

  it('reports the port listing failure once and still reads ports HCN names', async () => {
    const script = recordedNode();
    script.vfpctrl.set('/list-vmswitch-port', new VfpError('vfpctrl.exe was not found', 'not-found'));
    const { samples, report } = await collector(new FixtureHost(script)).collect();
    expect(samples.map((s) => s.vfp !== undefined)).toEqual([false, false, true]);
    expect(report.problems).toEqual([{ stage: 'vfp-ports', message: 'vfpctrl.exe was not found' }]);
  });

  it('reports endpoints whose MAC no port has', async () => {
    const script = recordedNode();
    script.vfpctrl.set('/list-vmswitch-port', fixture('vfp/list-vmswitch-port-empty.txt'));
    const { report } = await collector(new FixtureHost(script)).collect();
    expect(report.problems).toEqual([
      {
        stage: 'vfp-port',
        endpoint: id(EP.web),
        message: `no vSwitch port has the MAC address 00-15-5D-4A-2B-11 of endpoint ${id(EP.web)}`,
      },
      {
        stage: 'vfp-port',
        endpoint: id(EP.api),
        message: `no vSwitch port has the MAC address 00-15-5D-4A-2B-12 of endpoint ${id(EP.api)}`,
      },
    ]);
  });

  it('never runs more endpoint reads at once than its concurrency', async () => {
    let running = 0;
    let peak = 0;
    const script = recordedNode();
    const slow = (text: string) => async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setImmediate(r));
      running--;
      return text;
    };
    for (const [k, v] of script.stats) script.stats.set(k, slow(v as string));
    await collector(new FixtureHost(script), { concurrency: 2 }).collect();
    expect(peak).toBe(2);
  });
});
