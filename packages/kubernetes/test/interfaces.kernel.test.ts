/**
 * The pod interface watcher on the real kernel: veth pairs with one end in a test network namespace (as a pod's)
 * appear and disappear, and the watcher reports them through rtnetlink notifications.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeKernel, run } from '@retina-ts/testkit';
import { InMemoryIpCache } from '@retina-ts/core';
import { PodInterfaceWatcher, startKubernetes, type InterfaceEvent, type KubernetesHandle } from '../src/index.js';
import { agentConfig, captureLogger, eventually } from './helpers.js';

/** A short random part of interface names, so parallel runs do not collide (at most 15 characters a name). */
const uniqueSuffix = (): string => randomBytes(3).toString('hex');

/** Runs a clean-up command that may find its target already gone. */
const tryRun = (cmd: string, args: string[]): void => void run(cmd, args, { allowFailure: true });

describeKernel('pod interface watcher on the real kernel', () => {
  const s = uniqueSuffix();
  const ns = `rk8s-${s}`;
  const before = `rk${s}pre`; // exists before the watcher starts
  const added = `rk${s}new`;
  const marker = `rk${s}mrk`;
  const inside = `rk${s}in`;
  let watcher: PodInterfaceWatcher;
  const events: InterfaceEvent[] = [];
  const seen = (type: InterfaceEvent['type'], name: string) => events.find((e) => e.type === type && e.link.name === name);

  beforeAll(async () => {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', before, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    watcher = new PodInterfaceWatcher({ logger: captureLogger().logger });
    watcher.on('interface', (e) => events.push(e));
    await watcher.start();
  });

  afterAll(() => {
    watcher?.stop();
    for (const l of [before, added, marker]) tryRun('ip', ['link', 'del', l]);
    tryRun('ip', ['netns', 'del', ns]);
  });

  it('reports veths present at start as initial additions', () => {
    const ev = seen('added', before);
    expect(ev).toMatchObject({ initial: true, link: { kind: 'veth', name: before } });
    expect(ev!.link.peerNetnsId).toBeGreaterThanOrEqual(0);
    expect(ev!.link.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
    expect(watcher.list().map((l) => l.name)).toContain(before);
  });

  it('reports a pod veth created and deleted while running', async () => {
    run('ip', ['link', 'add', added, 'type', 'veth', 'peer', 'name', 'eth1', 'netns', ns]);
    const index = Number(run('cat', [`/sys/class/net/${added}/ifindex`]).stdout.trim());
    const ev = await eventually(() => {
      const e = seen('added', added);
      expect(e).toBeDefined();
      return e!;
    });
    expect(ev.initial).toBeUndefined();
    expect(ev.link).toMatchObject({ index, kind: 'veth', name: added });

    run('ip', ['link', 'del', added]);
    await eventually(() => expect(seen('removed', added)?.link.index).toBe(index));
    expect(watcher.list().map((l) => l.name)).not.toContain(added);
  });

  it('keeps a pod veth when it joins a bridge (bridge-port notifications are not link changes)', async () => {
    const bridge = `rk${s}br`;
    const port = `rk${s}prt`;
    const mark = `rk${s}mk2`;
    try {
      // No address on the bridge: nothing changes for the host's own networking.
      run('ip', ['link', 'add', bridge, 'type', 'bridge']);
      run('ip', ['link', 'set', bridge, 'addrgenmode', 'none']);
      run('ip', ['link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth3', 'netns', ns]);
      await eventually(() => expect(seen('added', port)).toBeDefined());
      run('ip', ['link', 'set', port, 'master', bridge]);
      run('ip', ['link', 'set', bridge, 'up']);
      run('ip', ['link', 'set', port, 'up']);
      // Once a later veth's event is in, any event caused by joining the bridge would have been too.
      run('ip', ['link', 'add', mark, 'type', 'veth', 'peer', 'name', 'eth4', 'netns', ns]);
      await eventually(() => expect(seen('added', mark)).toBeDefined());
      expect(events.filter((e) => e.link.name === port).map((e) => e.type)).toEqual(['added']);
      expect(watcher.list().map((l) => l.name)).toContain(port);
    } finally {
      for (const l of [mark, port, bridge]) tryRun('ip', ['link', 'del', l]);
    }
  });

  it('does not report interfaces inside other namespaces', async () => {
    run('ip', ['-n', ns, 'link', 'add', inside, 'type', 'veth', 'peer', 'name', `${inside}p`]);
    // A host veth made afterwards: once its event is in, the namespace's veths would have been too.
    run('ip', ['link', 'add', marker, 'type', 'veth', 'peer', 'name', 'eth2', 'netns', ns]);
    await eventually(() => expect(seen('added', marker)).toBeDefined());
    expect(events.some((e) => e.link.name.startsWith(inside))).toBe(false);
  });

  it('reports the host ends removed when the pod namespace goes away', async () => {
    run('ip', ['netns', 'del', ns]);
    await eventually(() => {
      expect(seen('removed', before)).toBeDefined();
      expect(seen('removed', marker)).toBeDefined();
    });
    await watcher.resync();
    expect(watcher.list().filter((l) => l.name.startsWith(`rk${s}`))).toEqual([]);
    expect(watcher.status()).toMatchObject({ state: 'running' });
  });
}, { bpf: false });

describeKernel('startKubernetes pod interfaces', () => {
  const s = uniqueSuffix();
  const ns = `rk8s-${s}`;
  const host = `rk${s}h`;
  let handle: KubernetesHandle;

  afterAll(async () => {
    await handle?.stop();
    tryRun('ip', ['link', 'del', host]);
    tryRun('ip', ['netns', 'del', ns]);
  });

  it('emits interface events even without a cluster (standalone)', async () => {
    handle = startKubernetes({ config: agentConfig(), ipCache: new InMemoryIpCache(), logger: captureLogger().logger, env: {} });
    const events: InterfaceEvent[] = [];
    handle.on('interface', (e) => events.push(e));
    await eventually(() => expect(handle.status().podInterfaces?.state).toBe('running'));
    run('ip', ['netns', 'add', ns]);
    run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
    await eventually(() => expect(events.find((e) => e.type === 'added' && e.link.name === host)).toBeDefined());
    expect(handle.podInterfaces().map((l) => l.name)).toContain(host);
    run('ip', ['link', 'del', host]);
    await eventually(() => expect(events.find((e) => e.type === 'removed' && e.link.name === host)).toBeDefined());
    expect(handle.status().state).toBe('disabled');
  });
}, { bpf: false });
