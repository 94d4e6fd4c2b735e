/**
 * End to end: the operator's controllers and a real `retina-agent` with `remoteContext: true` and
 * `enableRetinaEndpoint: true`, against the API server double. Two pods, registered on two nodes, are network
 * namespaces on a bridge; the agent learns them only from the RetinaEndpoints the operator writes and applies the
 * MetricsConfiguration only once the operator accepted it. UDP between the pods shows up with both pods' names;
 * deleting a pod deletes its RetinaEndpoint and, after the ttl, its series.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble, type KubeObject } from '@retina-ts/k8s-apiserver-double';
import {
  describeKernel,
  parseSeries,
  PodBridge,
  podSeriesCount,
  select,
  sendUdp,
  type PodNetwork,
} from '@retina-ts/testkit';
import { createLogger } from '@retina-ts/core';
import { MetricsConfigurationController, RetinaEndpointController } from '../src/index.js';

const AGENT_CLI = createRequire(import.meta.url).resolve('@retina-ts/agent/cli');
const TTL = '2s';
const logger = createLogger({ level: 'silent' });

interface Pod extends PodNetwork {
  name: string;
  node: string;
  ip: string;
}

async function eventually(what: string, fn: () => Promise<boolean> | boolean, attempts = 150, everyMs = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`not reached: ${what}`);
}

describeKernel('operator and agent in remote context with RetinaEndpoints', () => {
  let api: ApiServerDouble;
  let agent: ChildProcess | undefined;
  let port = 0;
  let bridge: PodBridge | undefined;
  let mcs: MetricsConfigurationController | undefined;
  let res: RetinaEndpointController | undefined;
  const pods: Pod[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'operator-e2e-'));
  const metrics = async () => parseSeries(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());

  beforeAll(async () => {
    api = await startApiServerDouble();
    await writeKubeconfig(join(dir, 'kubeconfig'), { server: api.url });
    const kc = new KubeConfig();
    kc.loadFromFile(join(dir, 'kubeconfig'));
    for (const [n, ip] of [
      ['node-a', '10.239.0.1'],
      ['node-b', '10.239.0.2'],
    ] as const) {
      api.create('nodes', { metadata: { name: n }, status: { addresses: [{ type: 'InternalIP', address: ip }] } });
    }
    api.create('namespaces', { metadata: { name: 'shop' } });
    // No status: the agent may apply it only once the operator has accepted it.
    api.create('metricsconfigurations', {
      metadata: { name: 'pods' },
      spec: {
        contextOptions: [{ metricName: 'forward_count', sourceLabels: ['ip', 'podname'], destinationLabels: ['ip', 'podname'], ttl: TTL }],
        namespaces: { include: ['shop'] },
      },
    });

    // Pods: network namespaces on a bridge without addresses, registered on two nodes.
    bridge = new PodBridge();
    for (const [i, node] of ['node-a', 'node-b'].entries()) {
      const ip = `10.239.8.${11 + i}`;
      const { netns, veth } = bridge.addPod(`rtop${i}`, `${ip}/24`);
      const name = `web-${i}-${process.pid % 1000}`;
      pods.push({ name, node, ip, netns, veth });
      api.create('pods', {
        metadata: { name, namespace: 'shop', labels: { app: 'web' } },
        spec: { nodeName: node, containers: [{ name: 'web', image: 'web' }] },
        status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], hostIP: node === 'node-a' ? '10.239.0.1' : '10.239.0.2' },
      });
    }

    mcs = new MetricsConfigurationController(kc, { logger, retryMs: 50, informerRestartMs: 100 });
    res = new RetinaEndpointController(kc, { logger, retryMs: 50, informerRestartMs: 100 });
    await mcs.start();
    await res.start();

    writeFileSync(
      join(dir, 'config.yaml'),
      [
        'apiServer: { host: 127.0.0.1, port: 0 }',
        'enabledPlugin: [packetparser]',
        'enablePodLevel: true',
        'remoteContext: true',
        'enableRetinaEndpoint: true',
        'plugins:',
        '  packetparser:',
        '    hostInterface: false',
      ].join('\n'),
    );
    agent = spawn(process.execPath, [AGENT_CLI, '--config', join(dir, 'config.yaml')], {
      env: { ...process.env, NODE_NAME: 'node-a', NODE_IP: '10.239.0.1', KUBECONFIG: join(dir, 'kubeconfig') },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    port = await new Promise<number>((resolve, reject) => {
      createInterface({ input: agent!.stdout! }).on('line', (line) => {
        try {
          const rec = JSON.parse(line) as { port?: unknown; msg?: unknown };
          if (typeof rec.port === 'number' && String(rec.msg).startsWith('serving /metrics')) resolve(rec.port);
        } catch {
          // not a log record
        }
      });
      agent!.on('exit', (code) => reject(new Error(`agent exited (${String(code)}) before listening`)));
    });
  }, 60_000);

  afterAll(async () => {
    if (agent && agent.exitCode === null) {
      agent.kill('SIGTERM');
      await new Promise((r) => agent!.on('exit', r));
    }
    await res?.stop();
    await mcs?.stop();
    bridge?.destroy();
    await api?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the operator accepts the MetricsConfiguration and keeps a RetinaEndpoint per pod', async () => {
    await eventually('accepted', () => api.get<KubeObject & { status?: { state?: string } }>('metricsconfigurations', undefined, 'pods').status?.state === 'Accepted');
    await eventually('two endpoints', () => api.list('retinaendpoints').length === 2);
    // The agent reads RetinaEndpoints, not pods.
    expect(api.requests({ resource: 'retinaendpoints.retina.sh', verb: 'watch' }).length).toBeGreaterThan(0);
  });

  it("UDP between the pods carries both pods' names, from their RetinaEndpoints", async () => {
    const [a, b] = pods as [Pod, Pod];
    const labels = { source_podname: a.name, destination_podname: b.name, source_ip: a.ip, destination_ip: b.ip };
    await eventually(
      'forward_count with both pod names',
      async () => {
        sendUdp(a.netns, { address: b.ip, port: 9999, count: 2 });
        return select(await metrics(), 'networkobservability_adv_forward_count', labels).sum > 0;
      },
      150,
      200,
    );
  });

  it('deleting a pod deletes its RetinaEndpoint and, after the ttl, its series', async () => {
    const [a, b] = pods as [Pod, Pod];
    api.delete('pods', 'shop', b.name);
    await eventually('endpoint gone', () => !api.list('retinaendpoints').some((e) => e.metadata.name === b.name));
    await eventually(
      "b's series expired",
      async () => {
        sendUdp(b.netns, { address: a.ip, port: 9998, count: 1 });
        return podSeriesCount(await metrics(), 'networkobservability_adv_forward_count', b.name) === 0;
      },
      80,
      250,
    );
  });
});
