// Abuse of the agent's HTTP listener (apiServer, :10093 in the chart; here loopback on a free port): oversized
// headers and a bounded slowloris. The agent must refuse cleanly and keep answering /metrics.
import { connect } from 'node:net';

import { sleep } from '../lib.mjs';

async function startAgent(ctx) {
  const config = ctx.config(['apiServer: { host: 127.0.0.1, port: 0 }', 'enabledPlugin: []']);
  return ctx.startAgent(['--config', config]);
}

/** Status of GET /metrics, or the error. */
async function metricsStatus(agent) {
  try {
    const res = await fetch(agent.url('/metrics'), { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    return String(res.status);
  } catch (err) {
    return `failed (${err.cause?.code ?? err.message})`;
  }
}

/** Sends raw bytes and resolves with the status line of the answer (or how the connection ended). */
function rawRequest(port, bytes) {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const done = (v) => {
      socket.destroy();
      resolve(v);
    };
    socket.setTimeout(5_000, () => done('no answer in 5 s'));
    socket.on('data', (d) => {
      data += d.toString('latin1');
      if (data.includes('\r\n')) done(data.split('\r\n')[0]);
    });
    socket.on('error', (err) => done(`error ${err.code}`));
    socket.on('close', () => done(data ? data.split('\r\n')[0] : 'closed without an answer'));
    socket.write(bytes);
  });
}

const hugeHeaders = {
  name: 'http-huge-headers',
  expected: '431 for 1 MiB of headers; /metrics still 200; agent running',
  async run(ctx) {
    const agent = await startAgent(ctx);
    const filler = 'x'.repeat(1024);
    const headers = Array.from({ length: 1024 }, (_, i) => `X-Fill-${i}: ${filler}\r\n`).join('');
    const answer = await rawRequest(agent.port, `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers}\r\n`);
    const after = await metricsStatus(agent);
    const alive = agent.child.exitCode === null;
    return {
      observed: `${answer}; /metrics ${after}; agent ${alive ? 'running' : 'exited'}`,
      ok: answer.includes(' 431 ') && after === '200' && alive,
    };
  },
};

const SLOW_CONNECTIONS = 200;
const SLOW_SECONDS = 8;

const slowloris = {
  name: 'http-slowloris',
  expected: `/metrics 200 while ${SLOW_CONNECTIONS} connections trickle headers for ${SLOW_SECONDS} s; agent running`,
  async run(ctx) {
    const agent = await startAgent(ctx);
    const sockets = [];
    let closedByServer = 0;
    for (let i = 0; i < SLOW_CONNECTIONS; i++) {
      const s = connect(agent.port, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => closedByServer++);
      s.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      sockets.push(s);
    }
    ctx.defer(() => sockets.forEach((s) => s.destroy()));
    const statuses = [];
    for (let t = 0; t < SLOW_SECONDS; t++) {
      for (const s of sockets) if (!s.destroyed) s.write(`X-Slow-${t}: 1\r\n`);
      statuses.push(await metricsStatus(agent));
      await sleep(1_000);
    }
    const alive = agent.child.exitCode === null;
    const ok = statuses.every((s) => s === '200') && alive;
    const bad = statuses.filter((s) => s !== '200');
    return {
      observed:
        `/metrics ${bad.length === 0 ? `200 all ${statuses.length} times` : `${bad.length} of ${statuses.length} failed: ${bad[0]}`}; ` +
        `${closedByServer} slow connections closed by the server; agent ${alive ? 'running' : 'exited'}`,
      ok,
    };
  },
};

export default [hugeHeaders, slowloris];
