import { describe, expect, it } from 'vitest';
import { NodeEventHub, type NodeInterfaceEvent } from '../src/plugin/node-events.js';

describe('NodeEventHub', () => {
  it('tracks pod interfaces and tells listeners of real changes only', () => {
    const hub = new NodeEventHub();
    const seen: NodeInterfaceEvent[] = [];
    const off = hub.onPodInterface((e) => seen.push(e));
    hub.addPodInterface({ name: 'veth1', index: 7 });
    hub.addPodInterface({ name: 'veth1', index: 7 });
    hub.addPodInterface({ name: 'veth1', index: 9 });
    hub.removePodInterface('veth1');
    hub.removePodInterface('veth1');
    off();
    hub.addPodInterface({ name: 'veth2', index: 3 });
    expect(seen).toEqual([
      { type: 'added', iface: { name: 'veth1', index: 7 } },
      { type: 'removed', iface: { name: 'veth1', index: 7 } },
      { type: 'added', iface: { name: 'veth1', index: 9 } },
      { type: 'removed', iface: { name: 'veth1', index: 9 } },
    ]);
    expect(hub.podInterfaces()).toEqual([{ name: 'veth2', index: 3 }]);
  });

  it('publishes IPs of interest as a sorted set, only when it changes', () => {
    const hub = new NodeEventHub();
    const seen: (readonly string[])[] = [];
    hub.onIpsOfInterest((ips) => seen.push(ips));
    hub.setIpsOfInterest(['10.0.0.2', '10.0.0.1', '10.0.0.2']);
    hub.setIpsOfInterest(['10.0.0.1', '10.0.0.2']);
    hub.setIpsOfInterest([]);
    expect(seen).toEqual([['10.0.0.1', '10.0.0.2'], []]);
    expect(hub.ipsOfInterest()).toEqual([]);
  });

  it('keeps notifying when a listener throws, and reports the error', () => {
    const errors: unknown[] = [];
    const hub = new NodeEventHub((err) => errors.push(err));
    const seen: string[] = [];
    hub.onPodInterface(() => {
      throw new Error('boom');
    });
    hub.onPodInterface((e) => seen.push(e.iface.name));
    hub.addPodInterface({ name: 'veth3', index: 1 });
    expect(seen).toEqual(['veth3']);
    expect(errors).toHaveLength(1);
  });
});
