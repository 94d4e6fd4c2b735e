/**
 * TcpRetransPlugin: attaches the tcp_retransmit_skb program, publishes the kernel's retransmission total as
 * `tcp_retransmission_count` every `metricsIntervalDuration`, and (when flows are on) turns ring-buffer records
 * into RETRANSMISSION flows on the FlowBus.
 */
import { PluginBase, type EventClock, type EventStream, type PluginContext } from '@retina-ts/core';
import { BpfObject, RingBufferReader, bundledObjectPath, probes, type BpfMap, type RecordBatch } from '@retina-ts/bpf-runtime';
import {
  aggregateRetransEvents,
  decodeRetransBatch,
  retransFlow,
  sumRetransStats,
  type RetransStats,
} from './decode.js';
import {
  DEFAULT_MAX_EVENTS_PER_SECOND,
  DEFAULT_RING_BUFFER_BYTES,
  parseTcpRetransOptions,
  type TcpRetransOptions,
} from './options.js';

/** File name of the compiled BPF object inside the package's `dist/bpf/`. */
export const BPF_OBJECT_FILE = 'tcpretrans.bpf.o';
const PLUGIN = 'tcpretrans';
const ZERO_KEY = Buffer.alloc(4);

/** Where the compiled object is: beside the bundle in `dist/`, or in `dist/` when running from `src/`. */
export function bpfObjectPath(): string {
  return bundledObjectPath(import.meta.url, BPF_OBJECT_FILE, 'npx nx build @retina-ts/plugin-tcpretrans');
}

/** Flows need ring buffers; BTF and raw tracepoints are declared in `requires` and checked before init. */
function checkRingBuffers(): void {
  if (!probes.mapTypeSupported('ringbuf')) {
    throw new Error(
      `tcpretrans flows need BPF ring buffers (Linux 5.8), which kernel ${probes.kernelRelease()} refuses; ` +
        'set plugins.tcpretrans.flows: false to keep only the retransmission counter',
    );
  }
}

/** Counts TCP retransmissions in the kernel and reports them as a metric and as flows. */
export class TcpRetransPlugin extends PluginBase<TcpRetransOptions> {
  #stats: BpfMap | undefined;
  #events: BpfMap | undefined;
  #flows = false;
  /** Retransmissions already published, so each interval adds only what is new. */
  #published = 0n;
  #stream: EventStream | undefined;
  #flowsEmitted = 0;

  /** Whether flows are sent to the FlowBus (decided at init). */
  get flowsEnabled(): boolean {
    return this.#flows;
  }

  /** Flows handed to the FlowBus so far. */
  get flowsEmitted(): number {
    return this.#flowsEmitted;
  }

  protected override onInit(ctx: PluginContext<TcpRetransOptions>): void {
    const options = parseTcpRetransOptions(ctx.options);
    this.#flows = options.flows ?? (ctx.config.enablePodLevel || ctx.config.controlPlane === 'hubble');
    if (this.#flows) checkRingBuffers();

    const obj = BpfObject.open(bpfObjectPath(), { name: PLUGIN });
    this.defer(() => obj.close());
    obj.setConstant('emit_events', this.#flows);
    obj.setConstant('max_events_per_sec', options.maxEventsPerSecondPerCpu ?? DEFAULT_MAX_EVENTS_PER_SECOND);
    obj.setConstant('netns_inode', options.netnsInode ?? 0);
    // Without flows the ring buffer is never written; one page keeps the locked memory negligible.
    obj.setMapMaxEntries('rts_tr_events', this.#flows ? (options.ringBufferBytes ?? DEFAULT_RING_BUFFER_BYTES) : 4096);
    try {
      obj.load();
    } catch (err) {
      throw new Error(
        `tcpretrans: kernel ${probes.kernelRelease()} refused the tp_btf/tcp_retransmit_skb program ` +
          `(it needs Linux 5.8 or later with BTF): ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    }
    this.#stats = obj.map('rts_tr_stats');
    this.#events = obj.map('rts_tr_events');

    const link = obj.program('rts_tr_retrans').attachBtfTracepoint();
    this.defer(() => link.detach());
    ctx.logger.info({ flows: this.#flows, link: link.kind }, 'tcpretrans attached to tcp:tcp_retransmit_skb');
  }

  protected override onStart(): void {
    const events = this.#events;
    const stats = this.#stats;
    this.#stream = this.readEvents(
      this.#flows && events ? (handlers) => new RingBufferReader(events, handlers) : undefined,
      (batch: RecordBatch, clock: EventClock) => this.#onBatch(batch, clock),
      {
        // Records the program could not write (ring buffer full) or chose not to (over the per-CPU budget).
        kernelLost: () => {
          const now = sumRetransStats(stats?.lookupPerCpu(ZERO_KEY) ?? []);
          return now.eventsLost + now.eventsLimited;
        },
      },
    );
    this.every(this.ctx.config.metricsIntervalMs, () => {
      this.collect();
    });
  }

  /**
   * Reads the kernel counters, adds what is new to `tcp_retransmission_count` and to `lost_events_counter`, and
   * returns the kernel totals since init. Runs on every interval; callable at any time after init.
   */
  collect(): RetransStats {
    const stats = this.#stats;
    if (!stats) throw new Error('tcpretrans: collect() needs a successful init() first');
    const now = sumRetransStats(stats.lookupPerCpu(ZERO_KEY) ?? []);
    const newRetransmits = now.retransmits - this.#published;
    if (newRetransmits > 0n) this.ctx.metrics.basic.tcpRetransmissionCount.inc(Number(newRetransmits));
    this.#published = now.retransmits;
    this.#stream?.account();
    return now;
  }

  /** One RETRANSMISSION flow per connection in the batch; returns how many records were malformed. */
  #onBatch(batch: RecordBatch, clock: EventClock): number {
    const { events, malformed } = decodeRetransBatch(batch);
    const opts = { nodeName: this.ctx.nodeName, epochOffsetNs: clock.epochOffsetNs };
    for (const group of aggregateRetransEvents(events)) {
      this.ctx.emit(retransFlow(group, opts));
      this.#flowsEmitted++;
    }
    return malformed;
  }
}
