/**
 * @retina-ts/plugin-tcpretrans: TCP retransmissions from the tcp:tcp_retransmit_skb tracepoint, published as
 * `tcp_retransmission_count` and, for pod-level metrics and Hubble, as RETRANSMISSION flows.
 */
import { definePlugin } from '@retina-ts/core';
import { version } from '../package.json';
import type { TcpRetransOptions } from './options.js';
import { TcpRetransPlugin } from './plugin.js';

export { TcpRetransPlugin, bpfObjectPath, BPF_OBJECT_FILE } from './plugin.js';
export {
  RETRANS_EVENT_SIZE,
  RETRANS_STATS_SIZE,
  TCP_STATE_NAMES,
  RetransDecodeError,
  aggregateRetransEvents,
  decodeRetransBatch,
  decodeRetransEvent,
  retransFlow,
  sumRetransStats,
  tcpFlagsFromBits,
  type RecordBatchLike,
  type RetransAggregate,
  type RetransEvent,
  type RetransFlowOptions,
  type RetransStats,
} from './decode.js';
export {
  DEFAULT_MAX_EVENTS_PER_SECOND,
  DEFAULT_RING_BUFFER_BYTES,
  TcpRetransOptionsError,
  parseTcpRetransOptions,
  tcpRetransOptionsSchema,
  type TcpRetransOptions,
} from './options.js';

/** The tcpretrans plugin definition (what `enabledPlugin: [tcpretrans]` resolves to). */
export default definePlugin<TcpRetransOptions>({
  name: 'tcpretrans',
  version,
  platforms: ['linux'],
  description: 'TCP retransmissions from the tcp_retransmit_skb tracepoint (eBPF)',
  requires: {
    minKernel: '5.8',
    capabilities: [
      ['CAP_BPF', 'CAP_SYS_ADMIN'],
      ['CAP_PERFMON', 'CAP_SYS_ADMIN'],
    ],
    features: ['btf'],
    // tp_btf programs build on raw tracepoints; libbpf cannot probe `tracing` itself (it needs an attach target).
    programTypes: ['raw_tracepoint'],
    notes: ['tp_btf programs (Linux 5.5)', 'BPF ring buffers (Linux 5.8) for flows'],
  },
  create: () => new TcpRetransPlugin(),
});
