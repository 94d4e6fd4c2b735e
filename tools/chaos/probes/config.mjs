// Bad configuration values: the agent should refuse to start with exit code 2 and a message naming the key.
import { createServer } from 'node:net';

const BASE = ['apiServer: { host: 127.0.0.1, port: 0 }', 'enabledPlugin: []'];

/** A probe running the agent with `lines` added to a minimal config (or `args`), expecting exit 2 naming `key`. */
function refused(name, key, { lines = [], args = [], setup } = {}) {
  return {
    name: `config-${name}`,
    expected: `exit 2, message names ${key}`,
    async run(ctx) {
      const extra = setup ? await setup(ctx) : {};
      const config = ctx.config([
        ...BASE.filter((l) => !(extra.replaceApiServer && l.startsWith('apiServer'))),
        ...lines,
        ...(extra.lines ?? []),
      ]);
      const r = ctx.runAgent(['--config', config, ...args], { timeoutMs: 10_000 });
      const text = r.stderr + r.stdout;
      const named = text.includes(key);
      const how = r.signal ? `still running after 10 s (stopped with ${r.signal})` : `exit ${r.code}`;
      const message = (text.split('\n').find((l) => l.includes(key)) ?? text.split('\n')[0] ?? '').trim();
      return {
        observed: `${how}${named ? `, names ${key}` : `, does not name ${key}`}: ${message.slice(0, 160)}`,
        ok: r.code === 2 && named,
      };
    },
  };
}

/** Holds a TCP port on loopback for the probe's duration. */
async function portInUse(ctx) {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  ctx.defer(() => new Promise((resolve) => server.close(resolve)));
  return {
    replaceApiServer: true,
    lines: [`apiServer: { host: 127.0.0.1, port: ${server.address().port} }`],
  };
}

export default [
  refused('duration-huge', 'metricsIntervalDuration', { lines: ['metricsIntervalDuration: 100000h'] }),
  refused('duration-tiny', 'metricsIntervalDuration', { lines: ['metricsIntervalDuration: 1ns'] }),
  refused('interval-1e308', 'metricsInterval', { lines: ['metricsInterval: 1e308'] }),
  refused('hubble-address', 'hubble-listen-address', {
    lines: ['controlPlane: hubble', 'hubble-listen-address: ":abc"'],
  }),
  refused('port-in-use', 'apiServer', { setup: portInUse }),
  refused('stop-timeout', '--stop-timeout', { args: ['--stop-timeout', 'abc'] }),
];
