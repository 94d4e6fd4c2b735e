/**
 * The server end to end, through clients generated at test time from the official Hubble protos: every served RPC
 * over the unix socket, plaintext TCP, TLS and mutual TLS, with flows published on a real FlowBus.
 */
import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Flow } from '@retina-ts/core';
import {
  DropReasonDesc,
  FlowBus,
  FlowType,
  IpVersion,
  L7FlowType,
  TrafficDirection,
  Verdict,
  parseConfig,
} from '@retina-ts/core';
import { hubbleOptionsFromConfig, startHubble } from '../src/index.js';
import type { HubbleServer } from '../src/index.js';
import type { HubbleOptions } from '../src/index.js';
import type { FlowResponse, HubbleClients, TestPki } from './helpers.js';
import { connect, getFlows, makePki, startLoopbackHubble, tcpFlow, unary, waitFor } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'hubble-srv-'));
let pki: TestPki;
const servers: HubbleServer[] = [];

beforeAll(() => {
  pki = makePki();
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop(1000)));
  rmSync(tmp, { recursive: true, force: true });
  rmSync(pki.dir, { recursive: true, force: true });
});

const dns = (query: string, reply: boolean): Partial<Flow> => ({
  type: FlowType.L7,
  verdict: Verdict.DNS,
  eventType: { type: 129, subType: 0 },
  l4: { udp: { sourcePort: 33000, destinationPort: 53 } },
  destination: {
    namespace: 'kube-system',
    podName: 'coredns-5d78c9869d-x2x4q',
    labels: ['k8s-app=kube-dns'],
  },
  isReply: reply,
  l7: {
    type: reply ? L7FlowType.RESPONSE : L7FlowType.REQUEST,
    dns: {
      query,
      ips: reply ? ['10.201.7.7'] : [],
      ttl: reply ? 30 : 0,
      rcode: 0,
      qtypes: ['A'],
      rrtypes: reply ? ['A'] : [],
    },
  },
});

/** Ten varied flows u0..u9, one second apart. */
function fixture(): Flow[] {
  const flows: Partial<Flow>[] = [
    {},
    {
      verdict: Verdict.DROPPED,
      dropReasonDesc: DropReasonDesc.POLICY_DENIED,
      eventType: { type: 1, subType: 133 },
      l4: { tcp: { sourcePort: 41000, destinationPort: 5432, flags: { SYN: true } } },
      trafficDirection: TrafficDirection.INGRESS,
      isReply: undefined,
      extensions: { dropReason: 'IPTABLE_RULE_DROP', bytes: 60 },
    },
    dns('api.example.com.', false),
    dns('api.example.com.', true),
    {
      l4: { icmpv4: { type: 8, code: 0 } },
      ip: { source: '10.201.0.1', destination: '10.201.9.9', ipVersion: IpVersion.IPv4 },
      destination: undefined,
    },
    {
      l4: { tcp: { sourcePort: 80, destinationPort: 40000, flags: { SYN: true, ACK: true } } },
      isReply: true,
    },
    { ip: { source: 'fd00:20::1', destination: 'fd00:20::2', ipVersion: IpVersion.IPv6 } },
    {},
    {},
    {},
  ];
  return flows.map((o, i) => tcpFlow(i, { uuid: `u${i}`, ...o }));
}

async function startWithFixture(options: HubbleOptions): Promise<{ server: HubbleServer; bus: FlowBus }> {
  const bus = new FlowBus();
  const server = await startHubble({ flowBus: bus, nodeName: 'node-a', options });
  servers.push(server);
  for (const flow of fixture()) bus.publish(flow);
  await waitFor(() => server.observer.seenFlows === 10, 'the fixture to reach the ring');
  return { server, bus };
}

const sec = (i: number) => ({ seconds: String(1_700_000_000 + i), nanos: 0 });
const uuids = (rs: FlowResponse[]) => rs.flatMap((r) => (r.flow ? [r.flow.uuid] : []));
const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (err) {
    return (err as grpc.ServiceError).code;
  }
  return grpc.status.OK;
};

const SERVER_NAME = 'node-a.default.hubble-grpc.cilium.io';

/** Clients over TLS to `port` on loopback trusting `caFile`, with the client certificate when `withClientCert`. */
const connectTls = (port: number | undefined, caFile: string, withClientCert = false): HubbleClients =>
  connect(
    `127.0.0.1:${port}`,
    withClientCert
      ? grpc.credentials.createSsl(
          readFileSync(caFile),
          readFileSync(pki.clientKey),
          readFileSync(pki.clientCert),
        )
      : grpc.credentials.createSsl(readFileSync(caFile)),
    { 'grpc.ssl_target_name_override': SERVER_NAME },
  );

/** The status code of one ServerStatus call (5 s deadline) of `client`, which is closed after. */
const serverStatusCode = async (client: HubbleClients): Promise<grpc.status> => {
  try {
    return await code(unary(client.observer, 'ServerStatus', {}, 5000));
  } finally {
    client.close();
  }
};

interface Transport {
  name: string;
  tls: boolean;
  options: () => HubbleOptions;
  connect: (server: HubbleServer) => HubbleClients;
}

const transports: Transport[] = [
  {
    name: 'unix socket',
    tls: false,
    options: () => ({
      unixSocket: join(tmp, 'plain-unix.sock'),
      listenAddress: '127.0.0.1:0',
      ringCapacity: 63,
    }),
    connect: (s) => connect(`unix:${s.unixSocket}`),
  },
  {
    name: 'TCP',
    tls: false,
    options: () => ({
      unixSocket: join(tmp, 'plain-tcp.sock'),
      listenAddress: '127.0.0.1:0',
      ringCapacity: 63,
    }),
    connect: (s) => connect(`127.0.0.1:${s.tcpPort}`),
  },
  {
    name: 'TCP with TLS',
    tls: true,
    options: () => ({
      unixSocket: false,
      listenAddress: '127.0.0.1:0',
      ringCapacity: 63,
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey },
    }),
    connect: (s) => connectTls(s.tcpPort, pki.caCert),
  },
  {
    name: 'TCP with mutual TLS',
    tls: true,
    options: () => ({
      unixSocket: false,
      listenAddress: '127.0.0.1:0',
      ringCapacity: 63,
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFiles: [pki.clientCaCert] },
    }),
    connect: (s) => connectTls(s.tcpPort, pki.caCert, true),
  },
];

describe.each(transports)('over $name', (transport) => {
  let server: HubbleServer;
  let bus: FlowBus;
  let c: HubbleClients;

  beforeAll(async () => {
    ({ server, bus } = await startWithFixture(transport.options()));
    c = transport.connect(server);
  });
  afterAll(() => c.close());

  it('GetFlows: the last N flows, oldest first, with node name and time', async () => {
    const rs = await getFlows(c.observer, { number: 3 });
    expect(uuids(rs)).toEqual(['u7', 'u8', 'u9']);
    expect(rs[0]).toMatchObject({ response_types: 'flow', node_name: 'node-a', time: sec(7) });
    expect(rs[0]?.flow).toMatchObject({
      verdict: 'FORWARDED',
      node_name: 'node-a',
      Summary: 'TCP Flags: SYN',
      Type: 'L3_L4',
    });
  });

  it('GetFlows: first N, the whole buffer, and since/until', async () => {
    expect(uuids(await getFlows(c.observer, { first: true, number: 2 }))).toEqual(['u0', 'u1']);
    expect(uuids(await getFlows(c.observer, { number: '18446744073709551615' }))).toHaveLength(10);
    expect(uuids(await getFlows(c.observer, { since: sec(4), until: sec(6) }))).toEqual(['u4', 'u5', 'u6']);
    expect(uuids(await getFlows(c.observer, { since: sec(8) }))).toEqual(['u8', 'u9']);
  });

  it('GetFlows: namespace, pod, IP, CIDR, label, port and protocol filters as the CLI sends them', async () => {
    const ns = (n: string) => [{ source_pod: [`${n}/`] }, { destination_pod: [`${n}/`] }];
    expect(uuids(await getFlows(c.observer, { whitelist: ns('kube-system') }))).toEqual(['u2', 'u3']);
    expect(
      uuids(
        await getFlows(c.observer, {
          whitelist: [{ source_pod: ['shop/web-'], destination_port: ['5432'] }],
        }),
      ),
    ).toEqual(['u1']);
    expect(uuids(await getFlows(c.observer, { whitelist: [{ destination_ip: ['10.201.9.0/24'] }] }))).toEqual(
      ['u4'],
    );
    expect(uuids(await getFlows(c.observer, { whitelist: [{ source_ip: ['fd00:20::1'] }] }))).toEqual(['u6']);
    expect(
      uuids(await getFlows(c.observer, { whitelist: [{ destination_label: ['k8s:k8s-app=kube-dns'] }] })),
    ).toEqual(['u2', 'u3']);
    expect(uuids(await getFlows(c.observer, { whitelist: [{ protocol: ['icmp'] }] }))).toEqual(['u4']);
    expect(
      uuids(await getFlows(c.observer, { whitelist: [{ protocol: ['dns'], dns_query: ['example\\.com'] }] })),
    ).toEqual(['u2', 'u3']);
  });

  it('GetFlows: verdict, event type, TCP flags, FQDN-free DNS, node name, direction and deny-lists', async () => {
    expect(uuids(await getFlows(c.observer, { whitelist: [{ verdict: ['DROPPED'] }] }))).toEqual(['u1']);
    expect(uuids(await getFlows(c.observer, { whitelist: [{ event_type: [{ type: 1 }] }] }))).toEqual(['u1']);
    expect(
      uuids(await getFlows(c.observer, { whitelist: [{ tcp_flags: [{ SYN: true, ACK: true }] }] })),
    ).toEqual(['u5']);
    expect(uuids(await getFlows(c.observer, { whitelist: [{ traffic_direction: ['INGRESS'] }] }))).toEqual([
      'u1',
    ]);
    expect(uuids(await getFlows(c.observer, { whitelist: [{ node_name: ['node-*'] }], number: 1 }))).toEqual([
      'u9',
    ]);
    expect(uuids(await getFlows(c.observer, { whitelist: [{ node_name: ['other'] }] }))).toEqual([]);
    const notTcp80 = await getFlows(c.observer, {
      blacklist: [{ destination_port: ['80'] }, { protocol: ['udp'] }],
    });
    expect(uuids(notTcp80)).toEqual(['u1', 'u4', 'u5']);
  });

  it('GetFlows: the dropped flow carries its reason and Retina extensions', async () => {
    const [r] = await getFlows(c.observer, { whitelist: [{ uuid: ['u1'] }] });
    expect(r?.flow).toMatchObject({
      verdict: 'DROPPED',
      drop_reason_desc: 'POLICY_DENIED',
      Summary: 'Drop Reason: IPTABLE_RULE_DROP',
    });
    expect((r?.flow?.extensions as { type_url: string }).type_url).toBe(
      'type.googleapis.com/google.protobuf.Struct',
    );
  });

  it('GetFlows: a field mask limits the returned fields', async () => {
    const [r] = await getFlows(c.observer, {
      number: 1,
      field_mask: { paths: ['uuid', 'source.pod_name', 'ethernet'] },
    });
    expect(r?.flow?.uuid).toBe('u9');
    expect(r?.flow?.source?.pod_name).toBe('web-7c9f-abcde');
    expect(r?.flow?.source?.namespace).toBe('');
    expect(r?.flow?.IP).toBeNull();
  });

  it('GetFlows: bad requests fail with INVALID_ARGUMENT, CEL with UNIMPLEMENTED', async () => {
    expect(await code(getFlows(c.observer, { first: true, follow: true }))).toBe(
      grpc.status.INVALID_ARGUMENT,
    );
    expect(await code(getFlows(c.observer, { whitelist: [{ source_ip: ['10.0.0.0/40'] }] }))).toBe(
      grpc.status.INVALID_ARGUMENT,
    );
    expect(await code(getFlows(c.observer, { whitelist: [{ protocol: ['carrier-pigeon'] }] }))).toBe(
      grpc.status.INVALID_ARGUMENT,
    );
    expect(
      await code(getFlows(c.observer, { whitelist: [{ experimental: { cel_expression: ['true'] } }] })),
    ).toBe(grpc.status.UNIMPLEMENTED);
  });

  it('ServerStatus reports ring and flow counts', async () => {
    const s = await unary(c.observer, 'ServerStatus');
    expect(s).toMatchObject({
      num_flows: '10',
      max_flows: '63',
      seen_flows: '10',
      num_connected_nodes: null,
    });
    expect(String(s.version)).toMatch(/^retina-ts v\d+\.\d+\.\d+/);
    expect(BigInt(s.uptime_ns as string)).toBeGreaterThan(0n);
    expect(s.flows_rate).toBeGreaterThan(0);
  });

  it('GetNodes and GetNamespaces', async () => {
    const nodes = await unary<{ nodes: Record<string, unknown>[] }>(c.observer, 'GetNodes');
    expect(nodes.nodes).toHaveLength(1);
    expect(nodes.nodes[0]).toMatchObject({
      name: 'node-a',
      state: 'NODE_CONNECTED',
      num_flows: '10',
      max_flows: '63',
      seen_flows: '10',
      tls: { enabled: transport.tls, server_name: transport.tls ? SERVER_NAME : '' },
    });
    const ns = await unary<{ namespaces: unknown[] }>(c.observer, 'GetNamespaces');
    expect(ns.namespaces).toEqual([
      { cluster: '', namespace: 'kube-system' },
      { cluster: '', namespace: 'shop' },
    ]);
  });

  it('GetAgentEvents and GetDebugEvents answer UNIMPLEMENTED without hanging', async () => {
    for (const method of ['GetAgentEvents', 'GetDebugEvents']) {
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        const call = (c.observer[method] as (r: unknown) => grpc.ClientReadableStream<unknown>).call(
          c.observer,
          { number: 1 },
        );
        call.on('error', resolve);
        call.on('data', () => undefined);
      });
      expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    }
  });

  it('Health: hubble.server.Observer is SERVING; unknown services are NOT_FOUND', async () => {
    expect(await unary(c.health, 'Check', { service: 'hubble.server.Observer' })).toEqual({
      status: 'SERVING',
    });
    expect(await unary(c.health, 'Check', { service: '' })).toEqual({ status: 'SERVING' });
    expect(await code(unary(c.health, 'Check', { service: 'nope' }))).toBe(grpc.status.NOT_FOUND);
  });

  it('Peer.Notify announces this node (with the TLS server name iff the listener uses TLS)', async () => {
    const first = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const call = (c.peer.Notify as (r: unknown) => grpc.ClientReadableStream<Record<string, unknown>>).call(
        c.peer,
        {},
      );
      call.once('data', (d: Record<string, unknown>) => {
        resolve(d);
        call.cancel();
      });
      call.on('error', (e: grpc.ServiceError) => (e.code === grpc.status.CANCELLED ? undefined : reject(e)));
    });
    expect(first).toMatchObject({ name: 'node-a', type: 'PEER_ADDED' });
    expect(first.tls).toEqual(transport.tls ? { server_name: SERVER_NAME } : null);
  });

  it('GetFlows follow: replays the last N, then streams live flows from the FlowBus', async () => {
    const got: FlowResponse[] = [];
    const call = (c.observer.GetFlows as (r: unknown) => grpc.ClientReadableStream<FlowResponse>).call(
      c.observer,
      {
        number: 2,
        follow: true,
        whitelist: [{ source_pod: ['live/'] }, { uuid: ['u8', 'u9'] }],
      },
    );
    const ended = new Promise<void>((resolve) => call.on('error', () => resolve()));
    call.on('data', (r: FlowResponse) => got.push(r));
    await waitFor(() => got.length === 2, 'the replayed flows');
    for (let i = 0; i < 5; i++)
      bus.publish(tcpFlow(20 + i, { uuid: `live${i}`, source: { namespace: 'live', podName: 'p' } }));
    bus.publish(tcpFlow(30, { uuid: 'other' }));
    await waitFor(() => got.length === 7, 'the live flows');
    call.cancel();
    await ended;
    expect(uuids(got)).toEqual(['u8', 'u9', 'live0', 'live1', 'live2', 'live3', 'live4']);
    await waitFor(() => server.activeFlowStreams === 0, 'the server to drop the stream');
  });
});

describe('TLS listeners', () => {
  let tlsServer: HubbleServer;
  let mtlsServer: HubbleServer;

  beforeAll(async () => {
    tlsServer = (await startWithFixture(transports[2]!.options())).server;
    mtlsServer = (await startWithFixture(transports[3]!.options())).server;
  });

  it('mutual TLS refuses a client without a certificate, and TLS refuses plaintext', async () => {
    expect(await serverStatusCode(connectTls(mtlsServer.tcpPort, pki.caCert))).toBe(grpc.status.UNAVAILABLE);
    expect(await serverStatusCode(connect(`127.0.0.1:${tlsServer.tcpPort}`))).toBe(grpc.status.UNAVAILABLE);
  });

  it('a client that does not trust the server CA is refused', async () => {
    expect(await serverStatusCode(connectTls(tlsServer.tcpPort, pki.clientCaCert))).toBe(
      grpc.status.UNAVAILABLE,
    );
  });

  it('re-reads rotated certificate files', async () => {
    expect(await tlsServer.reloadTls()).toBe(false); // files unchanged
    const rotated = makePki();
    const certCopy = join(tmp, 'rot.crt');
    const keyCopy = join(tmp, 'rot.key');
    copyFileSync(pki.serverCert, certCopy);
    copyFileSync(pki.serverKey, keyCopy);
    const server = await startLoopbackHubble(
      { tls: { certFile: certCopy, keyFile: keyCopy, reloadIntervalMs: 0 } },
      { nodeName: 'node-a' },
    );
    servers.push(server);
    const status = (caFile: string) => serverStatusCode(connectTls(server.tcpPort, caFile));
    expect(await status(pki.caCert)).toBe(grpc.status.OK);
    copyFileSync(rotated.serverCert, certCopy);
    copyFileSync(rotated.serverKey, keyCopy);
    expect(await server.reloadTls()).toBe(true);
    expect(await status(rotated.caCert)).toBe(grpc.status.OK);
    expect(await status(pki.caCert)).toBe(grpc.status.UNAVAILABLE);
    rmSync(rotated.dir, { recursive: true, force: true });
  });

  it('refuses to start with a key that does not match the certificate, naming the files', async () => {
    await expect(
      startLoopbackHubble({ tls: { certFile: pki.serverCert, keyFile: pki.clientKey } }),
    ).rejects.toThrow(/server\.crt.*client\.key.*cannot be used together/);
  });
});

describe('followers', () => {
  let server: HubbleServer;
  let bus: FlowBus;
  let c: HubbleClients;

  beforeAll(async () => {
    bus = new FlowBus();
    server = await startLoopbackHubble(
      { ringCapacity: 4095, metrics: { enabled: ['flow'], listenAddress: '127.0.0.1:0' } },
      { flowBus: bus, nodeName: 'node-f' },
    );
    servers.push(server);
    c = connect(`127.0.0.1:${server.tcpPort}`);
  });
  afterAll(() => c.close());

  function follow(client: HubbleClients) {
    const got: FlowResponse[] = [];
    const call = (client.observer.GetFlows as (r: unknown) => grpc.ClientReadableStream<FlowResponse>).call(
      client.observer,
      { follow: true },
    );
    call.on('data', (r: FlowResponse) => got.push(r));
    const closed = new Promise<void>((resolve) => {
      call.on('error', () => resolve());
      call.on('end', () => resolve());
    });
    return { got, call, closed, flows: () => got.filter((r) => r.flow).length };
  }

  it('a slow follower loses flows (reported as lost events) while a fast one gets every flow', async () => {
    const other = connect(`127.0.0.1:${server.tcpPort}`);
    const fast = follow(c);
    const slow = follow(other);
    await waitFor(() => server.activeFlowStreams === 2, 'both streams to open');
    let published = 0;
    const publish = (n: number) => {
      for (let i = 0; i < n; i++) bus.publish(tcpFlow(published + i, { uuid: `s${published + i}` }));
      published += n;
    };
    publish(1);
    await waitFor(() => slow.flows() === 1 && fast.flows() === 1, 'the first flow');
    slow.call.pause(); // stops reading: HTTP/2 flow control backs up to the server
    while (published < 12_000) {
      publish(500);
      await waitFor(() => fast.flows() === published, `the fast follower to receive ${published} flows`);
    }
    slow.call.resume();
    await waitFor(() => {
      const lost = slow.got.reduce((n, r) => n + Number(r.lost_events?.num_events_lost ?? 0), 0);
      return slow.flows() + lost === published;
    }, 'the slow follower to account for every flow');
    const total = published;
    expect(fast.got.some((r) => r.lost_events)).toBe(false);
    expect(uuids(fast.got)).toEqual(Array.from({ length: total }, (_, i) => `s${i}`));
    const lostEvents = slow.got.filter((r) => r.lost_events);
    expect(lostEvents.length).toBeGreaterThan(0);
    expect(lostEvents[0]?.lost_events?.source).toBe('HUBBLE_RING_BUFFER');
    const lost = lostEvents.reduce((n, r) => n + Number(r.lost_events?.num_events_lost), 0);
    // The slow follower's flows are an in-order subsequence ending with the newest flow.
    const slowIds = uuids(slow.got).map((u) => Number(u.slice(1)));
    expect(slowIds.every((v, i) => i === 0 || v > (slowIds[i - 1] as number))).toBe(true);
    expect(slowIds.at(-1)).toBe(total - 1);
    const res = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`);
    expect(await res.text()).toContain(`hubble_lost_events_total{source="hubble_ring_buffer"} ${lost}`);
    fast.call.cancel();
    slow.call.cancel();
    await Promise.all([fast.closed, slow.closed]);
    await waitFor(() => server.activeFlowStreams === 0, 'the streams to close');
    other.close();
  });

  it('serves 100 concurrent followers, each receiving every flow', async () => {
    const channels = Array.from({ length: 4 }, () => connect(`127.0.0.1:${server.tcpPort}`));
    const followers = Array.from({ length: 100 }, (_, i) => follow(channels[i % 4] as HubbleClients));
    await waitFor(() => server.activeFlowStreams === 100, '100 streams to open');
    for (let i = 0; i < 300; i++) bus.publish(tcpFlow(i, { uuid: `m${i}` }));
    await waitFor(() => followers.every((f) => f.flows() === 300), 'every follower to receive 300 flows');
    for (const f of followers) expect(uuids(f.got)).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
    for (const f of followers) f.call.cancel();
    await waitFor(() => server.activeFlowStreams === 0, 'the streams to close');
    for (const ch of channels) ch.close();
  });

  it('a client that disconnects mid-stream is forgotten and others go on', async () => {
    const leaving = connect(`127.0.0.1:${server.tcpPort}`);
    const gone = follow(leaving);
    const staying = follow(c);
    await waitFor(() => server.activeFlowStreams === 2, 'both streams to open');
    bus.publish(tcpFlow(0, { uuid: 'd0' }));
    await waitFor(() => gone.flows() === 1 && staying.flows() === 1, 'the first flow');
    leaving.close(); // the whole channel goes away, not just the call
    gone.call.cancel();
    await waitFor(() => server.activeFlowStreams === 1, 'the server to notice the disconnect');
    for (let i = 1; i <= 50; i++) bus.publish(tcpFlow(i, { uuid: `d${i}` }));
    await waitFor(() => staying.flows() === 51, 'the remaining follower to get every flow');
    staying.call.cancel();
    await waitFor(() => server.activeFlowStreams === 0, 'the streams to close');
  });

  it('serves hubble_* metrics over HTTP on their own listener', async () => {
    const res = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toMatch(
      /^hubble_flows_processed_total\{protocol="TCP",type="Trace",subtype="to-stack",verdict="FORWARDED"\} \d+$/m,
    );
    expect((await fetch(`http://127.0.0.1:${server.metricsPort}/other`)).status).toBe(404);
  });
});

describe('lifecycle and configuration', () => {
  it('reports FlowBus drops as OBSERVER_EVENTS_QUEUE lost events', async () => {
    const bus = new FlowBus({ capacity: 4 });
    const server = await startLoopbackHubble({}, { flowBus: bus });
    servers.push(server);
    for (let i = 0; i < 10; i++) bus.publish(tcpFlow(i, { uuid: `q${i}` }));
    await waitFor(() => server.observer.seenFlows === 4, 'the queued flows');
    bus.publish(tcpFlow(10, { uuid: 'q10' }));
    await waitFor(() => server.observer.seenFlows === 5, 'the next batch');
    const client = connect(`127.0.0.1:${server.tcpPort}`);
    const rs = await getFlows(client.observer, {});
    client.close();
    expect(uuids(rs)).toEqual(['q0', 'q1', 'q2', 'q3', 'q10']);
    const lost = rs.find((r) => r.lost_events);
    expect(lost?.lost_events).toMatchObject({ source: 'OBSERVER_EVENTS_QUEUE', num_events_lost: '6' });
  });

  it('Peer.Notify streams peers the agent adds and removes', async () => {
    const server = await startLoopbackHubble({ clusterName: 'prod', nodeIp: '10.201.0.10' }, { nodeName: 'node-a' });
    servers.push(server);
    const client = connect(`127.0.0.1:${server.tcpPort}`);
    const got: Record<string, unknown>[] = [];
    const call = (
      client.peer.Notify as (r: unknown) => grpc.ClientReadableStream<Record<string, unknown>>
    ).call(client.peer, {});
    call.on('data', (d: Record<string, unknown>) => got.push(d));
    call.on('error', () => undefined);
    await waitFor(() => got.length === 1, 'this node');
    server.peers.upsert({ name: 'node-b', address: '10.201.0.11' });
    server.peers.upsert({ name: 'node-b', address: '10.201.0.12' });
    server.peers.remove('node-b');
    await waitFor(() => got.length === 4, 'the changes');
    expect(got.map((g) => [g.name, g.address, g.type])).toEqual([
      ['prod/node-a', `10.201.0.10:${server.tcpPort}`, 'PEER_ADDED'],
      ['prod/node-b', '10.201.0.11', 'PEER_ADDED'],
      ['prod/node-b', '10.201.0.12', 'PEER_UPDATED'],
      ['prod/node-b', '10.201.0.12', 'PEER_DELETED'],
    ]);
    call.cancel();
    await waitFor(() => server.activeWatchStreams === 0, 'the watch to close');
    client.close();
  });

  it('stop() ends open streams with OK, turns health NOT_SERVING for watchers, and removes the socket', async () => {
    const socket = join(tmp, 'stop.sock');
    const bus = new FlowBus();
    const server = await startHubble({
      flowBus: bus,
      nodeName: 'n',
      options: { unixSocket: socket, listenAddress: false },
    });
    const client = connect(`unix:${socket}`);
    const statuses: string[] = [];
    const watch = (client.health.Watch as (r: unknown) => grpc.ClientReadableStream<{ status: string }>).call(
      client.health,
      {
        service: 'hubble.server.Observer',
      },
    );
    watch.on('data', (d: { status: string }) => statuses.push(d.status));
    watch.on('error', () => undefined);
    const flows = getFlows(client.observer, { follow: true }, 30_000);
    await waitFor(() => server.activeFlowStreams === 1 && statuses.length === 1, 'the streams to open');
    await server.stop();
    await expect(flows).resolves.toEqual([]);
    expect(statuses).toEqual(['SERVING', 'NOT_SERVING']);
    expect(existsSync(socket)).toBe(false);
    await server.stop(); // idempotent
    client.close();
  });

  it('replaces a stale socket file but refuses to replace a regular file', async () => {
    const path = join(tmp, 'stale.sock');
    // A process that exits without unlinking its socket leaves the file behind, as a crashed agent would.
    execFileSync('python3', [
      '-c',
      'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])',
      path,
    ]);
    expect(statSync(path).isSocket()).toBe(true);
    const server = await startHubble({
      flowBus: new FlowBus(),
      nodeName: 'n',
      options: { unixSocket: path, listenAddress: false },
    });
    servers.push(server);
    const client = connect(`unix:${path}`);
    expect(await code(unary(client.observer, 'ServerStatus'))).toBe(grpc.status.OK);
    client.close();
    const regular = join(tmp, 'regular-file');
    writeFileSync(regular, '');
    await expect(
      startHubble({
        flowBus: new FlowBus(),
        nodeName: 'n',
        options: { unixSocket: regular, listenAddress: false },
      }),
    ).rejects.toThrow(/exists and is not a socket/);
    expect(existsSync(regular)).toBe(true);
  });

  it('reads Retina’s Hubble ConfigMap keys from the agent configuration', () => {
    const { config } = parseConfig(
      {
        controlPlane: 'hubble',
        'cluster-name': 'prod',
        'hubble-event-buffer-capacity': '8191',
        'hubble-socket-path': '/run/h.sock',
        'hubble-listen-address': ':4244',
        'hubble-tls-cert-file': '/var/lib/cilium/tls/hubble/server.crt',
        'hubble-tls-key-file': '/var/lib/cilium/tls/hubble/server.key',
        'hubble-tls-client-ca-files': '/var/lib/cilium/tls/hubble/client-ca.crt',
        'hubble-metrics-server': ':9965',
        'hubble-metrics':
          'flow:sourceEgressContext=pod;destinationIngressContext=pod tcp:sourceEgressContext=pod;destinationIngressContext=pod',
        'enable-hubble-open-metrics': 'false',
      },
      { env: {}, platform: 'linux' },
    );
    const { options, warnings } = hubbleOptionsFromConfig(config);
    expect(warnings).toEqual([]);
    expect(options).toEqual({
      ringCapacity: 8191,
      unixSocket: '/run/h.sock',
      listenAddress: ':4244',
      tls: {
        certFile: '/var/lib/cilium/tls/hubble/server.crt',
        keyFile: '/var/lib/cilium/tls/hubble/server.key',
        clientCaFiles: ['/var/lib/cilium/tls/hubble/client-ca.crt'],
      },
      metrics: {
        enabled: [
          'flow:sourceEgressContext=pod;destinationIngressContext=pod',
          'tcp:sourceEgressContext=pod;destinationIngressContext=pod',
        ],
        listenAddress: ':9965',
        openMetrics: false,
      },
      clusterName: 'prod',
    });
    const disabled = hubbleOptionsFromConfig({
      ...config,
      ciliumOptions: { ...config.ciliumOptions, 'hubble-disable-tls': 'true' },
    });
    expect(disabled.options.tls).toBeUndefined();
    expect(() =>
      hubbleOptionsFromConfig({ ...config, ciliumOptions: { 'hubble-event-buffer-capacity': '5000' } }),
    ).toThrow(/hubble-event-buffer-capacity: "5000"/);
  });

  it('names the address when a listener cannot bind', async () => {
    const busy = await startLoopbackHubble();
    servers.push(busy);
    await expect(
      startLoopbackHubble({ listenAddress: `127.0.0.1:${busy.tcpPort}` }),
    ).rejects.toThrow(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busy.tcpPort}`));
  });
});
