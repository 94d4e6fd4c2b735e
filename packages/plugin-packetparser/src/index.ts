/**
 * @retina-ts/plugin-packetparser: flow records (5-tuple, direction, observation point, TCP flags, bytes) from TC
 * eBPF programs on pod veths and the node's interface, per packet or per connection report.
 */
import { definePlugin } from '@retina-ts/core';
import { version } from '../package.json';
import type { PacketParserOptions } from './options.js';
import { PacketParserPlugin } from './plugin.js';

export {
  PacketParserPlugin,
  BPF_OBJECT_FILE,
  CONNTRACK_GC_INTERVAL_MS,
  bpfObjectPath,
  defaultRouteInterface,
  type Attachment,
  type ConntrackReport,
  type InterfaceRole,
} from './plugin.js';
export {
  ADDRESS_KEY_SIZE,
  CT_ENTRY_SIZE,
  CT_KEY_SIZE,
  EVENT_OFFSETS,
  EVENT_SIZE,
  IPPROTO_TCP,
  IPPROTO_UDP,
  MalformedEventError,
  ObservationPoint,
  PREV_FLAG_ORDER,
  TCP_FLAG_BITS,
  addressKey,
  ctEntryExpired,
  ctEntryTotals,
  decodeBatch,
  decodeEvent,
  eventToFlow,
  tcpFlagsOf,
  type ConnectionTotals,
  type EventBatch,
  type FlowOptions,
  type PacketEvent,
} from './decode.js';
export {
  DEFAULT_RING_BUFFER_BYTES,
  PacketParserOptionsError,
  packetParserOptionsSchema,
  parsePacketParserOptions,
  ringBufferBytes,
  type PacketParserOptions,
} from './options.js';

/** The packetparser plugin definition (what `enabledPlugin: [packetparser]` resolves to). */
export default definePlugin<PacketParserOptions>({
  name: 'packetparser',
  version,
  platforms: ['linux'],
  description: 'Flow records from TC eBPF programs on pod veths and the node interface (IPv4 and IPv6)',
  requires: {
    minKernel: '5.8',
    capabilities: [['CAP_BPF', 'CAP_SYS_ADMIN'], 'CAP_NET_ADMIN', ['CAP_PERFMON', 'CAP_SYS_ADMIN']],
    programTypes: ['sched_cls'],
    mapTypes: ['ringbuf', 'lru_hash'],
    notes: ['tcx (Linux 6.6) or the clsact qdisc'],
  },
  create: () => new PacketParserPlugin(),
});
