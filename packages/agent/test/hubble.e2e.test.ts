/**
 * The agent with `controlPlane: hubble`: flows that a plugin emits on the FlowBus are served by GetFlows, queried
 * with a client generated from the official Hubble protos.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble } from '@retina-ts/k8s-apiserver-double';
import { observerClient, type Message, type Observer } from './hubble-client.js';
import { eventually, parseExposition, spawnAgent, tempDir, writePackage, type AgentProcess } from './helpers.js';
import { acceptMetricsConfiguration } from './pod-network.js';

/** Emits one UDP flow every 20 ms, numbered by source port. */
const FLOW_PLUGIN_JS = `
export default {
  name: 'flow-source',
  version: '0.0.1',
  platforms: ['linux'],
  create() {
    let timer;
    return {
      init(ctx) { this.ctx = ctx; },
      start(signal) {
        let n = 0;
        timer = setInterval(() => {
          n++;
          this.ctx.emit({
            timeNs: BigInt(Date.now()) * 1000000n,
            verdict: 1,
            type: 1,
            nodeName: this.ctx.nodeName,
            trafficDirection: 2,
            ip: { source: '10.250.0.1', destination: '10.250.0.2', ipVersion: 1 },
            l4: { udp: { sourcePort: 40000 + n, destinationPort: 53 } },
            emitter: 'flow-source',
          });
        }, 20);
        return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      },
      stop() { clearInterval(timer); },
    };
  },
};
`;

/** A decoded protobuf message as proto-loader returns it. */

/** The last `n` flows GetFlows returns. */
function lastFlows(observer: Observer, n: number): Promise<Message[]> {
  const flows: Message[] = [];
  return new Promise<Message[]>((res, rej) => {
    const stream = observer.GetFlows({ number: n });
    stream.on('data', (r: Message) => r['flow'] && flows.push(r['flow']));
    stream.on('end', () => res(flows));
    stream.on('error', rej);
  });
}

/**
 * The agent with the Hubble control plane and the flow-source plugin, run in `cwd` with its Hubble socket at
 * `socket`, `env` and the `extra` config lines; with an observer client on that socket.
 */
async function startHubbleAgent(
  cwd: string,
  socket: string,
  env: Record<string, string>,
  extra: string[] = [],
): Promise<{ agent: AgentProcess; observer: Observer }> {
  writePackage(cwd, 'flow-source', { retina: { plugin: 'flow-source' } }, FLOW_PLUGIN_JS);
  const config = [
    'apiServer: { host: 127.0.0.1, port: 0 }',
    'controlPlane: hubble',
    'enabledPlugin: [flow-source]',
    `hubble-socket-path: ${socket}`,
    'hubble-listen-address: ""',
    'hubble-metrics-server: ""',
    ...extra,
  ];
  writeFileSync(join(cwd, 'config.yaml'), config.join('\n'));
  const agent = await spawnAgent(['--config', join(cwd, 'config.yaml')], { cwd, env });
  return { agent, observer: observerClient(`unix://${socket}`) };
}

/** Closes the observer client and stops the agent, which must exit 0. */
async function stopHubbleAgent(agent: AgentProcess | undefined, observer: Observer | undefined): Promise<void> {
  observer?.close();
  if (agent && agent.child.exitCode === null) {
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
  }
}

describe('agent with the Hubble control plane', () => {
  let agent: AgentProcess;
  let observer: Observer;
  const cwd = tempDir('retina-hubble');
  const socket = join(cwd, 'hubble.sock');

  beforeAll(async () => {
    ({ agent, observer } = await startHubbleAgent(cwd, socket, { NODE_NAME: 'hubble-node', KUBECONFIG: '' }));
  });

  afterAll(() => stopHubbleAgent(agent, observer));

  it('counts flows in ServerStatus', async () => {
    const status = await eventually(async () => {
      const s = await new Promise<Record<string, unknown>>((res, rej) =>
        observer.ServerStatus({}, (err, r) => (err ? rej(err) : res(r))),
      );
      return Number(s['num_flows']) >= 5 ? s : undefined;
    });
    expect(Number(status['max_flows'])).toBe(4095);
    expect(Number(status['seen_flows'])).toBeGreaterThanOrEqual(Number(status['num_flows']));
  });

  it('serves the last N flows, newest last, with the node name', async () => {
    const flows = await lastFlows(observer, 3);
    expect(flows).toHaveLength(3);
    const ports = flows.map((f) => f['l4']['UDP']['source_port'] as number);
    expect(ports[1]).toBe(ports[0]! + 1);
    expect(ports[2]).toBe(ports[1]! + 1);
    expect(flows[0]!['node_name']).toBe('hubble-node');
    expect(flows[0]!['IP']['source']).toBe('10.250.0.1');
    expect(flows[0]!['verdict']).toBe('FORWARDED');
  });
});

describe('agent in a cluster: flows enriched from the Kubernetes API', () => {
  let agent: AgentProcess;
  let observer: Observer;
  let api: ApiServerDouble;
  const cwd = tempDir('retina-cluster');
  const socket = join(cwd, 'hubble.sock');

  beforeAll(async () => {
    api = await startApiServerDouble();
    api.create('namespaces', { metadata: { name: 'shop' } });
    api.create('deployments.apps', { metadata: { name: 'web', namespace: 'shop', uid: 'dep-1' } });
    api.create('replicasets.apps', {
      metadata: {
        name: 'web-5d9f',
        namespace: 'shop',
        uid: 'rs-1',
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'dep-1', controller: true }],
      },
    });
    api.create('pods', {
      metadata: {
        name: 'web-5d9f-abcde',
        namespace: 'shop',
        labels: { app: 'web' },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-5d9f', uid: 'rs-1', controller: true }],
      },
      spec: { nodeName: 'cluster-node' },
      status: { phase: 'Running', podIP: '10.250.0.1', podIPs: [{ ip: '10.250.0.1' }] },
    });
    api.create('pods', {
      metadata: { name: 'db-0', namespace: 'data', labels: { app: 'db' } },
      spec: { nodeName: 'other-node' },
      status: { phase: 'Running', podIP: '10.250.0.2', podIPs: [{ ip: '10.250.0.2' }] },
    });
    acceptMetricsConfiguration(api, 'observe-shop', {
      metrics: ['forward_count'],
      include: ['shop', 'data'],
      sourceLabels: ['ip', 'namespace', 'podname'],
      destinationLabels: ['podname'],
    });
    const kubeconfig = join(cwd, 'kubeconfig');
    await writeKubeconfig(kubeconfig, { server: api.url });
    ({ agent, observer } = await startHubbleAgent(cwd, socket, { NODE_NAME: 'cluster-node', KUBECONFIG: kubeconfig }, [
      'enablePodLevel: true',
      'remoteContext: true',
      'enableRetinaEndpoint: false',
    ]));
  });

  afterAll(async () => {
    await stopHubbleAgent(agent, observer);
    await api?.close();
  });

  it('reports the watchers synced on /plugins', async () => {
    const k8s = await eventually(async () => {
      const body = (await (await fetch(agent.url('/plugins'))).json()) as { kubernetes?: { state: string; mode: string } };
      return body.kubernetes?.state === 'synced' ? body.kubernetes : undefined;
    });
    expect(k8s.mode).toBe('kubeconfig');
  });

  it('serves flows with pod, namespace, labels and workload on both ends', async () => {
    const flow = await eventually(async () => {
      const [f] = await lastFlows(observer, 1);
      // The workload is resolved through the ReplicaSet's owner, which may land just after the pod itself.
      return f?.['destination']?.['pod_name'] && f?.['source']?.['workloads']?.[0]?.['kind'] === 'Deployment' ? f : undefined;
    });
    expect(flow['source']['pod_name']).toBe('web-5d9f-abcde');
    expect(flow['source']['namespace']).toBe('shop');
    expect(flow['source']['labels']).toContain('k8s:app=web');
    expect(flow['source']['workloads']).toEqual([{ name: 'web', kind: 'Deployment' }]);
    expect(flow['destination']['pod_name']).toBe('db-0');
    expect(flow['destination']['namespace']).toBe('data');
  });

  it('counts the same flows in adv_forward_count with the MetricsConfiguration\'s remote context labels', async () => {
    // Remote context writes the direction as the protobuf enum name, as Retina's dashboards expect.
    const series =
      'networkobservability_adv_forward_count{direction="EGRESS",source_ip="10.250.0.1",source_namespace="shop",' +
      'source_podname="web-5d9f-abcde",destination_podname="db-0",instance="cluster-node"}';
    const value = await eventually(async () => {
      const text = await (await fetch(agent.url('/metrics'))).text();
      const v = parseExposition(text).get(series);
      return v !== undefined && v >= 3 ? v : undefined;
    });
    expect(value).toBeGreaterThanOrEqual(3);
  });
});
