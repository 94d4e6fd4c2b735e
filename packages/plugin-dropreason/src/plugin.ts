/**
 * DropReasonPlugin: loads bpf/dropreason.bpf.c, attaches it to skb:kfree_skb, and turns what it counts into
 * `drop_count` / `drop_bytes` (every metrics interval) and, with pod-level metrics on, DROPPED flows.
 */
import { existsSync } from 'node:fs';
import { BpfObject, RingBufferReader, bundledObjectCandidates, probes } from '@retina-ts/bpf-runtime';
import type { BpfLink, BpfMap, RecordBatch } from '@retina-ts/bpf-runtime';
import { PluginBase } from '@retina-ts/core';
import type { EventClock, EventStream, PluginContext } from '@retina-ts/core';
import { kernelEnums, moduleEnums, sumPerCpuU64 } from '@retina-ts/bpf-runtime';
import {
  decodeDropEvent,
  decodeMetricKey,
  DROP_EVENT_SIZE,
  eventToFlow,
  KERNEL_STATS,
  sumMetricValues,
  toSeries,
  type DropCounter,
} from './decode.js';
import { parseOptions, type DropReasonOptions } from './options.js';
import { DROP_REASON_ENUM, DROP_REASON_SUBSYS_ENUM, DropReasonCatalog } from './reasons.js';

/** Kernel object names, as in bpf/dropreason.bpf.c. */
const PROG_BTF = 'rts_dr_btf';
const PROG_TP = 'rts_dr_tp';
const MAP_METRICS = 'rts_dr_metrics';
const MAP_STATS = 'rts_dr_stats';
const MAP_EVENTS = 'rts_dr_events';

/** The hook that is actually attached. */
export type AttachedHook = 'tp_btf' | 'tracepoint';

/** Where the compiled object is: next to dist/index.js when installed, or in dist/ when run from src/. */
export function defaultObjectPath(): string {
  const candidates = bundledObjectCandidates(import.meta.url, 'dropreason.bpf.o');
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}


/** The dropreason plugin instance. */
export class DropReasonPlugin extends PluginBase {
  #options!: DropReasonOptions;
  #catalog!: DropReasonCatalog;
  #object: BpfObject | undefined;
  #hook: AttachedHook | undefined;
  #flowEvents = false;
  #events: EventStream | undefined;
  readonly #subsystemLookups = new Set<number>();

  /** The hook attached by init (undefined before). */
  get hook(): AttachedHook | undefined {
    return this.#hook;
  }

  /** The loaded kernel object (for tests and diagnostics). */
  get object(): BpfObject | undefined {
    return this.#object;
  }

  protected override onInit(ctx: PluginContext): void {
    this.#options = parseOptions(ctx.options);
    this.#flowEvents = this.#options.flowEvents ?? ctx.config.enablePodLevel;

    // Capabilities and kernel BTF are declared in `requires` and checked before init; the drop-reason enum is
    // looked up here, in the BTF this plugin reads.
    const enums = kernelEnums([DROP_REASON_ENUM, DROP_REASON_SUBSYS_ENUM], this.#options.btfPath);
    const reasons = enums.get(DROP_REASON_ENUM);
    if (!reasons) {
      throw new Error(
        `dropreason: kernel ${probes.kernelRelease()} has no enum ${DROP_REASON_ENUM} in ${this.#options.btfPath}; kernel drop reasons need Linux 5.17 or newer`,
      );
    }
    this.#catalog = DropReasonCatalog.fromBtf(
      reasons,
      enums.get(DROP_REASON_SUBSYS_ENUM),
      this.#options.reasonNames,
    );

    const hooks: AttachedHook[] =
      this.#options.hook === 'auto' ? ['tp_btf', 'tracepoint'] : [this.#options.hook];
    const failures: string[] = [];
    for (const hook of hooks) {
      try {
        this.#loadAndAttach(hook);
        this.#hook = hook;
        break;
      } catch (err) {
        failures.push(`${hook}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    if (!this.#hook) {
      throw new Error(`dropreason: could not attach to skb:kfree_skb (${failures.join('; ')})`);
    }
    if (failures.length) ctx.logger.info({ failures }, `tp_btf unavailable, using the classic tracepoint`);
    ctx.logger.info(
      {
        hook: this.#hook,
        reasons: this.#catalog.size,
        flowEvents: this.#flowEvents,
        netnsInode: this.#options.netnsInode,
      },
      'attached to skb:kfree_skb',
    );
  }

  #loadAndAttach(hook: AttachedHook): void {
    const o = this.#options;
    const obj = BpfObject.open(o.objectPath ?? defaultObjectPath(), { name: 'rts_dropreason' });
    let link: BpfLink | undefined;
    try {
      const [a, b, c] = this.#catalog.normalFreeValues;
      obj.setConstant('skip_reason_a', a);
      obj.setConstant('skip_reason_b', b);
      obj.setConstant('skip_reason_c', c);
      obj.setConstant('netns_filter', o.netnsInode);
      obj.setConstant('emit_events', this.#flowEvents ? 1 : 0);
      obj.setConstant('event_interval_ns', BigInt(Math.round(o.eventIntervalMs * 1e6)));
      obj.setConstant('events_per_sec', o.eventsPerCpuPerSecond);
      obj.setMapMaxEntries(MAP_EVENTS, o.ringBufferBytes);
      obj.setProgramAutoload(PROG_BTF, hook === 'tp_btf');
      obj.setProgramAutoload(PROG_TP, hook === 'tracepoint');
      obj.load();
      if (hook === 'tp_btf') {
        link = obj.program(PROG_BTF).attachBtfTracepoint();
      } else {
        // Classic tracepoints are found by their id in tracefs; mount it where it is missing (as Retina's chart
        // does with its tracefs volume). It stays mounted: other users may rely on it.
        if (!probes.tracefsAvailable()) probes.ensureTracefs();
        link = obj.program(PROG_TP).attachTracepoint('skb', 'kfree_skb');
      }
    } catch (err) {
      obj.close();
      throw err;
    }
    this.#object = obj;
    const attached = link;
    // Detach first, then free the object (close() would also release the link; this order says so explicitly).
    this.defer(() => {
      obj.close();
      this.#object = undefined;
    });
    this.defer(() => attached.detach());
  }

  protected override onStart(): void {
    const obj = this.#object!;
    const stats = obj.map(MAP_STATS);
    // Without flow events the ring buffer is never written: no reader, but the kernel's losses are still followed.
    this.#events = this.readEvents(
      this.#flowEvents ? (handlers) => new RingBufferReader(obj.map(MAP_EVENTS), handlers) : undefined,
      (batch: RecordBatch, clock: EventClock) => this.#onBatch(batch, clock),
      { kernelLost: () => kernelLost(stats) },
    );
    this.every(this.ctx.config.metricsIntervalMs, () => this.publish());
  }

  /** Reads the kernel counters now and sets the metrics (also run every metrics interval). */
  publish(): void {
    const obj = this.#object;
    if (!obj) return;
    const counters = this.readCounters(obj.map(MAP_METRICS));
    this.#learnSubsystemNames(counters);
    const { dropCount, dropBytes } = this.ctx.metrics.basic;
    for (const s of toSeries(counters, this.#catalog)) {
      dropCount.set({ reason: s.reason, direction: s.direction }, s.packets);
      dropBytes.set({ reason: s.reason, direction: s.direction }, s.bytes);
    }
    this.#events?.account();
  }

  /** Sums the per-CPU (reason, direction) counters of the metrics map. */
  readCounters(map: BpfMap): DropCounter[] {
    const out: DropCounter[] = [];
    for (const key of map.keys()) {
      const values = map.lookupPerCpu(key);
      if (!values) continue;
      const { reason, dir } = decodeMetricKey(key);
      out.push({ reason, dir, ...sumMetricValues(values) });
    }
    return out;
  }

  #learnSubsystemNames(counters: readonly DropCounter[]): void {
    const unnamed = counters
      .map((c) => c.reason)
      .filter((r) => this.#catalog.needsSubsystemName(r) && !this.#subsystemLookups.has(r));
    if (!unnamed.length) return;
    // Subsystem reasons (e.g. openvswitch) are named by an enum in that module's own BTF; read it once per value.
    unnamed.forEach((r) => this.#subsystemLookups.add(r));
    try {
      for (const e of moduleEnums((n) => n.endsWith('_drop_reason')))
        this.#catalog.addSubsystemNames(e.members);
    } catch (err) {
      this.logger.debug({ err }, 'module BTF unreadable; subsystem drop reasons keep numeric names');
    }
  }

  /** Emits one DROPPED flow per record; returns how many records were too short to be events. */
  #onBatch(batch: RecordBatch, clock: EventClock): number {
    const ctx = { catalog: this.#catalog, nodeName: this.ctx.nodeName, monoToEpochNs: clock.epochOffsetNs };
    let malformed = 0;
    for (let i = 0; i < batch.count; i++) {
      if (batch.lengths[i]! < DROP_EVENT_SIZE) {
        malformed++;
        continue;
      }
      this.ctx.emit(eventToFlow(decodeDropEvent(batch.buffer, batch.offsets[i]!), ctx));
    }
    return malformed;
  }
}

/** Events the kernel program could not hand over: ring buffer full, rate limited, metrics map full. */
function kernelLost(stats: BpfMap): bigint {
  let total = 0n;
  for (const { index } of KERNEL_STATS) {
    const key = Buffer.alloc(4);
    key.writeUInt32LE(index);
    const values = stats.lookupPerCpu(key);
    if (values) total += sumPerCpuU64(values);
  }
  return total;
}
