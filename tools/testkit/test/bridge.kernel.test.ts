import { afterAll, expect, it } from 'vitest';

import { describeKernel, ping, PodBridge, run } from '../src/index.js';

describeKernel(
  'pod bridge',
  () => {
    let bridge: PodBridge | undefined;
    afterAll(() => bridge?.destroy());

    it('joins pod namespaces on a bridge without addresses, and removes them all', () => {
      bridge = new PodBridge();
      const a = bridge.addPod('tkpa', '10.233.0.11/24');
      const b = bridge.addPod('tkpb', '10.233.0.12/24');
      ping(a.netns, '10.233.0.12', { count: 1 });
      for (const dev of [bridge.name, a.veth.name, b.veth.name]) {
        const [link] = JSON.parse(run('ip', ['-j', 'addr', 'show', 'dev', dev]).stdout) as Array<{
          addr_info: unknown[];
          master?: string;
        }>;
        expect(link!.addr_info).toEqual([]);
        if (dev !== bridge.name) expect(link!.master).toBe(bridge.name);
      }
      // A pod whose namespace is already gone (its veth with it) does not stop the teardown.
      a.netns.destroy();
      bridge.destroy();
      expect(run('ip', ['link', 'show', bridge.name], { allowFailure: true }).status).not.toBe(0);
      expect(run('ip', ['link', 'show', b.veth.name], { allowFailure: true }).status).not.toBe(0);
      expect(run('ip', ['netns', 'list']).stdout).not.toContain(b.netns.name);
      bridge = undefined;
    });
  },
  { bpf: false },
);
