// A Relay-like Hubble client, built only from the recorded official Hubble API (observer, peer): it follows one
// agent's Peer.Notify until it knows `nodes` peers, connects to each at the address and TLS server name announced,
// and merges their ServerStatus, GetNodes and GetFlows answers as Hubble Relay does. Runs inside a test network
// namespace (`ip netns exec ... node relay-client.mjs '<json>'`) and prints one JSON object.
//
// Argument: { seed, nodes, timeoutMs, tls?: { ca, cert, key }, whitelist? }
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { recordPackageDefinition } from '../../hubble/api-record/record.mjs';

const args = JSON.parse(process.argv[2] ?? '{}');
const deadline = Date.now() + (args.timeoutMs ?? 10_000);
const pkg = grpc.loadPackageDefinition(
  recordPackageDefinition({ keepCase: true, longs: String, enums: String, defaults: true, oneofs: true }),
);

function credentials() {
  if (!args.tls) return grpc.credentials.createInsecure();
  const own = (path) => (path ? readFileSync(path) : null);
  return grpc.credentials.createSsl(readFileSync(args.tls.ca), own(args.tls.key), own(args.tls.cert));
}

function channelOptions(serverName) {
  return serverName ? { 'grpc.ssl_target_name_override': serverName, 'grpc.default_authority': serverName } : {};
}

/** PEER_ADDED / UPDATED notifications until `args.nodes` peers are known. */
function discover() {
  const seed = args.seed;
  const client = new pkg.peer.Peer(seed.address, credentials(), channelOptions(seed.serverName));
  const peers = new Map();
  return new Promise((resolve, reject) => {
    const call = client.Notify({}, { deadline });
    call.on('data', (change) => {
      if (change.type === 'PEER_DELETED') peers.delete(change.name);
      else peers.set(change.name, change);
      if (peers.size >= args.nodes) {
        call.cancel();
        client.close();
        resolve([...peers.values()]);
      }
    });
    call.on('error', (err) => {
      if (err.code !== grpc.status.CANCELLED) reject(new Error(`Peer.Notify on ${seed.address}: ${err.message}`));
    });
  });
}

function unary(client, method, request) {
  return new Promise((resolve, reject) =>
    client[method](request, { deadline }, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

function flows(client) {
  return new Promise((resolve, reject) => {
    const out = [];
    const call = client.GetFlows({ number: 4095, whitelist: args.whitelist ?? [] }, { deadline });
    call.on('data', (r) => r.flow && out.push(r));
    call.on('end', () => resolve(out));
    call.on('error', reject);
  });
}

const peers = await discover();
const perNode = await Promise.all(
  peers.map(async (peer) => {
    const client = new pkg.observer.Observer(
      peer.address,
      credentials(),
      channelOptions(peer.tls?.server_name),
    );
    try {
      const [status, nodes, got] = await Promise.all([
        unary(client, 'ServerStatus', {}),
        unary(client, 'GetNodes', {}),
        flows(client),
      ]);
      return { peer, status, nodes: nodes.nodes, flows: got };
    } finally {
      client.close();
    }
  }),
);
const merged = perNode
  .flatMap((n) => n.flows)
  .sort((a, b) => Number(a.time.seconds) - Number(b.time.seconds) || a.time.nanos - b.time.nanos);
const num = (k) => perNode.reduce((sum, n) => sum + Number(n.status[k] ?? 0), 0);
console.log(
  JSON.stringify({
    peers: peers.map((p) => ({ name: p.name, address: p.address, tls: p.tls?.server_name ?? '' })),
    // ServerStatus as Relay aggregates it: flows summed, nodes counted.
    status: { num_flows: num('num_flows'), max_flows: num('max_flows'), seen_flows: num('seen_flows'), num_connected_nodes: perNode.length },
    nodes: perNode.flatMap((n) => n.nodes),
    flows: merged.map((r) => r.flow),
  }),
);
