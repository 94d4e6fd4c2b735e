// One node of the Hubble fan-in benchmark (fanin.mjs): a FlowBus and a Hubble server on a loopback port, in its own
// process. On request it publishes synthetic flows at a paced rate, waits until the observer's intake has taken
// every flow (converted into the ring or reported lost), and answers with its own account.
//
// usage (spawned by fanin.mjs with an IPC channel): node fanin-node.mjs <node name>
import { setImmediate as yieldLoop, setTimeout as sleep } from 'node:timers/promises';
import { FlowBus } from '@retina-ts/core';
import { startHubble } from '@retina-ts/hubble';
import { clusterFlows } from './flows.mjs';

const nodeName = process.argv[2];
if (!nodeName || !process.send) {
  console.error('fanin-node.mjs: usage node fanin-node.mjs <node name>, spawned with an IPC channel');
  process.exit(2);
}

const flows = clusterFlows(65536, nodeName);
const bus = new FlowBus({ capacity: 65536 });
const server = await startHubble({
  flowBus: bus,
  nodeName,
  options: { unixSocket: false, listenAddress: '127.0.0.1:0', ringCapacity: 4095 },
});
const ring = server.observer.ring;

/** Until the bus is empty and the observer's intake queue too (a turn passes with the ring unchanged). */
async function intakeDrained() {
  for (;;) {
    const end = ring.end;
    await yieldLoop();
    await yieldLoop();
    if (bus.size === 0 && ring.end === end) return;
  }
}

/** Publishes `perSecond` flows per second for `ms`, in 10 ms slices (as run.mjs's paced publisher). */
async function publishPaced(perSecond, ms) {
  const start = performance.now();
  const total = Math.round((perSecond * ms) / 1000);
  let published = 0;
  let i = 0;
  for (;;) {
    const elapsed = performance.now() - start;
    const due = Math.min(Math.round((perSecond * Math.min(elapsed, ms)) / 1000), total);
    for (; published < due; published++) {
      bus.publish(flows[i]);
      i = (i + 1) % flows.length;
    }
    if (elapsed >= ms) break;
    await sleep(10);
  }
  return { published, secs: (performance.now() - start) / 1000 };
}

process.on('message', async (msg) => {
  if (msg.type === 'publish') {
    const seenBefore = server.observer.seenFlows;
    const droppedBefore = bus.dropped;
    const pub = await publishPaced(msg.perSecond, msg.ms);
    await intakeDrained();
    const converted = server.observer.seenFlows - seenBefore;
    process.send({
      type: 'published',
      node: nodeName,
      published: pub.published,
      secs: pub.secs,
      converted,
      // Flows the bus dropped or the intake queue dropped; the server reports both as OBSERVER_EVENTS_QUEUE.
      queueLost: pub.published - converted,
      busDropped: bus.dropped - droppedBefore,
    });
  } else if (msg.type === 'stop') {
    await server.stop();
    bus.close();
    process.disconnect();
  }
});
process.send({ type: 'ready', node: nodeName, port: server.tcpPort });
