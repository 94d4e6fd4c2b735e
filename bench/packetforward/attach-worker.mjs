// Runs the packetforward plugin on one interface of the network namespace it is started in (the benchmark starts
// it with `ip netns exec`), exactly as the agent would: same plugin class, same BPF object, same attach mode.
//
// usage: node attach-worker.mjs <ifname> <tcx|clsact>
// stdout: one JSON line {"ready":true,"attachments":[...]} once attached; when stdin closes, one JSON line with
// the kernel totals {"totals":{"ingress":{"packets","bytes"},"egress":{...}}}, then it stops the plugin and exits.
import { createLogger, createMetricsModule, InMemoryIpCache, parseConfig } from '@retina-ts/core';
import packetforward from '@retina-ts/plugin-packetforward';

const [ifname, mode] = process.argv.slice(2);
if (!ifname || (mode !== 'tcx' && mode !== 'clsact')) {
  process.stderr.write('usage: node attach-worker.mjs <ifname> <tcx|clsact>\n');
  process.exit(2);
}

const { config } = parseConfig({ enableTCX: mode === 'tcx' ? 'auto' : 'off', metricsIntervalDuration: '1h' });
const plugin = packetforward.create();
const ctx = {
  name: 'packetforward',
  config,
  options: { interfaces: [ifname] },
  logger: createLogger({ level: 'silent' }),
  metrics: createMetricsModule(),
  emit: () => true,
  ipCache: new InMemoryIpCache(),
  nodeName: 'bench',
};

await plugin.init(ctx);
const controller = new AbortController();
const running = plugin.start(controller.signal);
process.stdout.write(`${JSON.stringify({ ready: true, attachments: plugin.attachments })}\n`);

process.stdin.resume();
process.stdin.on('end', async () => {
  const totals = plugin.collect();
  const plain = Object.fromEntries(
    Object.entries(totals).map(([dir, t]) => [dir, { packets: Number(t.packets), bytes: Number(t.bytes) }]),
  );
  process.stdout.write(`${JSON.stringify({ totals: plain })}\n`);
  controller.abort();
  await running;
  await plugin.stop();
  process.exit(0);
});
