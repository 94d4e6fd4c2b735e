/**
 * The CLI's contract for settings it cannot use: exit code 2, one line on stderr naming the key, nothing started
 * (no JSON log line on stdout). Covers values the schema refuses and values that only fail on this node.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '@retina-ts/core';
import { preflight } from '../src/preflight.js';
import { AGENT_CLI, tempDir } from './helpers.js';

const cwd = tempDir('retina-agent-config-validation-');

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [AGENT_CLI, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function config(name: string, lines: string[]): string {
  const file = join(cwd, name);
  writeFileSync(file, lines.join('\n'));
  return file;
}

let taken: Server;
let takenPort = 0;
beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((done) => taken.listen(0, '127.0.0.1', done));
  takenPort = (taken.address() as { port: number }).port;
});
afterAll(() => taken.close());

describe('retina-agent exits 2 naming the key', () => {
  // Expected stderr; a RegExp where the resolver's answer depends on the machine's DNS.
  const cases: Array<[string, () => string[], string | RegExp]> = [
    [
      'an interval that overflows a timer',
      () => ['--config', config('interval.yaml', ['apiServer:', '  port: 0', 'metricsIntervalDuration: 100000h'])],
      'retina-agent: config: metricsIntervalDuration: "100000h" is out of range (allowed: 1s to 24h0m0s, or 0 for the default)\n',
    ],
    [
      'a legacy interval that is Infinity in ms',
      () => ['--config', config('legacy.yaml', ['apiServer:', '  port: 0', 'metricsInterval: 1e308'])],
      'retina-agent: config: metricsInterval: 1e+308 is out of range (allowed: 1s to 24h0m0s, or 0 for the default)\n',
    ],
    [
      'a host name that does not resolve',
      () => ['--config', config('host.yaml', ['apiServer:', '  host: no-such-host.invalid', '  port: 0'])],
      /^retina-agent: config: apiServer\.host: "no-such-host\.invalid" (does not resolve \([^)\n]+\)|did not resolve within 5s \(is DNS reachable\?\))\n$/,
    ],
    [
      'a port in use',
      () => ['--config', config('port.yaml', ['apiServer:', '  host: 127.0.0.1', `  port: ${takenPort}`])],
      'retina-agent: config: apiServer.port: PORT is already in use on 127.0.0.1 (another process, or another key, listens there)\n',
    ],
    [
      'a Hubble listen address that is no address',
      () => [
        '--config',
        config('hubble-address.yaml', ['apiServer:', '  port: 0', 'controlPlane: hubble', 'hubble-listen-address: ":abc"']),
      ],
      'retina-agent: config: hubble-listen-address: ":abc" is not a listen address (examples: :4244, 0.0.0.0:4244, [::1]:4244)\n',
    ],
    [
      'a Hubble port in use',
      () => [
        '--config',
        config('hubble-port.yaml', [
          'apiServer:',
          '  host: 127.0.0.1',
          '  port: 0',
          'controlPlane: hubble',
          'hubble-socket-path: ""',
          `hubble-listen-address: "127.0.0.1:${takenPort}"`,
        ]),
      ],
      'retina-agent: config: hubble-listen-address: PORT is already in use on 127.0.0.1 (another process, or another key, listens there)\n',
    ],
    [
      'a bad Hubble metric spec',
      () => [
        '--config',
        config('hubble-metrics.yaml', [
          'apiServer:',
          '  port: 0',
          'controlPlane: hubble',
          'hubble-socket-path: ""',
          'hubble-listen-address: ""',
          'hubble-metrics: "flow:bogus=1"',
        ]),
      ],
      'retina-agent: config: hubble-metrics: hubble metric "flow:bogus=1": unknown option "bogus" (use sourceContext, destinationContext, their Egress/Ingress variants, labelsContext)\n',
    ],
    [
      'a stop timeout that is not a time',
      () => ['--stop-timeout', 'abc'],
      'retina-agent: --stop-timeout: "abc" is not a time from 0 to 3600000 ms (examples: 10000, 10s)\n',
    ],
    [
      'a config folder that does not exist',
      () => ['--config-dir', join(cwd, 'missing')],
      `retina-agent: config: cannot read the folder ${join(cwd, 'missing')}: ENOENT: no such file or directory, scandir '${join(cwd, 'missing')}' (check --config-dir and the ConfigMap mount)\n`,
    ],
  ];
  for (const [what, args, stderr] of cases) {
    it(what, async () => {
      const r = await run(args());
      expect({ code: r.code, stdout: r.stdout }, r.stderr).toEqual({ code: 2, stdout: '' });
      if (typeof stderr === 'string') expect(r.stderr).toBe(stderr.replace('PORT', String(takenPort)));
      else expect(r.stderr).toMatch(stderr);
    });
  }
});

describe('preflight', () => {
  it('bounds name resolution when DNS does not answer', async () => {
    const { config } = parseConfig({ apiServer: { host: 'agent.example', port: 0 } });
    const issues = await preflight(config, { resolve: () => new Promise(() => undefined), resolveTimeoutMs: 50 });
    expect(issues).toEqual([
      { key: 'apiServer.host', message: '"agent.example" did not resolve within 0.05s (is DNS reachable?)' },
    ]);
  });

  it('reports two listeners on one port, naming the later key', async () => {
    const probe = createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    const port = (probe.address() as { port: number }).port;
    await new Promise((done) => probe.close(done));
    const { config } = parseConfig({
      apiServer: { host: '127.0.0.1', port },
      controlPlane: 'hubble',
      'hubble-socket-path': '',
      'hubble-listen-address': '',
      'hubble-metrics': 'flow',
      'hubble-metrics-server': `127.0.0.1:${port}`,
    });
    expect(await preflight(config)).toEqual([
      {
        key: 'hubble-metrics-server',
        message: `${port} is already in use on 127.0.0.1 (another process, or another key, listens there)`,
      },
    ]);
  });

  it('finds nothing wrong in a usable config', async () => {
    const { config } = parseConfig({ apiServer: { host: 'localhost', port: 0 } });
    expect(await preflight(config)).toEqual([]);
  });
});
