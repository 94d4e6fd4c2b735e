/**
 * Cluster captures: the UI creates a Capture resource (retina.sh/v1alpha1) for the flow's node through the API
 * server double, as the operator or `kubectl retina` would receive it, and reads its state back.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { kubeconfigYaml, startApiServerDouble, type ApiServerDouble } from '@retina-ts/k8s-apiserver-double';
import { tempDir } from '../../agent/test/helpers.js';
import { ClusterCaptures, parseCaptureRequest } from '../src/index.js';

let api: ApiServerDouble;
let kubeconfig: string;

beforeAll(async () => {
  api = await startApiServerDouble();
  api.create('namespaces', { metadata: { name: 'debug' } });
  kubeconfig = join(tempDir('retina-ui-cluster-capture'), 'kubeconfig');
  writeFileSync(kubeconfig, kubeconfigYaml({ server: api.url }));
});

afterAll(async () => {
  await api?.close();
});

it('creates a Capture for the flow node and endpoints, and shows when it completes', async () => {
  const captures = new ClusterCaptures({ namespace: 'debug', kubeconfig });
  const started = await captures.start(
    parseCaptureRequest({ name: 'web-cart', ips: ['10.1.0.1', '10.1.0.2'], port: 8080, durationSeconds: 30, node: 'node-a' }),
  );
  expect(started).toMatchObject({ state: 'running', downloadable: false, filter: 'host 10.1.0.1 and host 10.1.0.2 and port 8080' });
  expect(started.resource).toMatch(/^debug\/web-cart-/);
  const name = started.name;
  const obj = api.get('captures.retina.sh', 'debug', name) as unknown as { spec: Record<string, unknown> };
  expect(obj.spec).toEqual({
    captureConfiguration: {
      captureTarget: { nodeSelector: { matchLabels: { 'kubernetes.io/hostname': 'node-a' } } },
      captureOption: { duration: '30s', pcapFilter: 'host 10.1.0.1 and host 10.1.0.2 and port 8080' },
      includeMetadata: true,
    },
    outputConfiguration: { hostPath: 'retina-ui' },
  });
  expect((await captures.list())[0]).toMatchObject({ name, state: 'running' });
  api.modify('captures.retina.sh', 'debug', name, (c: Record<string, unknown>) => {
    c['status'] = {
      conditions: [{ type: 'complete', status: 'True', reason: 'JobsCompleted', message: 'done', lastTransitionTime: new Date().toISOString() }],
    };
  });
  expect((await captures.list())[0]).toMatchObject({ name, state: 'done' });
});
