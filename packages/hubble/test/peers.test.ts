/**
 * Peer.Notify as Hubble Relay reads it: every node of the cluster at `<InternalIP>:<port>` (IPv4 preferred, IPv6
 * bracketed), names `<cluster>/<node>`, TLS server names as Cilium derives them, and ADDED / UPDATED / DELETED as the
 * node watcher reports nodes. Clients come from the recorded official API.
 */
import type * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { hubbleServerName, peerAddress, preferredNodeIp } from '../src/index.js';
import type { HubbleServer } from '../src/index.js';
import { connect, startLoopbackHubble, waitFor } from './helpers.js';

const servers: HubbleServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.stop();
});

type Change = { name: string; address: string; type: string; tls: { server_name: string } | null };

/** Opens Peer.Notify on `server` and collects every change. */
function notify(server: HubbleServer): { got: Change[]; close(): void } {
  const client = connect(`127.0.0.1:${server.tcpPort}`);
  const got: Change[] = [];
  const call = (client.peer.Notify as (r: unknown) => grpc.ClientReadableStream<Change>).call(client.peer, {});
  call.on('data', (d: Change) => got.push(d));
  call.on('error', () => undefined);
  return {
    got,
    close() {
      call.cancel();
      client.close();
    },
  };
}

describe('peer addresses and names', () => {
  it('prefers the first IPv4 InternalIP and brackets IPv6', () => {
    expect(preferredNodeIp(['fd00::1', '192.168.1.2', '192.168.1.3'])).toBe('192.168.1.2');
    expect(preferredNodeIp(['fd00::1', 'fd00::2'])).toBe('fd00::1');
    expect(preferredNodeIp(['not-an-ip'])).toBeUndefined();
    expect(preferredNodeIp([])).toBeUndefined();
    expect(peerAddress('192.168.1.2', 4244)).toBe('192.168.1.2:4244');
    expect(peerAddress('fd00::1', 4244)).toBe('[fd00::1]:4244');
  });

  it('derives TLS server names as Cilium does (dots become dashes, cluster default when unnamed)', () => {
    expect(hubbleServerName('node-1.eu.example', 'prod.eu')).toBe('node-1-eu-example.prod-eu.hubble-grpc.cilium.io');
    expect(hubbleServerName('node-1', undefined)).toBe('node-1.default.hubble-grpc.cilium.io');
  });
});

describe('Peer.Notify fed by the node watcher', () => {
  it('announces every node at <InternalIP>:<port>, takes this node\'s address from its node object, and follows changes', async () => {
    const server = await startLoopbackHubble({ clusterName: 'prod' }, { nodeName: 'node-a' });
    servers.push(server);
    const port = server.tcpPort!;
    const n = notify(server);
    await waitFor(() => n.got.length === 1, 'this node');
    // Without NODE_IP and before the node watcher reports it, this node is known only by its local listener.
    expect(n.got[0]).toMatchObject({ name: 'prod/node-a', address: `localhost:${port}`, type: 'PEER_ADDED' });

    server.setNode('node-a', ['10.202.0.1']);
    server.setNode('node-b', ['fd00:202::2', '10.202.0.2']);
    server.setNode('node-c', ['fd00:202::3']);
    server.setNode('node-b', ['10.202.0.2']); // same address: no notification
    server.setNode('node-b', ['10.202.0.22']);
    server.setNode('node-c', []); // no address Relay could dial: withdrawn
    server.removeNode('node-b');
    server.removeNode('node-a'); // this node stays announced
    server.removeNode('node-z'); // unknown: nothing
    await waitFor(() => n.got.length === 8, 'the changes');
    expect(n.got.map((g) => [g.name, g.address, g.type])).toEqual([
      ['prod/node-a', `localhost:${port}`, 'PEER_ADDED'],
      ['prod/node-a', `10.202.0.1:${port}`, 'PEER_UPDATED'],
      ['prod/node-b', `10.202.0.2:${port}`, 'PEER_ADDED'],
      ['prod/node-c', `[fd00:202::3]:${port}`, 'PEER_ADDED'],
      ['prod/node-b', `10.202.0.22:${port}`, 'PEER_UPDATED'],
      ['prod/node-c', `[fd00:202::3]:${port}`, 'PEER_DELETED'],
      ['prod/node-b', `10.202.0.22:${port}`, 'PEER_DELETED'],
      ['prod/node-a', `localhost:${port}`, 'PEER_UPDATED'],
    ]);
    expect(n.got.every((g) => g.tls === null)).toBe(true);
    n.close();

    // A client connecting later starts from the current set.
    server.setNode('node-d', ['10.202.0.4']);
    const later = notify(server);
    await waitFor(() => later.got.length === 2, 'the snapshot');
    expect(later.got.map((g) => [g.name, g.type]).sort()).toEqual([
      ['prod/node-a', 'PEER_ADDED'],
      ['prod/node-d', 'PEER_ADDED'],
    ]);
    later.close();
  });

  it('keeps NODE_IP for this node over its node object', async () => {
    const server = await startLoopbackHubble({ nodeIp: '10.203.0.1' }, { nodeName: 'node-a' });
    servers.push(server);
    server.setNode('node-a', ['10.203.0.99']);
    server.setNode('node-b', ['10.203.0.2']);
    const n = notify(server);
    await waitFor(() => n.got.length === 2, 'both nodes');
    expect(n.got.map((g) => [g.name, g.address]).sort()).toEqual([
      ['node-a', `10.203.0.1:${server.tcpPort}`],
      ['node-b', `10.203.0.2:${server.tcpPort}`],
    ]);
    n.close();
  });
});
