/**
 * The `retina-operator` binary against the API server double, started as the chart starts it: with
 * `installCRDs: true`, `remoteContext: true` and `enableRetinaEndpoint: true` it installs the three CRDs, accepts
 * a MetricsConfiguration and writes a RetinaEndpoint for a running pod; it is ready on /readyz and stops on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble, type KubeObject } from '@retina-ts/k8s-apiserver-double';

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
let api: ApiServerDouble;
let dir: string;
let child: ChildProcess;
let probePort = 0;

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

beforeAll(async () => {
  api = await startApiServerDouble();
  dir = await mkdtemp(join(tmpdir(), 'operator-cli-'));
  await writeKubeconfig(join(dir, 'kubeconfig'), { server: api.url });
  await writeFile(
    join(dir, 'operator-config.yaml'),
    'installCRDs: true\nenableTelemetry: false\nremoteContext: true\nenableRetinaEndpoint: true\ncaptureJobNumLimit: 0\ntelemetryInterval: "5m"\nlogLevel: "info"\n',
  );
  api.create('metricsconfigurations', {
    metadata: { name: 'm' },
    spec: { contextOptions: [{ metricName: 'drop_count', sourceLabels: ['ip'] }], namespaces: { exclude: ['kube-system'] } },
  });
  api.create('pods', {
    metadata: { name: 'web', namespace: 'shop' },
    spec: { containers: [{ name: 'web', image: 'web' }] },
    status: { phase: 'Running', podIP: '10.1.0.5', hostIP: '10.0.0.1' },
  });
  probePort = await freePort();
  child = spawn(
    process.execPath,
    [CLI, '--config', join(dir, 'operator-config.yaml'), '--kubeconfig', join(dir, 'kubeconfig'), '--probe-addr', `127.0.0.1:${probePort}`],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
});

afterAll(async () => {
  if (child.exitCode === null) child.kill('SIGKILL');
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

describe('retina-operator', () => {
  it('installs the CRDs, accepts the MetricsConfiguration, keeps RetinaEndpoints, and is ready', async () => {
    await api.waitFor(() => api.list('customresourcedefinitions').length === 3, 'three CRDs', 20_000);
    expect(api.list('customresourcedefinitions').map((c) => c.metadata.name).sort()).toEqual([
      'captures.retina.sh',
      'metricsconfigurations.retina.sh',
      'retinaendpoints.retina.sh',
    ]);
    await api.waitFor(
      () => api.get<KubeObject & { status?: { state?: string } }>('metricsconfigurations', undefined, 'm').status?.state === 'Accepted',
      'accepted',
      20_000,
    );
    await api.waitFor(() => api.list('retinaendpoints').length === 1, 'endpoint', 20_000);
    const ready = async () => (await fetch(`http://127.0.0.1:${probePort}/readyz`).catch(() => undefined))?.status === 200;
    for (let i = 0; i < 100 && !(await ready()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await ready()).toBe(true);
  });

  it('stops on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
