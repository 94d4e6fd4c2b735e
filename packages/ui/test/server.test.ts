/**
 * The UI server against the real Hubble server of @retina-ts/hubble (fed through a FlowBus in this process) and a
 * stand-in of the agent's /metrics and /plugins: the event stream carries rows, the map, DNS latency, node samples
 * and status; filters reach Hubble; bad input gets a 400 naming the field; static files are served, paths outside
 * the bundle are not.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, DropReasonDesc, FlowBus, FlowType, IpVersion, TrafficDirection, Verdict, type Flow } from '@retina-ts/core';
import { startHubble, type HubbleServer } from '@retina-ts/hubble';
import { startUiServer, type UiFlow, type UiNodeSample, type UiServer, type UiServiceMap } from '../src/index.js';

let seq = 0;
function flow(over: Partial<Flow> = {}): Flow {
  seq++;
  return {
    timeNs: BigInt(Date.now()) * 1_000_000n,
    verdict: Verdict.FORWARDED,
    ip: { source: '10.201.0.1', destination: '10.201.0.2', ipVersion: IpVersion.IPv4 },
    l4: { tcp: { sourcePort: 40000 + (seq % 1000), destinationPort: 80, flags: { SYN: true } } },
    source: { namespace: 'shop', podName: 'web-7c9f-abcde', labels: [], workloads: [{ name: 'web', kind: 'Deployment' }] },
    destination: { namespace: 'shop', podName: 'db-0', labels: [], workloads: [{ name: 'db', kind: 'StatefulSet' }] },
    type: FlowType.L3_L4,
    nodeName: 'node-a',
    trafficDirection: TrafficDirection.EGRESS,
    ...over,
  };
}

interface SseEvent {
  event: string;
  data: unknown;
}

/** Reads `url` as an event stream until `until` returns true for the events so far (or 10 s pass). */
async function readEvents(url: string, until: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), 10_000);
  const res = await fetch(url, { signal: ac.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(block)?.[1] ?? 'null';
        events.push({ event, data: JSON.parse(data) });
      }
      if (until(events)) break;
    }
  } catch (err) {
    if (!ac.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return events;
}

const flowsOf = (events: SseEvent[]): UiFlow[] => events.filter((e) => e.event === 'flows').flatMap((e) => e.data as UiFlow[]);

describe('the UI server on a real Hubble server', () => {
  let bus: FlowBus;
  let hubble: HubbleServer;
  let agentHttp: Server;
  let ui: UiServer;
  let feeding: NodeJS.Timeout;

  beforeAll(async () => {
    bus = new FlowBus({ capacity: 4096 });
    const dir = mkdtempSync(join(tmpdir(), 'retina-ui-server-'));
    hubble = await startHubble({
      flowBus: bus,
      nodeName: 'node-a',
      options: { unixSocket: join(dir, 'h.sock'), listenAddress: false, ringCapacity: 4095 },
    });
    agentHttp = createServer((req, res) => {
      if (req.url === '/metrics') {
        res.end('# TYPE networkobservability_drop_count gauge\nnetworkobservability_drop_count{reason="IPTABLE_RULE_DROP",direction="ingress"} 4\n');
      } else if (req.url === '/plugins') {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ plugins: [{ name: 'dropreason', state: 'running' }] }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => agentHttp.listen(0, '127.0.0.1', r));
    ui = await startUiServer({
      hubble: `unix://${hubble.unixSocket}`,
      metrics: `http://127.0.0.1:${(agentHttp.address() as AddressInfo).port}/metrics`,
      port: 0,
      capture: 'off',
      logger: createLogger({ level: 'error' }),
    });
    // A steady trickle: web -> db forwarded, web -> db dropped, DNS request/response pairs.
    feeding = setInterval(() => {
      bus.publish(flow());
      bus.publish(
        flow({
          verdict: Verdict.DROPPED,
          dropReasonDesc: DropReasonDesc.POLICY_DENIED,
          l4: { udp: { sourcePort: 5555, destinationPort: 9911 } },
          extensions: { dropReason: 'IPTABLE_RULE_DROP', bytes: 60 },
        }),
      );
    }, 20);
  });

  afterAll(async () => {
    clearInterval(feeding);
    await ui?.close();
    await hubble?.stop(100);
    agentHttp?.close();
  });

  it('streams rows, the service map, node samples and status', async () => {
    const events = await readEvents(`${ui.url}api/stream`, (ev) => ev.some((e) => e.event === 'map' && (e.data as UiServiceMap).edges.length > 0) && ev.some((e) => e.event === 'node'));
    const status = events.find((e) => e.event === 'status')!.data;
    expect(status).toMatchObject({ hubble: `unix://${hubble.unixSocket}`, capture: 'off' });
    const rows = flowsOf(events);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows[0]).toMatchObject({
      node: 'node-a',
      src: { id: 'shop/web', pod: 'web-7c9f-abcde', workload: 'Deployment/web' },
      dst: { id: 'shop/db', pod: 'db-0', workload: 'StatefulSet/db' },
    });
    // Rows are numbered in order within the stream.
    expect(rows.map((r) => r.seq)).toEqual([...rows.map((r) => r.seq)].sort((a, b) => a - b));
    const map = [...events].reverse().find((e) => e.event === 'map')!.data as UiServiceMap;
    expect(map.nodes.map((n) => n.id).sort()).toEqual(['shop/db', 'shop/web']);
    expect(map.edges[0]).toMatchObject({ source: 'shop/web', target: 'shop/db' });
    expect(map.edges[0]!.drops).toBeGreaterThan(0);
    const node = events.find((e) => e.event === 'node')!.data as UiNodeSample;
    expect(node).toMatchObject({ drops: { IPTABLE_RULE_DROP: 4 }, plugins: [{ name: 'dropreason', state: 'running' }] });
  });

  it('passes filters to the Hubble server', async () => {
    const events = await readEvents(`${ui.url}api/stream?verdict=DROPPED&port=9911`, (ev) => flowsOf(ev).length >= 20);
    const rows = flowsOf(events);
    expect(rows.length).toBeGreaterThanOrEqual(20);
    for (const r of rows) expect([r.verdict, r.protocol, r.dst.port]).toEqual(['DROPPED', 'UDP', 9911]);
    // Retina's reason from the extension fields, which the detail view shows decoded.
    expect(rows[0]!.dropReason).toBe('IPTABLE_RULE_DROP');
    expect(rows[0]!.raw['extensions']).toMatchObject({ drop_reason: 'IPTABLE_RULE_DROP', bytes: 60 });
  });

  it('refuses a bad filter or capture request with a 400 naming the field', async () => {
    const bad = await fetch(`${ui.url}api/stream?verdict=SOMETIMES`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/^verdict: unknown verdict "SOMETIMES"/);
    const off = await fetch(`${ui.url}api/captures`, { method: 'POST', body: '{}' });
    expect(off.status).toBe(404);
    expect(((await off.json()) as { error: string }).error).toMatch(/captures are off/);
  });

  it('serves the bundle and nothing outside it', async () => {
    const index = await fetch(ui.url);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('<div id="app">');
    const js = await fetch(`${ui.url}app.js`);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/index.js', '/nope.html']) {
      expect((await fetch(`${ui.url.slice(0, -1)}${path}`)).status, path).toBe(404);
    }
  });
});
