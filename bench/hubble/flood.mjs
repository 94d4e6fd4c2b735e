// hubble flood benchmark: /metrics scrape latency and the node's RSS while flows arrive at a flood rate and 50
// followers (`GetFlows { follow: true }`, one connection each) stream them, against the standard control plane's
// /metrics under the same flood in the same run (the baseline: core's metrics module counting every flow).
//
// Three processes, as on a node: flood-node.mjs is the agent (FlowBus, the mode's metrics endpoint, Hubble's
// Observer, and a publisher standing in for the plugins), followers.mjs the 50 `hubble observe -f` clients, and this
// one Prometheus, scraping /metrics every 100 ms. Each round runs the standard baseline, then Hubble with Retina's
// default hubble_* metrics and the followers, each mode in a fresh node process; RSS is that process's peak
// (sampled every 100 ms inside it), idle RSS its RSS once listening, before the first flow.
//
// usage: npm run bench:hubble-flood -w @retina-ts/bench -- [--seconds 5] [--rounds 3] [--rate 50000] [--followers 50]
// needs: a built @retina-ts/core and @retina-ts/hubble.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { get } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { protoDir } from '@retina-ts/hubble';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '50000' },
    followers: { type: 'string', default: '50' },
  },
});
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const perSecond = Number(args.rate);
const followers = Number(args.followers);
for (const [k, v] of Object.entries({ seconds, rounds, rate: perSecond, followers })) {
  if (!(v > 0)) {
    console.error(`bench: --${k} must be a positive number`);
    process.exit(2);
  }
}
const tmp = mkdtempSync(path.join(os.tmpdir(), 'retina-hubble-flood-'));

function scrapeOnce(port) {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      res.resume();
      res.on('end', () => resolve(performance.now() - start));
    }).on('error', reject);
  });
}

/** The next IPC message of `type` from `child`. */
function message(child, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (msg.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(msg);
    };
    const onExit = (code) => reject(new Error(`flood-node.mjs exited (${code}) before '${type}'`));
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/** One mode in a fresh node process: its flood while this process scrapes, then its account. */
async function round(mode) {
  const socket = path.join(tmp, `hubble-${mode}.sock`);
  const node = fork(new URL('./flood-node.mjs', import.meta.url), [mode, String(perSecond), socket], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let clients;
  try {
    const { port, idleRssMb } = await message(node, 'ready');
    if (mode === 'hubble') {
      clients = fork(new URL('./followers.mjs', import.meta.url), [socket, String(followers), protoDir()], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      for (;;) {
        node.send({ type: 'streams' });
        if ((await message(node, 'streams')).active >= followers) break;
        await sleep(20);
      }
    }
    const latencies = [];
    let scraping = true;
    const scraper = (async () => {
      while (scraping) {
        latencies.push(await scrapeOnce(port));
        await sleep(100);
      }
    })();
    node.send({ type: 'flood', ms: seconds * 1000 });
    const done = await message(node, 'done');
    scraping = false;
    await scraper;
    latencies.sort((a, b) => a - b);
    const q = (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    if (process.env.FLOOD_DEBUG) console.error({ mode, lagMaxMs: done.lagMaxMs, published: done.published });
    return {
      p50: q(0.5),
      p90: q(0.9),
      max: latencies.at(-1),
      scrapes: latencies.length,
      rssMb: done.rssMb,
      idleRssMb,
    };
  } finally {
    if (clients) {
      clients.send('stop');
      await once(clients, 'exit');
    }
    if (node.exitCode === null) {
      node.send({ type: 'stop' });
      await once(node, 'exit');
    }
  }
}

const fmt = (n) => n.toFixed(n < 10 ? 1 : 0);
const row = (name, r) =>
  `| ${name} | ${r.scrapes} | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.max)} | ${Math.round(r.rssMb)} | ${Math.round(r.idleRssMb)} |`;
console.log(
  `hubble flood: ${perSecond.toLocaleString('en-US')} flows/s for ${seconds} s per mode, ${followers} followers in hubble mode, Node ${process.version}`,
);
console.log(
  '| round / mode | scrapes | scrape p50 ms | p90 ms | max ms | node max RSS MiB | node idle RSS MiB |',
);
console.log('|---|---|---|---|---|---|---|');
try {
  for (let r = 1; r <= rounds; r++) {
    console.log(row(`${r} standard (baseline)`, await round('standard')));
    console.log(row(`${r} hubble, ${followers} followers`, await round('hubble')));
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
