/**
 * What Retina's own Helm charts render starts the real `retina-agent` unchanged. The fixtures under
 * fixtures/retina-charts are helm's output (each names its chart and --set values); each runs in a network namespace
 * of its own, where the chart's `0.0.0.0:10093` is free, and is scraped through a forwarder inside that namespace.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync, type ChildProcess } from 'node:child_process';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, expect, it } from 'vitest';
import { parseConfigYaml } from '@retina-ts/core';
import { createNetns, describeKernel, startForwarderIn, type Netns } from '@retina-ts/testkit';
import { eventually, spawnAgent, stopAgent, tempDir, type AgentProcess } from './helpers.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'retina-charts');
const cwd = tempDir('retina-agent-charts-');

/** GET over the forwarder's unix socket. */
function get(socketPath: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.end();
  });
}

interface Running {
  ns: Netns;
  agent: AgentProcess;
  forwarder: ChildProcess;
  socket: string;
}
let running: Running | undefined;

afterEach(async () => {
  if (!running) return;
  const { ns, agent, forwarder } = running;
  running = undefined;
  await stopAgent(agent);
  forwarder.kill('SIGTERM');
  ns.destroy();
});

/** Starts the agent with `args` in a fresh namespace and a forwarder to its chart port 10093. */
async function start(name: string, args: string[], env: NodeJS.ProcessEnv = {}, mountSetup?: string): Promise<Running> {
  const ns = createNetns('rcf');
  try {
    // A node's network: an interface with the default route (packetforward watches that one). The names are the
    // namespace's own; the gateway is on-link and never answers.
    ns.ip(['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1']);
    for (const link of ['eth0', 'eth1']) ns.ip(['link', 'set', link, 'up']);
    ns.ip(['addr', 'add', '10.251.0.1/24', 'dev', 'eth0']);
    ns.ip(['route', 'add', 'default', 'via', '10.251.0.2', 'dev', 'eth0']);
    const agent = await spawnAgent(args, {
      cwd,
      netns: ns.name,
      env: { NODE_NAME: `chart-${name}`, ...env },
      ...(mountSetup ? { mountSetup } : {}),
    });
    expect(agent.port).toBe(10093);
    const socket = join(cwd, `${name}.sock`);
    const forwarder = await startForwarderIn(ns, socket, '127.0.0.1:10093');
    running = { ns, agent, forwarder, socket };
    return running;
  } catch (err) {
    ns.destroy();
    throw err;
  }
}

/** Waits until /metrics shows `family` (a plugin's first read lands shortly after start). */
async function scrapeFamily(r: Running, family: string): Promise<string> {
  return eventually(async () => {
    const { status, body } = await get(r.socket, '/metrics');
    return status === 200 && body.includes(`\n${family}{`) ? body : undefined;
  });
}

/** The agent's log must hold no config warnings: every key of the chart is known. */
function configWarnings(r: Running): unknown[] {
  return r.agent.logs.filter((l) => String(l['msg']).startsWith('config:'));
}

const fixture = (name: string): string => join(FIXTURES, name);

/** A test CA with a Hubble server certificate (`*.default.hubble-grpc.cilium.io`) and a client certificate, by openssl. */
function testCertificates(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const ssl = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=retina-ts test CA']);
  for (const [name, san] of [['server', 'DNS:*.default.hubble-grpc.cilium.io'], ['client', 'DNS:relay.hubble-relay.cilium.io']] as const) {
    ssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    writeFileSync(join(dir, `${name}.ext`), `subjectAltName=${san}\n`);
    ssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
  }
  writeFileSync(join(dir, 'client-ca.crt'), readFileSync(join(dir, 'ca.crt')));
  return dir;
}

describeKernel("retina-agent runs what Retina's charts render", () => {
  const standard: Array<[string, string]> = [
    ['standard-default', 'networkobservability_tcp_connection_stats'],
    ['standard-podlevel-remote', 'networkobservability_tcp_connection_stats'],
    ['standard-annotations', 'networkobservability_tcp_connection_stats'],
    ['standard-tcx-conntrack-ringbuffer', 'networkobservability_forward_count'],
  ];
  for (const [name, family] of standard) {
    it(`${name}: starts unchanged and serves ${family}`, async () => {
      const r = await start(name, ['--config', fixture(`${name}.config.yaml`)]);
      const body = await scrapeFamily(r, family);
      expect(body).toContain('networkobservability_plugin_status');
      expect(configWarnings(r)).toEqual([]);
    });
  }

  it('standard-windows (retina-config-win): starts on Linux, hnsstats reported unsupported', async () => {
    const r = await start('windows', ['--config', fixture('standard-windows.config.yaml')]);
    const plugins = await eventually(async () => {
      const { body } = await get(r.socket, '/plugins');
      const table = (JSON.parse(body) as { plugins: Array<{ name: string; state: string }> }).plugins;
      return table.some((p) => p.name === 'hnsstats' && p.state === 'unsupported') ? table : undefined;
    });
    expect(plugins.map((p) => [p.name, p.state])).toEqual([['hnsstats', 'unsupported']]);
    const { status, body } = await get(r.socket, '/metrics');
    expect(status).toBe(200);
    expect(body).toContain('networkobservability_plugin_status{');
    expect(configWarnings(r)).toEqual([]);
  });

  it('hubble chart ConfigMap, one file per key, read with --config-dir', async () => {
    // What the kubelet mounts: each key of the ConfigMap's data as a file of the folder.
    const data = (parseConfigYaml(readFileSync(fixture('hubble-default.configmap-data.yaml'), 'utf8')) as { data: Record<string, string> })
      .data;
    const dir = join(cwd, 'hubble-config');
    mkdirSync(dir);
    for (const [key, value] of Object.entries(data)) writeFileSync(join(dir, key), value);
    // The chart turns on the Hubble control plane with mutual TLS: its DaemonSet mounts the server certificate,
    // key and client CA under /var/lib/cilium/tls/hubble. Here a test CA's files sit there in a private mount
    // namespace (a tmpfs over /var/lib and /run, so the host is untouched).
    const certs = testCertificates(join(cwd, 'hubble-certs'));
    const r = await start('hubble', ['--config-dir', dir], {}, [
      'mount -t tmpfs retina-test /var/lib',
      'mount -t tmpfs retina-test /run',
      'mkdir -p /var/lib/cilium/tls/hubble /run/cilium',
      `cp ${certs}/server.crt ${certs}/server.key ${certs}/client-ca.crt /var/lib/cilium/tls/hubble/`,
    ].join('\n'));
    await scrapeFamily(r, 'networkobservability_tcp_connection_stats');
    expect(configWarnings(r)).toEqual([]);
    const hubble = r.agent.logs.find((l) => String(l['msg']).toLowerCase().includes('hubble'));
    expect(hubble, 'the agent runs the Hubble control plane').toBeDefined();
    // The Hubble listener is up with TLS on the chart's :4244.
    const grpc = join(cwd, 'hubble-grpc.sock');
    const fwd = await startForwarderIn(r.ns, grpc, '127.0.0.1:4244');
    try {
      const alpn = await new Promise<string>((resolve, reject) => {
        const s = tlsConnect({ path: grpc, servername: 'chart-hubble.default.hubble-grpc.cilium.io', ca: readFileSync(join(certs, 'ca.crt')), cert: readFileSync(join(certs, 'client.crt')), key: readFileSync(join(certs, 'client.key')), ALPNProtocols: ['h2'] });
        s.on('secureConnect', () => { resolve(String(s.alpnProtocol)); s.destroy(); });
        s.on('error', reject);
      });
      expect(alpn).toBe('h2');
    } finally {
      fwd.kill('SIGTERM');
    }
  });
});
