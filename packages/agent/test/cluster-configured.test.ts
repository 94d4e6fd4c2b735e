/**
 * Whether the agent reaches a cluster is decided from the environment it was given (`AgentOptions.env`), never
 * from the process's own.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startApiServerDouble, writeKubeconfig, type ApiServerDouble } from '@retina-ts/k8s-apiserver-double';
import { createAgent, type Agent } from '../src/index.js';
import { clusterConfigured, SERVICE_ACCOUNT_TOKEN } from '../src/cluster.js';
import { tempDir } from './helpers.js';

describe('clusterConfigured', () => {
  const none = (): boolean => false;
  const token = (path: string): boolean => path === SERVICE_ACCOUNT_TOKEN;

  it('is true for a kubeconfig given or named by KUBECONFIG in the given environment', () => {
    expect(clusterConfigured({ kubeconfig: '/k', env: {}, exists: none })).toBe(true);
    expect(clusterConfigured({ env: { KUBECONFIG: '/k' }, exists: none })).toBe(true);
    expect(clusterConfigured({ env: {}, exists: none })).toBe(false);
  });

  it('is true in a pod only with both the service host and the mounted token', () => {
    expect(clusterConfigured({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, exists: token })).toBe(true);
    expect(clusterConfigured({ env: { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, exists: none })).toBe(false);
    expect(clusterConfigured({ env: {}, exists: token })).toBe(false);
  });
});

describe('an agent created with env', () => {
  let api: ApiServerDouble | undefined;
  let agent: Agent | undefined;
  afterEach(async () => {
    await agent?.stop();
    await api?.close();
    agent = undefined;
    api = undefined;
  });

  async function kubernetesStatus(env: NodeJS.ProcessEnv): Promise<{ state: string; mode: string }> {
    agent = await createAgent({
      config: { apiServer: { host: '127.0.0.1', port: 0 }, logLevel: 'error', controlPlane: 'standard' },
      plugins: [],
      env,
    });
    await agent.start();
    const res = await fetch(`http://127.0.0.1:${agent.address()!.port}/plugins`);
    return ((await res.json()) as { kubernetes: { state: string; mode: string } }).kubernetes;
  }

  it('reaches the cluster its KUBECONFIG names, though the process has none', async () => {
    expect(process.env['KUBECONFIG']).toBeUndefined();
    api = await startApiServerDouble();
    const kubeconfig = join(tempDir('agent-env'), 'kubeconfig');
    await writeKubeconfig(kubeconfig, { server: api.url });
    const status = await kubernetesStatus({ KUBECONFIG: kubeconfig });
    expect(status.state).not.toBe('disabled');
    expect(status.mode).toBe('kubeconfig');
  });

  it('stays standalone with an empty environment', async () => {
    const status = await kubernetesStatus({});
    expect(status.state).toBe('disabled');
  });
});
