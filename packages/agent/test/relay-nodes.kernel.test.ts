/**
 * Hubble across nodes. Three `retina-agent` processes (controlPlane: hubble, packetparser), each in its own "node"
 * network namespace with a pod namespace behind it; nodes sit on one fabric bridge (in a namespace of its own) and
 * route each other's pod subnets. One API server double holds the nodes and pods; each agent reaches it through a
 * forwarder on its loopback. A Relay-like client (relay-client.mjs, from the recorded official API) runs on node 1,
 * discovers the nodes through that agent's Peer service, dials each at the announced `<InternalIP>:4244` (plaintext,
 * then mutual TLS with the announced server names), and merges their answers: a pod-to-pod exchange across nodes
 * appears from both ends with both pods' context, and ServerStatus / GetNodes count three nodes.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble } from '@retina-ts/k8s-apiserver-double';
import {
  createNetns,
  createVethPair,
  describeKernel,
  run,
  sendUdp,
  startForwarderIn,
  startLocalForwarder,
  uniqueName,
  type LocalForwarder,
  type Netns,
} from '@retina-ts/testkit';
import { eventually, spawnAgent, stopAgent, tempDir, type AgentProcess } from './helpers.js';
import { registerDeploymentPod } from './pod-network.js';

const CLUSTER = 'mesh';
const API_PORT = 6443;
const UDP_PORT = 7788;
const RELAY = fileURLToPath(new URL('./relay-client.mjs', import.meta.url));
const AGENT_DIR = fileURLToPath(new URL('..', import.meta.url));

interface Node {
  index: number;
  name: string;
  ip: string;
  ns: Netns;
  pod: { ns: Netns; ip: string; name: string; deployment: string };
  agent?: AgentProcess;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

/** A CA, a server certificate for `*.<cluster>.hubble-grpc.cilium.io` (as the chart issues) and a client one. */
function makePki(dir: string): { ca: string; cert: string; key: string; clientCert: string; clientKey: string } {
  mkdirSync(dir, { recursive: true });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl(['req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=mesh-ca', '-days', '2'], dir);
  writeFileSync(join(dir, 'server.ext'), `subjectAltName=DNS:*.${CLUSTER}.hubble-grpc.cilium.io\n`);
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const who of ['server', 'client']) {
    openssl(['req', ...key, '-keyout', `${who}.key`, '-out', `${who}.csr`, '-subj', `/CN=${who}`], dir);
    openssl(
      ['x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${who}.crt`, '-days', '2', '-extfile', `${who}.ext`],
      dir,
    );
  }
  return {
    ca: join(dir, 'ca.crt'),
    cert: join(dir, 'server.crt'),
    key: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
}

describeKernel('Hubble Peer and Relay-style fan-in over three nodes', () => {
  let api: ApiServerDouble;
  let local: LocalForwarder | undefined;
  const children: ChildProcess[] = [];
  const nodes: Node[] = [];
  let fabric: Netns | undefined;
  const bridge = uniqueName('rthb', 15);
  const cwd = tempDir('retina-hubble-nodes');
  const pki = makePki(join(cwd, 'pki'));
  const started = Date.now();

  const relay = (arg: Json): Json => {
    const out = nodes[0]!.ns.exec(process.execPath, [RELAY, JSON.stringify(arg)], { cwd: AGENT_DIR, timeoutMs: 20_000 });
    return JSON.parse(out.stdout) as Json;
  };

  beforeAll(async () => {
    api = await startApiServerDouble();
    fabric = createNetns('rthfab');
    fabric.ip(['link', 'add', bridge, 'type', 'bridge']);
    fabric.ip(['link', 'set', bridge, 'up']);
    const apiSocket = join(cwd, 'api.sock');
    local = await startLocalForwarder(apiSocket, api.port);
    api.create('namespaces', { metadata: { name: 'mesh' } });
    for (const index of [1, 2, 3]) {
      const name = uniqueName(`hn${index}-`, 30);
      const ip = `10.249.0.${index}`;
      const ns = createNetns(`rthn${index}`);
      const up = createVethPair({ ns, peerNs: fabric, addresses: { local: `${ip}/24` } });
      fabric.ip(['link', 'set', up.peerName, 'master', bridge]);
      ns.exec('sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
      const podNs = createNetns(`rthp${index}`);
      const podIp = `10.250.${index}.2`;
      createVethPair({ ns, peerNs: podNs, addresses: { local: `10.250.${index}.1/24`, peer: `${podIp}/24` } });
      podNs.ip(['route', 'add', 'default', 'via', `10.250.${index}.1`]);
      const deployment = `app${index}`;
      const pod = { ns: podNs, ip: podIp, deployment, name: `${deployment}-5f7d8-x${index}` };
      nodes.push({ index, name, ip, ns, pod });
      api.create('nodes', {
        metadata: { name },
        status: { addresses: [{ type: 'InternalIP', address: ip }, { type: 'Hostname', address: name }] },
      });
      registerDeploymentPod(api, { key: `n${index}`, namespace: 'mesh', deployment, hash: '5f7d8', ip: podIp }, pod.name, name);
      children.push(await startForwarderIn(ns, `127.0.0.1:${API_PORT}`, apiSocket));
    }
    for (const n of nodes) {
      for (const m of nodes) if (m !== n) n.ns.ip(['route', 'add', `10.250.${m.index}.0/24`, 'via', m.ip]);
    }
  }, 60_000);

  afterAll(async () => {
    for (const n of nodes) await stopAgent(n.agent);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    await local?.close();
    for (const n of nodes) {
      n.pod.ns.destroy();
      n.ns.destroy();
    }
    fabric?.destroy();
    await api?.close();
    console.info(`relay-nodes.kernel.test: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  /** Starts the three agents (in parallel) with the given extra config lines. */
  async function startAgents(mode: string, extra: string[]): Promise<void> {
    await Promise.all(
      nodes.map(async (n) => {
        const dir = join(cwd, `${mode}-${n.index}`);
        mkdirSync(dir, { recursive: true });
        await writeKubeconfig(join(dir, 'kubeconfig'), { server: `http://127.0.0.1:${API_PORT}` });
        writeFileSync(
          join(dir, 'config.yaml'),
          [
            'apiServer: { host: 127.0.0.1, port: 0 }',
            'controlPlane: hubble',
            `clusterName: ${CLUSTER}`,
            'enabledPlugin: [packetparser]',
            'enablePodLevel: true',
            'remoteContext: true',
            'enableRetinaEndpoint: false',
            `hubble-socket-path: ${join(dir, 'hubble.sock')}`,
            'hubble-listen-address: ":4244"',
            'plugins:',
            '  packetparser:',
            '    hostInterface: false',
            ...extra,
          ].join('\n'),
        );
        n.agent = await spawnAgent(['--config', join(dir, 'config.yaml')], {
          cwd: dir,
          netns: n.ns.name,
          // No NODE_IP: each agent takes its address from its node object.
          env: { NODE_NAME: n.name, KUBECONFIG: join(dir, 'kubeconfig'), NODE_IP: '' },
        });
      }),
    );
  }

  async function stopAgents(): Promise<void> {
    await Promise.all(nodes.map((n) => stopAgent(n.agent)));
    for (const n of nodes) n.agent = undefined;
  }

  /** Sends UDP from the pod of node 1 to the pod of node 2 until the relay sees it from both nodes. */
  async function crossNodeFlows(arg: Json): Promise<Json> {
    const [a, b] = [nodes[0]!, nodes[1]!];
    const whitelist = [{ source_ip: [a.pod.ip], destination_ip: [b.pod.ip], destination_port: [String(UDP_PORT)] }];
    return eventually(
      async () => {
        sendUdp(a.pod.ns, { address: b.pod.ip, port: UDP_PORT, count: 2 });
        const out = relay({ ...arg, whitelist });
        const names = new Set((out['flows'] as Json[]).map((f) => f['node_name']));
        return names.has(`${CLUSTER}/${a.name}`) && names.has(`${CLUSTER}/${b.name}`) && out;
      },
      40,
      250,
    );
  }

  function expectBothEnds(out: Json): void {
    const [a, b] = [nodes[0]!, nodes[1]!];
    const ctx = (n: Node) => ({
      namespace: 'mesh',
      pod_name: n.pod.name,
      cluster_name: CLUSTER,
      labels: expect.arrayContaining([`k8s:app=${n.pod.deployment}`]),
      workloads: [{ name: n.pod.deployment, kind: 'Deployment' }],
    });
    for (const node of [a, b]) {
      const seen = (out['flows'] as Json[]).filter((f) => f['node_name'] === `${CLUSTER}/${node.name}`);
      expect(seen.length).toBeGreaterThan(0);
      for (const f of seen) {
        expect(f['IP']).toMatchObject({ source: a.pod.ip, destination: b.pod.ip });
        expect(f['source']).toMatchObject(ctx(a));
        expect(f['destination']).toMatchObject(ctx(b));
        expect(f['event_type']).toMatchObject({ type: 4 });
      }
    }
    // Seen entering pod b on node 2: to-endpoint (Cilium's TraceToLxc).
    const entering = (out['flows'] as Json[]).filter((f) => f['node_name'] === `${CLUSTER}/${b.name}` && f['trace_observation_point'] === 'TO_ENDPOINT');
    expect(entering.length).toBeGreaterThan(0);
    expect(entering[0]!['event_type']).toEqual({ type: 4, sub_type: 0 });
    expect(out['status']).toMatchObject({ num_connected_nodes: 3 });
    expect(out['nodes'].map((n: Json) => n['name']).sort()).toEqual(nodes.map((n) => `${CLUSTER}/${n.name}`).sort());
  }

  describe('plaintext', () => {
    beforeAll(() => startAgents('plain', []), 60_000);
    afterAll(() => stopAgents());

    it('announces every node at <InternalIP>:4244 and merges their flows', async () => {
      const out = await crossNodeFlows({ seed: { address: '127.0.0.1:4244' }, nodes: 3 });
      expect(out['peers'].map((p: Json) => [p['name'], p['address'], p['tls']]).sort()).toEqual(
        nodes.map((n) => [`${CLUSTER}/${n.name}`, `${n.ip}:4244`, '']).sort(),
      );
      expectBothEnds(out);
    });
  });

  describe('mutual TLS', () => {
    beforeAll(
      () =>
        startAgents('mtls', [
          'hubble-disable-tls: "false"',
          `hubble-tls-cert-file: ${pki.cert}`,
          `hubble-tls-key-file: ${pki.key}`,
          `hubble-tls-client-ca-files: ${pki.ca}`,
        ]),
      60_000,
    );
    afterAll(() => stopAgents());

    it('announces Cilium server names and serves Relay over mutual TLS', async () => {
      const tls = { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey };
      const seedName = `${nodes[0]!.name}.${CLUSTER}.hubble-grpc.cilium.io`;
      const out = await crossNodeFlows({ seed: { address: '127.0.0.1:4244', serverName: seedName }, nodes: 3, tls });
      expect(out['peers'].map((p: Json) => [p['address'], p['tls']]).sort()).toEqual(
        nodes.map((n) => [`${n.ip}:4244`, `${n.name}.${CLUSTER}.hubble-grpc.cilium.io`]).sort(),
      );
      expectBothEnds(out);
      // Without a client certificate the nodes refuse the relay.
      expect(() => relay({ seed: { address: '127.0.0.1:4244', serverName: seedName }, nodes: 3, tls: { ca: pki.ca }, timeoutMs: 3000 })).toThrow();
    });
  });

  it('keeps the fabric free of addresses', () => {
    const [br] = JSON.parse(fabric!.ip(['-j', 'addr', 'show', 'dev', bridge]).stdout) as Array<{ addr_info: Json[] }>;
    expect(br!.addr_info.filter((a) => a['family'] === 'inet')).toEqual([]);
    expect(run('ip', ['-j', 'link', 'show']).stdout).not.toContain(bridge);
  });
});
