/**
 * The requirement checker the agent gives the plugin manager, over scripted probes: capabilities (with
 * alternatives) first, then the kernel probes; features it cannot probe are refused by name. And through a whole
 * agent: an unmet requirement leaves the plugin unsupported on /plugins and in plugin_status.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { definePlugin, type Plugin, type PluginRequirements, type PluginStatus } from '@retina-ts/core';
import { createAgent, type Agent } from '../src/index.js';
import { probeRequirementChecker, type RequirementProbes } from '../src/requirements.js';

/** Probes of a host with the given capabilities, where `refused` program/map types and features are unmet. */
function fakeProbes(caps: string[], refused: string[] = []): RequirementProbes & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    hasCapabilities: (wanted) => wanted.every((c) => caps.includes(c)),
    explainUnsupported: ({ capabilities }) => `the process lacks ${capabilities.join(', ')}`,
    unmetRequirements: (req) => {
      calls.push('unmetRequirements');
      return [...(req.programTypes ?? []), ...(req.mapTypes ?? []), ...(req.features ?? [])]
        .filter((x) => refused.includes(x))
        .map((x) => `${x} refused`);
    },
  };
}

describe('probeRequirementChecker', () => {
  it('accepts any one capability of an alternative list', async () => {
    const check = probeRequirementChecker(async () => fakeProbes(['CAP_SYS_ADMIN', 'CAP_NET_RAW']));
    expect(await check({ capabilities: [['CAP_BPF', 'CAP_SYS_ADMIN'], 'CAP_NET_RAW'] }, 'dns')).toEqual([]);
  });

  it('reports missing capabilities alone, without probing a kernel that would refuse the probes', async () => {
    const probes = fakeProbes(['CAP_NET_ADMIN']);
    const check = probeRequirementChecker(async () => probes);
    expect(
      await check({ capabilities: [['CAP_BPF', 'CAP_SYS_ADMIN'], 'CAP_NET_RAW'], programTypes: ['socket_filter'] }, 'dns'),
    ).toEqual(['the process lacks CAP_BPF (or CAP_SYS_ADMIN)', 'the process lacks CAP_NET_RAW']);
    expect(probes.calls).toEqual([]);
  });

  it('then lists every program type, map type and feature the kernel refuses', async () => {
    const check = probeRequirementChecker(async () => fakeProbes(['CAP_BPF'], ['ringbuf', 'btf']));
    expect(
      await check({ capabilities: ['CAP_BPF'], programTypes: ['sched_cls'], mapTypes: ['ringbuf'], features: ['btf'] }, 'x'),
    ).toEqual(['ringbuf refused', 'btf refused']);
  });

  it('refuses a feature it cannot probe, naming it and the known ones', async () => {
    const check = probeRequirementChecker(async () => fakeProbes([]));
    expect(await check({ features: ['quantum entanglement'] }, 'x')).toEqual([
      'requires.features "quantum entanglement" cannot be checked (known: btf, tp_btf, tcx, tracefs, bpffs)',
    ]);
  });

  it('needs no probes for notes and minKernel, and says so when bpf-runtime cannot be loaded', async () => {
    const check = probeRequirementChecker(() => Promise.reject(new Error('Cannot find package @retina-ts/bpf-runtime')));
    expect(await check({ minKernel: '5.8', notes: ['procfs (/proc/net)'] }, 'linuxutil')).toEqual([]);
    expect(await check({ programTypes: ['sched_cls'] }, 'packetforward')).toEqual([
      '@retina-ts/bpf-runtime, which checks the kernel, cannot be loaded: Cannot find package @retina-ts/bpf-runtime',
    ]);
  });

});

describe('the agent enforces requires', () => {
  let agent: Agent | undefined;
  afterEach(async () => {
    await agent?.stop();
    agent = undefined;
  });

  it('shows a plugin whose requirement is unmet as unsupported on /plugins and in plugin_status, and runs the others', async () => {
    let inits = 0;
    const plugin = (name: string, requires: PluginRequirements) =>
      definePlugin({
        name,
        version: '0.0.0',
        platforms: ['linux'],
        description: `${name}: a test plugin`,
        requires,
        create: (): Plugin => ({
          init: () => {
            inits++;
          },
          start: (signal) => new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true })),
          stop: () => {},
        }),
      });
    agent = await createAgent({
      config: { apiServer: { host: '127.0.0.1', port: 0 }, logLevel: 'error' },
      plugins: [plugin('needs-magic', { features: ['magic'] }), plugin('needs-words', { notes: ['a working network'] })],
      env: {},
    });
    await agent.start();
    const base = `http://127.0.0.1:${agent.address()!.port}`;
    const { plugins } = (await (await fetch(`${base}/plugins`)).json()) as { plugins: PluginStatus[] };
    const byName = Object.fromEntries(plugins.map((p) => [p.name, p]));
    expect(byName['needs-magic']).toMatchObject({
      state: 'unsupported',
      description: 'needs-magic: a test plugin',
      lastError: 'requires.features "magic" cannot be checked (known: btf, tp_btf, tcx, tracefs, bpffs)',
    });
    expect(byName['needs-words']).toMatchObject({ state: 'running', description: 'needs-words: a test plugin' });
    expect(inits).toBe(1);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/^controlplane_networkobservability_plugin_status\{plugin="needs-magic",state="unsupported"[^}]*\} 1$/m);
  });
});
