// Hostile GetFlows requests against the agent's Hubble socket: a catastrophic-backtracking dns_query pattern over
// long DNS names, and a request listing 100,000 source and 100,000 destination IPs.
import { getFlows, hubbleDnsAgent, observerClient, sleep } from './hubble-dns-names.mjs';

/** Polls /healthz every 50 ms until stopped; resolves with the slowest answer (ms) and failures. */
function pollHealth(agent) {
  let running = true;
  const done = (async () => {
    let worst = 0;
    let failed = 0;
    while (running) {
      const start = performance.now();
      try {
        const res = await fetch(agent.url('/healthz'), { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        if (res.status !== 200) failed++;
      } catch {
        failed++;
      }
      worst = Math.max(worst, performance.now() - start);
      await sleep(50);
    }
    return { worst, failed };
  })();
  return async () => {
    running = false;
    return done;
  };
}

const PATTERN = '^(a+)+$';

const redos = {
  name: 'hubble-regex-redos',
  expected: `GetFlows dns_query ${PATTERN} over 200 long DNS names answered within 2 s; /healthz stays under 250 ms`,
  async run(ctx) {
    const { agent, socket, send } = await hubbleDnsAgent(ctx, 'r', 'flow');
    send(200, 'long');
    await sleep(1_000);
    const client = observerClient(ctx, socket);
    const all = await getFlows(client, { number: 1000 });
    await (await fetch(agent.url('/healthz'))).arrayBuffer(); // the probe's own first-request set-up is not timed
    const stop = pollHealth(agent);
    const r = await getFlows(client, { number: 1000, whitelist: [{ dns_query: [PATTERN] }] });
    const health = await stop();
    const alive = agent.child.exitCode === null;
    return {
      observed:
        `${all.flows} flows in the ring; filtered GetFlows ${r.code} in ${r.ms.toFixed(0)} ms with ${r.flows} flows; ` +
        `/healthz slowest ${health.worst.toFixed(0)} ms, ${health.failed} failed; agent ${alive ? 'running' : 'exited'}`,
      ok: alive && all.flows > 0 && r.code === 'OK' && r.ms < 2_000 && health.worst < 250 && health.failed === 0,
    };
  },
};

const IPS = 100_000;

const bigIpList = {
  name: 'hubble-ip-list',
  expected: `GetFlows with ${IPS.toLocaleString('en-US')} source + ${IPS.toLocaleString('en-US')} destination IPs refused with INVALID_ARGUMENT or RESOURCE_EXHAUSTED naming the limit; agent running`,
  async run(ctx) {
    const { agent, socket } = await hubbleDnsAgent(ctx, 'i', 'flow');
    const ips = (base) => Array.from({ length: IPS }, (_, i) => `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    // The client may send more than the server accepts; the server's limit is what is probed.
    const client = observerClient(ctx, socket, { 'grpc.max_send_message_length': -1 });
    const r = await getFlows(client, {
      number: 10,
      whitelist: [{ source_ip: ips(10), destination_ip: ips(11) }],
    });
    const after = await getFlows(client, { number: 1 });
    const alive = agent.child.exitCode === null;
    return {
      observed: `${r.code}: ${r.details} (${r.ms.toFixed(0)} ms); a plain GetFlows afterwards ${after.code}; agent ${alive ? 'running' : 'exited'}`,
      ok:
        alive &&
        (r.code === 'INVALID_ARGUMENT' || r.code === 'RESOURCE_EXHAUSTED') &&
        /\d/.test(r.details) &&
        after.code === 'OK',
    };
  },
};

export default [redos, bigIpList];
