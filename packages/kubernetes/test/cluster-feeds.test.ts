import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InMemoryIpCache, NodeEventHub } from '@retina-ts/core';
import {
  advancedSpecOf,
  feedNodeEvents,
  followPodLevelMetrics,
  ipsOfInterest,
  type KubernetesHandle,
  type MetricsConfigurationInfo,
  type PodLevelTarget,
} from '../src/index.js';
import { captureLogger } from './helpers.js';

/** A handle whose state the test sets and whose events it emits, as the watchers would. */
class FakeHandle extends EventEmitter {
  apiServer = ['10.96.0.1'];
  namespaces: string[] = [];
  observedPods: string[] = [];
  mc: MetricsConfigurationInfo | undefined;
  links = [{ name: 'veth-a', index: 7 }];
  apiServerIps(): string[] {
    return this.apiServer;
  }
  observedNamespaces(): string[] {
    return this.namespaces;
  }
  observedPodIps(): string[] {
    return this.observedPods;
  }
  metricsConfiguration(): MetricsConfigurationInfo | undefined {
    return this.mc;
  }
  podInterfaces(): { name: string; index: number }[] {
    return this.links;
  }
  asHandle(): KubernetesHandle {
    return this as unknown as KubernetesHandle;
  }
}

function cache(): InMemoryIpCache {
  const c = new InMemoryIpCache();
  c.upsertPod({ namespace: 'web', name: 'web-1', ips: ['10.0.0.1'], nodeName: 'node-a' });
  c.upsertPod({ namespace: 'web', name: 'web-2', ips: ['10.0.0.2'], nodeName: 'node-b' });
  c.upsertPod({ namespace: 'db', name: 'db-0', ips: ['10.0.1.1'], nodeName: 'node-b' });
  return c;
}

const sorted = (ips: readonly string[]): string[] => [...new Set(ips)].sort();

describe('ipsOfInterest', () => {
  it('is this node pods and the API server without annotations', () => {
    const k8s = new FakeHandle();
    k8s.observedPods = ['10.0.1.1'];
    expect(sorted(ipsOfInterest(k8s, cache(), { enableAnnotations: false, nodeName: 'node-a' }))).toEqual([
      '10.0.0.1',
      '10.96.0.1',
    ]);
  });

  it('is the annotated pods, every pod of an annotated namespace and the API server with annotations', () => {
    const k8s = new FakeHandle();
    k8s.namespaces = ['web'];
    k8s.observedPods = ['10.0.1.1'];
    expect(sorted(ipsOfInterest(k8s, cache(), { enableAnnotations: true, nodeName: 'node-a' }))).toEqual([
      '10.0.0.1',
      '10.0.0.2',
      '10.0.1.1',
      '10.96.0.1',
    ]);
  });
});

describe('feedNodeEvents', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('passes pod interfaces on and recomputes the IPs of interest once per burst of changes', () => {
    vi.useFakeTimers();
    const k8s = new FakeHandle();
    const hub = new NodeEventHub();
    const ipCache = cache();
    const seen: string[][] = [];
    hub.onIpsOfInterest((ips) => seen.push(sorted(ips)));
    const stop = feedNodeEvents(k8s.asHandle(), hub, { ipCache, enableAnnotations: false, nodeName: 'node-a' });
    expect(hub.podInterfaces().map((i) => i.name)).toEqual(['veth-a']);
    k8s.emit('interface', { type: 'added', link: { name: 'veth-b', index: 8 } });
    k8s.emit('interface', { type: 'removed', link: { name: 'veth-a', index: 7 } });
    expect(hub.podInterfaces().map((i) => i.name)).toEqual(['veth-b']);

    // What is known at start goes in on the first tick.
    vi.runOnlyPendingTimers();
    expect(seen).toEqual([['10.0.0.1', '10.96.0.1']]);

    ipCache.upsertPod({ namespace: 'web', name: 'web-3', ips: ['10.0.0.3'], nodeName: 'node-a' });
    for (let i = 0; i < 5; i++) k8s.emit('pod', {});
    k8s.apiServer = ['10.96.0.2'];
    k8s.emit('apiServerIps', {});
    vi.runOnlyPendingTimers();
    expect(seen).toEqual([
      ['10.0.0.1', '10.96.0.1'],
      ['10.0.0.1', '10.0.0.3', '10.96.0.2'],
    ]);

    stop();
    k8s.emit('pod', {});
    k8s.emit('interface', { type: 'added', link: { name: 'veth-c', index: 9 } });
    vi.runOnlyPendingTimers();
    expect(seen).toHaveLength(2);
    expect(hub.podInterfaces().map((i) => i.name)).toEqual(['veth-b']);
  });
});

/** A MetricsConfiguration as the watcher reports it. */
function mcInfo(name: string, ttlMs: number): MetricsConfigurationInfo {
  return {
    name,
    state: 'Accepted',
    createdMs: 0,
    spec: {
      contextOptions: [{ metricName: 'forward_count', sourceLabels: ['ip'], destinationLabels: [], additionalLabels: [], ttlMs }],
      namespaces: { include: ['web'] },
    },
  };
}

/** Records what the follower asks of pod-level metrics. */
function recorder(annotations: boolean, refuse = false): PodLevelTarget & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return {
    calls,
    annotations,
    configure: (spec) => {
      if (refuse) throw new Error('spec.contextOptions.0.metricName: "x" is not an advanced metric');
      calls.push(['configure', spec]);
    },
    observeAnnotated: (ns, ips) => calls.push(['observeAnnotated', [...ns], [...ips]]),
    setObservedPodIps: (ips) => calls.push(['setObservedPodIps', [...ips]]),
    setApiServerIps: (ips) => calls.push(['setApiServerIps', [...ips]]),
  };
}

describe('advancedSpecOf', () => {
  it('hands core the spec with the ttl in milliseconds', () => {
    expect(advancedSpecOf(mcInfo('mc', 30_000))).toEqual({
      contextOptions: [
        { metricName: 'forward_count', sourceLabels: ['ip'], destinationLabels: [], additionalLabels: [], ttl: 30_000 },
      ],
      namespaces: { include: ['web'] },
    });
  });
});

describe('followPodLevelMetrics', () => {
  it('applies the MetricsConfiguration in force now and on each change, and stops following', () => {
    const k8s = new FakeHandle();
    const target = recorder(false);
    const { logger } = captureLogger();
    const stop = followPodLevelMetrics(k8s.asHandle(), target, logger);
    // None in force yet: nothing to apply.
    expect(target.calls).toEqual([]);
    k8s.mc = mcInfo('first', 0);
    k8s.emit('metricsConfiguration', k8s.mc);
    k8s.apiServer = ['10.96.0.9'];
    k8s.emit('apiServerIps', {});
    // Pod changes do not matter without annotations.
    k8s.emit('pod', {});
    expect(target.calls).toEqual([
      ['configure', advancedSpecOf(mcInfo('first', 0))],
      ['setApiServerIps', ['10.96.0.9']],
    ]);
    stop();
    k8s.emit('metricsConfiguration', k8s.mc);
    expect(target.calls).toHaveLength(2);
  });

  it('follows the annotated namespaces and pods in annotation mode', () => {
    const k8s = new FakeHandle();
    k8s.namespaces = ['db'];
    k8s.observedPods = ['10.0.0.2'];
    const target = recorder(true);
    const { logger } = captureLogger();
    followPodLevelMetrics(k8s.asHandle(), target, logger);
    k8s.namespaces = ['db', 'web'];
    k8s.emit('observedNamespaces', k8s.namespaces);
    k8s.observedPods = [];
    k8s.emit('pod', {});
    expect(target.calls).toEqual([
      ['observeAnnotated', ['db'], ['10.0.0.2']],
      ['observeAnnotated', ['db', 'web'], ['10.0.0.2']],
      ['setObservedPodIps', []],
    ]);
  });

  it('logs a refused configuration with the field it names and keeps running', () => {
    const k8s = new FakeHandle();
    k8s.mc = mcInfo('bad', 0);
    const { logger, lines } = captureLogger();
    followPodLevelMetrics(k8s.asHandle(), recorder(false, true), logger);
    const refused = lines.find((l) => l['msg'] === 'advanced metrics configuration refused');
    expect(refused?.['err']).toMatch(/metricName/);
  });
});
