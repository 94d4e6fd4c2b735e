/**
 * The real `retina-agent` started on the config.yaml the chart renders, exactly as the DaemonSet starts it
 * (`--config /retina/config/config.yaml` contents, NODE_NAME from the downward API, the cluster's API server), one
 * "node" network namespace per case: it must parse, run its plugins and serve /metrics on the rendered port, and stop
 * with exit code 0. In hubble mode the Hubble server certificates the chart generates are mounted where the rendered
 * config points (a private mount namespace with a tmpfs over /var/lib and /run, so the host is untouched) and a
 * client holding Relay's certificate completes the mutual TLS handshake on :4244, while one without is refused.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble } from '@retina-ts/k8s-apiserver-double';
import {
  createNetnsPair,
  describeKernel,
  getOverUnixSocket,
  packageBin,
  ping,
  startForwarderIn,
  startLocalForwarder,
  uniqueName,
  waitForAsync,
  type LocalForwarder,
  type Netns,
  type NetnsPair,
} from '@retina-ts/testkit';
import { find, render, type KubeObject } from '../src/render.js';
import { MATRIX } from '../src/matrix.js';

/** The `retina-agent` bin of the package that provides it (a fresh install links bins before anything is built). */
const AGENT = packageBin('@retina-ts/agent-cli', 'retina-agent', import.meta.url);
const FIXTURES = join(import.meta.dirname, '..', 'fixtures');

interface Case {
  name: string;
  objects: KubeObject[];
  configMap?: string;
  /** Plugins that must reach `running` (or `unsupported`) on /plugins. */
  expectPlugins: Record<string, string>;
  /** A metric family the running plugins must serve. */
  family: string;
}

const secretFiles = (objects: KubeObject[], name: string): Record<string, string> =>
  Object.fromEntries(
    Object.entries(find(objects, 'Secret', name)['data'] as Record<string, string>).map(([k, v]) => [
      k,
      Buffer.from(v, 'base64').toString(),
    ]),
  );

describeKernel('retina-agent on the config the chart renders', () => {
  let api: ApiServerDouble;
  let apiForwarder: LocalForwarder;
  const work = mkdtempSync(join(tmpdir(), 'retina-chart-agent-'));
  const apiSocket = join(work, 'api.sock');
  const children: ChildProcess[] = [];
  const nodes: NetnsPair[] = [];

  beforeAll(async () => {
    api = await startApiServerDouble();
    api.create('namespaces', { metadata: { name: 'default', annotations: { 'retina.sh': 'observe' } } });
    api.create('metricsconfigurations.retina.sh', {
      apiVersion: 'retina.sh/v1alpha1',
      kind: 'MetricsConfiguration',
      metadata: { name: 'chart' },
      spec: {
        contextOptions: [{ metricName: 'forward_count', sourceLabels: ['ip', 'namespace', 'podname'], destinationLabels: ['ip'] }],
        namespaces: { include: ['default'] },
      },
      status: { state: 'Accepted' },
    });
    apiForwarder = await startLocalForwarder(apiSocket, api.port);
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const n of nodes) n.destroy();
    await apiForwarder?.close();
    await api?.close();
  });

  /** Runs one case: the agent in its own node namespace on the rendered config; returns its namespace and socket dir. */
  async function runCase(c: Case, extra?: (ctx: { ns: Netns; dir: string; nodeName: string }) => Promise<void>): Promise<void> {
    // A node with a default route, as packetforward expects, towards a "network" namespace at the other end.
    const node = createNetnsPair({ prefix: 'rtchart', peerPrefix: 'rtchnet', addresses: { local: '10.248.7.1/30', peer: '10.248.7.2/30' } });
    nodes.push(node);
    const ns = node.ns;
    ns.ip(['route', 'add', 'default', 'via', '10.248.7.2']);
    const dir = mkdtempSync(join(work, `${c.name}-`));
    const nodeName = uniqueName(`chart-${c.name}-`, 40);
    const configText = (find(c.objects, 'ConfigMap', c.configMap ?? 'retina-config')['data'] as Record<string, string>)['config.yaml']!;
    const config = parse(configText) as Record<string, unknown>;
    const port = (config['apiServer'] as { port: number }).port;
    writeFileSync(join(dir, 'config.yaml'), configText);
    // The API server as the agent reaches it in a cluster: an address of its own namespace.
    children.push(await startForwarderIn(ns, '127.0.0.1:6443', apiSocket));
    await writeKubeconfig(join(dir, 'kubeconfig'), { server: 'http://127.0.0.1:6443' });

    const hubbleTls = config['hubble-tls-cert-file'] !== undefined;
    let script = `exec ${JSON.stringify(process.execPath)} ${JSON.stringify(AGENT)} --config ${JSON.stringify(join(dir, 'config.yaml'))}`;
    if (config['controlPlane'] === 'hubble') {
      // Where the DaemonSet mounts the certificates and the socket directory, in a private mount namespace.
      const certs = join(dir, 'certs');
      mkdirSync(certs);
      const server = secretFiles(c.objects, 'hubble-server-certs');
      writeFileSync(join(certs, 'server.crt'), server['tls.crt']!);
      writeFileSync(join(certs, 'server.key'), server['tls.key']!);
      writeFileSync(join(certs, 'client-ca.crt'), server['ca.crt']!);
      script = [
        'set -e',
        'mount -t tmpfs retina-chart-test /var/lib',
        'mount -t tmpfs retina-chart-test /run',
        'mkdir -p /var/lib/cilium/tls/hubble /var/run/cilium',
        hubbleTls ? `cp ${certs}/* /var/lib/cilium/tls/hubble/` : 'true',
        script,
      ].join('\n');
    }
    const child = spawn('ip', ['netns', 'exec', ns.name, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c', script], {
      env: { ...process.env, NODE_NAME: nodeName, NODE_IP: '127.0.0.1', KUBECONFIG: join(dir, 'kubeconfig') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.includes('serving /metrics')) resolve();
      });
      void exited.then((code) => reject(new Error(`${c.name}: the agent exited (${String(code)}) on the rendered config: ${stderr}`)));
    });

    const metricsSocket = join(dir, 'metrics.sock');
    children.push(await startForwarderIn(ns, metricsSocket, `127.0.0.1:${port}`));
    let seen = '';
    const plugins = await waitForAsync(async () => {
      const { body } = await getOverUnixSocket(metricsSocket, '/plugins');
      seen = body;
      const list = JSON.parse(body) as { name: string; state: string }[] | { plugins: { name: string; state: string }[] };
      const states = Object.fromEntries((Array.isArray(list) ? list : list.plugins).map((p) => [p.name, p.state]));
      return Object.entries(c.expectPlugins).every(([n, s]) => states[n] === s) ? states : undefined;
    }, { description: `${c.name}: plugins ${JSON.stringify(c.expectPlugins)}` }).catch((err: Error) => {
      throw new Error(`${err.message}; /plugins said ${seen}`);
    });
    expect(plugins).toMatchObject(c.expectPlugins);
    // Real traffic across the node's interface.
    ping(ns, '10.248.7.2', { count: 3 });
    const metrics = await waitForAsync(async () => {
      const { body } = await getOverUnixSocket(metricsSocket, '/metrics');
      return body.includes(`${c.family}{`) ? body : undefined;
    }, { description: `${c.name}: ${c.family} on /metrics` });
    expect(metrics).toContain(c.family);
    expect((await getOverUnixSocket(metricsSocket, '/readyz')).status).toBe(200);

    await extra?.({ ns, dir, nodeName });

    // The agent process is the last exec of the chain: SIGTERM reaches it as the kubelet's would.
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }

  it('standard control plane, default values', async () => {
    await runCase({
      name: 'standard',
      objects: render({ values: MATRIX['standard']! }),
      expectPlugins: { dropreason: 'running', packetforward: 'running', linuxutil: 'running', dns: 'running' },
      family: 'networkobservability_forward_count',
    });
  });

  it("a values file written for Retina's chart (pod level, remote context, packetparser with a ring buffer)", async () => {
    await runCase({
      name: 'retina-values',
      objects: render({ files: [join(FIXTURES, 'retina-user-values.yaml')] }),
      expectPlugins: { packetparser: 'running', dropreason: 'running', linuxutil: 'running' },
      family: 'networkobservability_tcp_state',
    });
  });

  it('annotations', async () => {
    await runCase({
      name: 'annotations',
      objects: render({ values: MATRIX['annotations']! }),
      expectPlugins: { dropreason: 'running', linuxutil: 'running' },
      family: 'networkobservability_tcp_state',
    });
  });

  it('Windows config (hnsstats reported unsupported on Linux)', async () => {
    await runCase({
      name: 'windows',
      objects: render({ values: MATRIX['windows']! }),
      configMap: 'retina-config-win',
      expectPlugins: { hnsstats: 'unsupported' },
      family: 'controlplane_networkobservability_plugin_status',
    });
  });

  it('hubble control plane with the generated mutual TLS certificates', async () => {
    const objects = render({ values: MATRIX['hubble']! });
    const relay = secretFiles(objects, 'hubble-relay-client-certs');
    await runCase(
      {
        name: 'hubble',
        objects,
        expectPlugins: { dropreason: 'running', linuxutil: 'running' },
        family: 'networkobservability_tcp_state',
      },
      async ({ ns, dir, nodeName }) => {
        const grpcSocket = join(dir, 'hubble-grpc.sock');
        children.push(await startForwarderIn(ns, grpcSocket, '127.0.0.1:4244'));
        const handshake = (withClientCert: boolean) =>
          new Promise<string>((resolve) => {
            const s = tlsConnect({
              path: grpcSocket,
              servername: `${nodeName}.default.hubble-grpc.cilium.io`,
              ca: relay['ca.crt'],
              ...(withClientCert ? { cert: relay['tls.crt'], key: relay['tls.key'] } : {}),
              ALPNProtocols: ['h2'],
            });
            // TLS 1.3 reports a refused client certificate after the handshake: wait for the server's verdict.
            s.on('secureConnect', () => setTimeout(() => { resolve(s.alpnProtocol === 'h2' ? 'accepted' : `alpn ${String(s.alpnProtocol)}`); s.destroy(); }, 300));
            s.on('error', (err) => resolve(`refused: ${err.message}`));
          });
        expect(await handshake(true)).toBe('accepted');
        expect(await handshake(false)).toMatch(/^refused/);
      },
    );
  });
});
