// Follower process for the hubble benchmark: opens N `GetFlows { follow: true }` streams on the agent's unix socket,
// each on its own HTTP/2 connection (as N `hubble observe -f` processes would), and counts what each receives.
// Runs apart from the server so decoding on the client side does not share the server's event loop.
//
// usage (spawned by run.mjs with an IPC channel): node followers.mjs <socket> <n> <proto dir>
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const [socket, countArg, protos] = process.argv.slice(2);
const n = Number(countArg);
if (!socket || !(n > 0) || !protos || !process.send) {
  console.error(
    'followers.mjs: usage node followers.mjs <socket> <n> <proto dir>, spawned with an IPC channel',
  );
  process.exit(2);
}

const def = protoLoader.loadSync(['observer/observer.proto'], {
  includeDirs: [protos],
  keepCase: true,
  longs: String,
  enums: String,
});
const { observer } = grpc.loadPackageDefinition(def);

// lost: every lost event whatever its source; lostRing / lostQueue: those of HUBBLE_RING_BUFFER (this follower
// skipped ahead) and OBSERVER_EVENTS_QUEUE (the server's intake dropped them before the ring).
const counts = Array.from({ length: n }, () => ({ flows: 0, lost: 0, lostRing: 0, lostQueue: 0, lastMs: 0 }));
const clients = [];
const streams = [];
for (let i = 0; i < n; i++) {
  // A private subchannel pool gives every client its own connection.
  const client = new observer.Observer(`unix://${socket}`, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
  clients.push(client);
  const stream = client.GetFlows({ follow: true });
  const c = counts[i];
  stream.on('data', (r) => {
    if (r.flow) c.flows++;
    else if (r.lost_events) {
      const lost = Number(r.lost_events.num_events_lost);
      c.lost += lost;
      if (r.lost_events.source === 'HUBBLE_RING_BUFFER') c.lostRing += lost;
      else if (r.lost_events.source === 'OBSERVER_EVENTS_QUEUE') c.lostQueue += lost;
    }
    c.lastMs = Date.now();
  });
  stream.on('error', (err) => {
    if (err.code !== grpc.status.CANCELLED) console.error(`follower ${i}: ${err.message}`);
  });
  streams.push(stream);
}

process.on('message', (msg) => {
  if (msg === 'report') process.send({ counts });
  else if (msg === 'stop') {
    for (const s of streams) s.cancel();
    for (const c of clients) c.close();
    process.disconnect();
  }
});
