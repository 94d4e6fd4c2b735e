/**
 * The requirement checker over bpf-runtime's real probes: on this host (root, a kernel with BPF, BTF, ring buffers
 * and TC programs) every official Linux plugin's declared requirements are met, so none would be left unsupported.
 */
import { expect, it } from 'vitest';
import { describeKernel } from '@retina-ts/testkit';
import dns from '@retina-ts/plugin-dns';
import dropreason from '@retina-ts/plugin-dropreason';
import linuxutil from '@retina-ts/plugin-linuxutil';
import packetforward from '@retina-ts/plugin-packetforward';
import packetparser from '@retina-ts/plugin-packetparser';
import tcpretrans from '@retina-ts/plugin-tcpretrans';
import { probeRequirementChecker } from '../src/requirements.js';

describeKernel('plugin requirements on this host', () => {
  it('are all met for the official Linux plugins', async () => {
    const check = probeRequirementChecker();
    const unmet = [];
    for (const def of [dns, dropreason, linuxutil, packetforward, packetparser, tcpretrans]) {
      unmet.push({ plugin: def.name, unmet: await check(def.requires ?? {}, def.name) });
    }
    expect(unmet).toEqual(unmet.map(({ plugin }) => ({ plugin, unmet: [] })));
  });
});
