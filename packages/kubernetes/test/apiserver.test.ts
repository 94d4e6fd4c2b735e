import { describe, expect, it } from 'vitest';
import { ApiServerWatcher, serverHost, type ApiServerIpsChange } from '../src/index.js';
import { captureLogger } from './helpers.js';

describe('ApiServerWatcher', () => {
  it('unions the kubeconfig host, the service and the endpoints, and reports changes', async () => {
    let endpoints = ['192.168.1.10', '192.168.1.11'];
    const changes: ApiServerIpsChange[] = [];
    const w = new ApiServerWatcher({
      logger: captureLogger().logger,
      serverUrl: 'https://my-cluster.example:6443',
      resolve: async (host) => (host === 'my-cluster.example' ? ['203.0.113.5'] : []),
      serviceIps: async () => ['10.96.0.1'],
      endpointIps: async () => endpoints,
      onChange: (c) => changes.push(c),
    });
    await w.refresh();
    expect(w.ips()).toEqual(['10.96.0.1', '192.168.1.10', '192.168.1.11', '203.0.113.5']);
    expect(changes).toHaveLength(1);
    endpoints = ['192.168.1.11', '192.168.1.12'];
    await w.refresh();
    expect(changes[1]).toEqual({ ips: ['10.96.0.1', '192.168.1.11', '192.168.1.12', '203.0.113.5'], added: ['192.168.1.12'], removed: ['192.168.1.10'] });
    await w.refresh();
    expect(changes).toHaveLength(2);
    expect(w.status().sources).toEqual({ kubeconfig: 'ok', service: 'ok', endpoints: 'ok' });
  });

  it('knows a literal server address before the first refresh', async () => {
    const changes: ApiServerIpsChange[] = [];
    const w = new ApiServerWatcher({
      logger: captureLogger().logger,
      serverUrl: 'https://10.0.0.1:443',
      serviceIps: async () => ['10.96.0.1'],
      onChange: (c) => changes.push(c),
    });
    expect(w.ips()).toEqual(['10.0.0.1']);
    await w.refresh();
    expect(changes).toEqual([{ ips: ['10.0.0.1', '10.96.0.1'], added: ['10.96.0.1'], removed: [] }]);
    // A name is only known once resolved.
    expect(new ApiServerWatcher({ logger: captureLogger().logger, serverUrl: 'https://k8s.example:6443' }).ips()).toEqual([]);
  });

  it('keeps the last answer of a source that fails', async () => {
    let fail = false;
    const w = new ApiServerWatcher({
      logger: captureLogger().logger,
      serverUrl: 'https://[fd00:96::1]:443',
      serviceIps: async () => {
        if (fail) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        return ['10.96.0.1'];
      },
    });
    await w.refresh();
    fail = true;
    await w.refresh();
    expect(w.ips()).toEqual(['10.96.0.1', 'fd00:96::1']);
    expect(w.status()).toMatchObject({
      sources: { kubeconfig: 'ok', service: 'failed', endpoints: 'unused' },
      lastError: expect.stringMatching(/^apiserver service: API server unreachable \(ECONNREFUSED\)/),
    });
  });

  it('extracts hosts from server URLs', () => {
    expect(serverHost('https://10.0.0.1:443')).toBe('10.0.0.1');
    expect(serverHost('https://[fd00::1]:6443')).toBe('fd00::1');
    expect(serverHost('https://api.example')).toBe('api.example');
    expect(serverHost('not a url')).toBeUndefined();
  });
});
