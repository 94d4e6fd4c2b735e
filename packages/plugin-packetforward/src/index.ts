/**
 * @retina-ts/plugin-packetforward: packets and bytes through the node's interface(s), counted in the kernel by TC
 * programs and published as `forward_count` and `forward_bytes`.
 */
import { definePlugin } from '@retina-ts/core';
import { version } from '../package.json';
import type { PacketForwardOptions } from './options.js';
import { PacketForwardPlugin } from './plugin.js';

export { PacketForwardPlugin, bpfObjectPath, resolveDefaultInterfaces, BPF_OBJECT_FILE, type Attachment } from './plugin.js';
export {
  DIRECTIONS,
  FORWARD_COUNTERS_SIZE,
  defaultRouteInterfaces,
  directionKey,
  sumPerCpuCounters,
  type Direction,
  type ForwardTotals,
} from './decode.js';
export {
  PacketForwardOptionsError,
  packetForwardOptionsSchema,
  parsePacketForwardOptions,
  type PacketForwardOptions,
} from './options.js';

/** The packetforward plugin definition (what `enabledPlugin: [packetforward]` resolves to). */
export default definePlugin<PacketForwardOptions>({
  name: 'packetforward',
  version,
  platforms: ['linux'],
  description: 'Packets and bytes through the node interface(s), counted by TC eBPF programs',
  requires: {
    minKernel: '5.7',
    capabilities: [['CAP_BPF', 'CAP_SYS_ADMIN'], 'CAP_NET_ADMIN'],
    programTypes: ['sched_cls'],
    notes: ['CONFIG_NET_CLS_BPF and CONFIG_NET_SCH_INGRESS', 'tcx (Linux 6.6) or the clsact qdisc'],
  },
  create: () => new PacketForwardPlugin(),
});
