/**
 * TcpRetransPlugin: attaches the tcp_retransmit_skb program, publishes the kernel's retransmission total as
 * `tcp_retransmission_count` every `metricsIntervalDuration`, and (when flows are on) turns ring-buffer records
 * into RETRANSMISSION flows on the FlowBus.
 */
import { LostEventType, PluginBase, type PluginContext } from '@retina-ts/core';
import { BpfObject, RingBufferReader, bundledObjectPath, probes, type BpfMap, type RecordBatch } from '@retina-ts/bpf-runtime';
import {
  aggregateRetransEvents,
  decodeRetransBatch,
  monotonicToEpochOffsetNs,
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
  return bundledObjectPath(import.meta.url, BPF_OBJECT_FILE, 'npm run build -w @retina-ts/plugin-tcpretrans');
}

/** Throws with a reason when this kernel cannot run the program (BTF, tp_btf, ring buffers). */
function checkKernelSupport(needRingBuffer: boolean): void {
  const release = probes.kernelRelease();
  if (!probes.btfAvailable()) {
    throw new Error(
      `tcpretrans needs kernel BTF (/sys/kernel/btf/vmlinux), which kernel ${release} does not expose; ` +
        'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Linux 5.8 or later)',
    );
  }
  // tp_btf programs build on raw tracepoints. libbpf cannot probe the `tracing` type itself (its programs need an
  // attach target), so a kernel that has raw tracepoints and BTF but still refuses tp_btf is reported at load.
  if (!probes.programTypeSupported('raw_tracepoint')) {
    throw new Error(`tcpretrans needs BTF-enabled tracepoints (tp_btf, Linux 5.5), and kernel ${release} has no raw tracepoints`);
  }
  if (needRingBuffer && !probes.mapTypeSupported('ringbuf')) {
    throw new Error(
      `tcpretrans flows need BPF ring buffers (Linux 5.8), which kernel ${release} refuses; ` +
        'set plugins.tcpretrans.flows: false to keep only the retransmission counter',
    );
  }
}

/** Counts TCP retransmissions in the kernel and reports them as a metric and as flows. */
export class TcpRetransPlugin extends PluginBase<TcpRetransOptions> {
  #stats: BpfMap | undefined;
  #events: BpfMap | undefined;
  #flows = false;
  /** Kernel totals already published, so each interval adds only what is new. */
  #published: RetransStats = { retransmits: 0n, eventsLost: 0n, eventsLimited: 0n };
  #readerDropped = 0;
  #reader: RingBufferReader | undefined;
  #epochOffsetNs = 0n;
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
    checkKernelSupport(this.#flows);

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
    this.#refreshClock();
    if (this.#flows && this.#events) {
      const reader = new RingBufferReader(this.#events, { onBatch: (batch) => this.#onBatch(batch) });
      this.#reader = reader;
      this.defer(() => reader.stop());
      reader.start();
    }
    this.every(this.ctx.config.metricsIntervalMs, () => {
      this.#refreshClock();
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
    const { basic, self } = this.ctx.metrics;
    const newRetransmits = now.retransmits - this.#published.retransmits;
    if (newRetransmits > 0n) basic.tcpRetransmissionCount.inc(Number(newRetransmits));
    const newLost = now.eventsLost - this.#published.eventsLost + (now.eventsLimited - this.#published.eventsLimited);
    if (newLost > 0n) self.lostEventsCounter.inc({ type: LostEventType.KERNEL, reason: PLUGIN }, Number(newLost));
    this.#published = now;

    const dropped = this.#reader?.stats().dropped ?? 0;
    if (dropped > this.#readerDropped) {
      self.lostEventsCounter.inc({ type: LostEventType.BUFFERED_CHANNEL, reason: PLUGIN }, dropped - this.#readerDropped);
      this.#readerDropped = dropped;
    }
    return now;
  }

  #refreshClock(): void {
    // Re-measured on every interval so flow times follow wall-clock adjustments (NTP steps).
    this.#epochOffsetNs = monotonicToEpochOffsetNs(Date.now(), process.hrtime.bigint());
  }

  #onBatch(batch: RecordBatch): void {
    if (this.stopped) return;
    const { events, malformed } = decodeRetransBatch(batch);
    if (malformed > 0) {
      this.ctx.metrics.self.lostEventsCounter.inc({ type: LostEventType.PARSER, reason: PLUGIN }, malformed);
    }
    const opts = { nodeName: this.ctx.nodeName, epochOffsetNs: this.#epochOffsetNs };
    for (const group of aggregateRetransEvents(events)) {
      this.ctx.emit(retransFlow(group, opts));
      this.#flowsEmitted++;
    }
  }
}
