/**
 * PacketParserPlugin: attaches the TC flow programs to pod veths and the node's interface, reads their events from
 * the ring buffer, turns them into flow records and emits them.
 */
import { readFile } from 'node:fs/promises';
import { PluginBase, samplingHubOf, type EventClock, type EventStream, type PluginContext } from '@retina-ts/core';
import { BpfNotSupportedError, BpfObject, RingBufferReader, bundledObjectPath, type BpfLink, type RecordBatch } from '@retina-ts/bpf-runtime';
import { addressKey, ctEntryExpired, ctEntryTotals, decodeBatch, eventToFlow } from './decode.js';
import { parsePacketParserOptions, ringBufferBytes, type PacketParserOptions } from './options.js';

/** File name of the compiled BPF object inside the package's `dist/bpf/`. */
export const BPF_OBJECT_FILE = 'packetparser.bpf.o';

const PLUGIN = 'packetparser';

/** Index of the sampled-away counter in `rts_pp_stats` (STAT_SAMPLED_AWAY in the BPF program). */
const STAT_SAMPLED_AWAY = 1;

/** How often expired connections are removed from the conntrack map. */
export const CONNTRACK_GC_INTERVAL_MS = 15_000;
/** Connection-table entries read per kernel call by the sweep. */
const CONNTRACK_GC_BATCH = 4096;

/** Node-level sums over the connection table, as the `conntrack_*` metrics report them. */
export interface ConntrackReport {
  /** Entries in the table (connections tracked, including expired ones the next sweep removes). */
  connections: number;
  packetsTx: number;
  packetsRx: number;
  bytesTx: number;
  bytesRx: number;
}

/** What an interface is to the node: a pod's veth (host side) or the node's own interface. */
export type InterfaceRole = 'endpoint' | 'host';

/** One attached interface. */
export interface Attachment {
  ifname: string;
  role: InterfaceRole;
  /** How the kernel holds the programs: `tcx` (BPF links) or `clsact` (netlink filters). */
  kind: string;
}

/** Program names per role and direction (see bpf/packetparser.bpf.c). */
const PROGRAMS: Record<InterfaceRole, { ingress: string; egress: string }> = {
  endpoint: { ingress: 'rts_pp_ep_in', egress: 'rts_pp_ep_eg' },
  host: { ingress: 'rts_pp_host_in', egress: 'rts_pp_host_eg' },
};

/** Where the compiled object is: beside the bundle in `dist/`, or in `dist/` when running from `src/`. */
export function bpfObjectPath(): string {
  return bundledObjectPath(import.meta.url, BPF_OBJECT_FILE, 'npx nx build @retina-ts/plugin-packetparser');
}

/** The interface of the node's default route (IPv4 first, then IPv6), or undefined. */
export async function defaultRouteInterface(): Promise<string | undefined> {
  const v4 = await readFile('/proc/net/route', 'utf8').catch(() => '');
  for (const line of v4.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[1] === '00000000' && f[7] === '00000000' && Number.parseInt(f[3] ?? '0', 16) & 1) return f[0];
  }
  const v6 = await readFile('/proc/net/ipv6_route', 'utf8').catch(() => '');
  for (const line of v6.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 10 && /^0{32}$/.test(f[0] ?? '') && f[1] === '00' && f[9] !== 'lo') return f[9];
  }
  return undefined;
}

/** Flow events from TC programs on pod veths and the node's interface. */
export class PacketParserPlugin extends PluginBase<PacketParserOptions> {
  #obj: BpfObject | undefined;
  #stream: EventStream | undefined;
  #mode: 'auto' | 'clsact' = 'auto';
  readonly #attached = new Map<string, { role: InterfaceRole; links: BpfLink[] }>();
  readonly #ips = new Map<string, Buffer>();
  #enabled = false;
  #parsed = 0;
  #sampledAway = 0n;

  /** Whether the plugin runs (it needs `enablePodLevel`). */
  get enabled(): boolean {
    return this.#enabled;
  }

  /** The attached interfaces. */
  get attachments(): Attachment[] {
    return [...this.#attached].map(([ifname, a]) => ({ ifname, role: a.role, kind: a.links[0]?.kind ?? 'none' }));
  }

  /** Kernel ids of the loaded programs (empty before init), e.g. to check nothing is left after stop. */
  get programIds(): number[] {
    const obj = this.#obj;
    return obj && !obj.closed ? obj.programs.map((name) => obj.program(name).id) : [];
  }

  /** Records read from the kernel so far. */
  get parsedRecords(): number {
    return this.#parsed;
  }

  protected override async onInit(ctx: PluginContext<PacketParserOptions>): Promise<void> {
    const options = parsePacketParserOptions(ctx.options);
    if (!ctx.config.enablePodLevel) {
      ctx.logger.warn('packetparser does nothing without enablePodLevel: true');
      return;
    }
    // sched_cls, ringbuf and lru_hash are declared in `requires` and checked by the manager before init.
    const { config } = ctx;
    const high = config.dataAggregationLevel === 'high';
    let hostInterface = options.hostInterface;
    if (hostInterface === undefined && !high) {
      hostInterface = await defaultRouteInterface();
      if (hostInterface === undefined) {
        throw new Error(
          'packetparser found no default route to pick the node interface from; set plugins.packetparser.hostInterface ' +
            '(e.g. "eth0"), or false to watch pod interfaces only',
        );
      }
    }

    const obj = BpfObject.open(bpfObjectPath(), { name: PLUGIN });
    this.defer(() => obj.close());
    obj
      .setConstant('bypass_ioi', config.bypassLookupIPOfInterest ? 1 : 0)
      .setConstant('aggregation_high', high ? 1 : 0)
      .setConstant('sampling_rate', Math.max(1, config.dataSamplingRate))
      .setConstant('report_interval_ns', BigInt(config.conntrackReportIntervalMs) * 1_000_000n)
      .setMapMaxEntries('rts_pp_events', 
        ringBufferBytes(config.packetParserRingBuffer, config.packetParserRingBufferSize, options),
      )
      .setMapMaxEntries('rts_pp_ioi', Math.max(1, config.filterMapMaxEntries));
    obj.load();
    this.#obj = obj;
    this.#mode = config.enableTCX === 'off' ? 'clsact' : 'auto';
    this.#enabled = true;

    // Detaching explicitly keeps clsact interfaces clean even when the object is closed later.
    this.defer(() => {
      for (const name of [...this.#attached.keys()]) this.detachInterface(name);
    });
    if (hostInterface) this.attachInterface(hostInterface, 'host');
    for (const name of options.interfaces ?? []) this.attachInterface(name, 'endpoint');
    if (options.ipsOfInterest) this.setIpsOfInterest(options.ipsOfInterest);
    this.#followNode(ctx, options);
    ctx.logger.info({ attachments: this.attachments, aggregation: config.dataAggregationLevel }, 'packetparser attached');
  }

  protected override onStart(): void {
    const obj = this.#obj;
    if (!obj) return;
    const stats = obj.map('rts_pp_stats');
    this.#stream = this.readEvents(
      (handlers) => new RingBufferReader(obj.map('rts_pp_events'), handlers),
      (batch: RecordBatch, clock: EventClock) => this.#onBatch(batch, clock),
      {
        // Slot 0 of rts_pp_stats: events the ring buffer had no room for.
        kernelLost: () => {
          let lost = 0n;
          for (const v of stats.lookupPerCpu(Buffer.alloc(4)) ?? []) lost += Buffer.from(v.buffer, v.byteOffset, 8).readBigUInt64LE(0);
          return lost;
        },
      },
    );
    this.every(CONNTRACK_GC_INTERVAL_MS, () => this.collectGarbage());
    if (this.ctx.config.cpuBudget > 0) this.#followCpuBudget();
    if (this.ctx.config.enableConntrackMetrics) {
      const { basic } = this.ctx.metrics;
      // A stopped plugin's totals would otherwise stay exposed with their last values.
      this.defer(() => {
        basic.conntrackPacketsTx.reset();
        basic.conntrackPacketsRx.reset();
        basic.conntrackBytesTx.reset();
        basic.conntrackBytesRx.reset();
        basic.conntrackTotalConnections.reset();
      });
      this.every(this.ctx.config.conntrackReportIntervalMs, () => this.reportConntrack());
    }
  }

  /**
   * Follows the node: pods' interfaces as the agent's watcher reports them (attach on add, detach on remove), and
   * the agent's IPs of interest unless the options name a fixed set. A pod interface that vanished before the attach
   * is logged, not fatal: its removal event follows.
   */
  #followNode(ctx: PluginContext<PacketParserOptions>, options: PacketParserOptions): void {
    const node = ctx.node;
    if (!node) return;
    const attach = (name: string): void => {
      try {
        this.attachInterface(name, 'endpoint');
      } catch (err) {
        ctx.logger.warn({ err: (err as Error).message, ifname: name }, 'packetparser: cannot attach to pod interface');
      }
    };
    for (const iface of node.podInterfaces()) attach(iface.name);
    this.defer(
      node.onPodInterface((ev) => {
        if (ev.type === 'added') attach(ev.iface.name);
        else this.detachInterface(ev.iface.name);
      }),
    );
    if (options.ipsOfInterest) return;
    const apply = (ips: readonly string[]): void => {
      try {
        this.setIpsOfInterest(ips);
      } catch (err) {
        this.reportError(err, 'packetparser: cannot update the IPs of interest');
      }
    };
    apply(node.ipsOfInterest());
    this.defer(node.onIpsOfInterest(apply));
  }

  /**
   * Attaches the flow programs to both TC hooks of `ifname` (in this process's network namespace): `endpoint` for
   * the host side of a pod veth, `host` for the node's interface. Attaching an interface already attached is a
   * no-op. The name resolves in the calling thread's network namespace (see bpf-runtime's `runInNetns`).
   */
  attachInterface(ifname: string, role: InterfaceRole = 'endpoint'): void {
    const obj = this.#requireObject('attachInterface');
    if (this.#attached.has(ifname)) return;
    const links: BpfLink[] = [];
    try {
      for (const direction of ['ingress', 'egress'] as const) {
        links.push(obj.program(PROGRAMS[role][direction]).attachTc({ ifname, direction, mode: this.#mode }));
      }
    } catch (err) {
      for (const link of links) link.detach();
      throw err;
    }
    this.#attached.set(ifname, { role, links });
  }

  /** Detaches the programs from `ifname`; returns false when it was not attached. Safe on a vanished interface. */
  detachInterface(ifname: string): boolean {
    const entry = this.#attached.get(ifname);
    if (!entry) return false;
    this.#attached.delete(ifname);
    for (const link of entry.links) {
      try {
        link.detach();
      } catch (err) {
        // A deleted interface takes its hooks with it; nothing is left to detach then.
        this.logger.debug({ err, ifname }, 'packetparser: detach after the interface went away');
      }
    }
    return true;
  }

  /** Replaces the set of IPs of interest (IPv4 or IPv6): packets from or to them are reported. */
  setIpsOfInterest(ips: Iterable<string>): void {
    const map = this.#requireObject('setIpsOfInterest').map('rts_pp_ioi');
    const next = new Map<string, Buffer>();
    for (const ip of ips) next.set(addressKey(ip).toString('hex'), addressKey(ip));
    if (next.size > map.maxEntries) {
      throw new Error(
        `packetparser: ${next.size} IPs of interest do not fit the filter map (${map.maxEntries} entries); raise filterMapMaxEntries`,
      );
    }
    for (const [hex, key] of this.#ips) if (!next.has(hex)) map.delete(key);
    const one = Buffer.from([1]);
    for (const [hex, key] of next) if (!this.#ips.has(hex)) map.update(key, one);
    this.#ips.clear();
    for (const [hex, key] of next) this.#ips.set(hex, key);
  }

  /** Adds what the kernel and the reader lost since the previous accounting to `lost_events_counter` now. */
  collect(): void {
    this.#requireObject('collect');
    this.#stream?.account();
  }

  /**
   * Reports one event in `rate` (an integer of at least 1; 1 reports every event), from now on. The kernel counts the
   * others (`sampledAway()`), and every reported event carries the rate so its flow stands for `rate` events. The
   * agent's CPU budget sets it; with no budget it stays 1.
   */
  setSamplingRate(rate: number): void {
    if (!Number.isInteger(rate) || rate < 1 || rate > 0xffff_ffff) {
      throw new RangeError(`packetparser: sampling rate ${rate} is not an integer from 1 to 4294967295`);
    }
    const value = Buffer.alloc(4);
    value.writeUInt32LE(rate);
    this.#requireObject('setSamplingRate').map('rts_pp_sample').update(Buffer.alloc(4), value);
  }

  /** The sampling rate the kernel applies now (1: every event). */
  samplingRate(): number {
    const v = this.#requireObject('samplingRate').map('rts_pp_sample').lookup(Buffer.alloc(4));
    return Math.max(1, v ? v.readUInt32LE(0) : 1);
  }

  /** Events the kernel kept out of the ring because of sampling, since the programs were loaded. */
  sampledAway(): bigint {
    return this.#readSampledAway(this.#requireObject('sampledAway'));
  }

  #readSampledAway(obj: BpfObject): bigint {
    let total = 0n;
    const key = Buffer.alloc(4);
    key.writeUInt32LE(STAT_SAMPLED_AWAY);
    for (const v of obj.map('rts_pp_stats').lookupPerCpu(key) ?? []) {
      total += Buffer.from(v.buffer, v.byteOffset, 8).readBigUInt64LE(0);
    }
    return total;
  }

  /** Follows the agent's CPU budget: applies its sampling rate and counts what sampling kept out. */
  #followCpuBudget(): void {
    const { self } = this.ctx.metrics;
    const report = (): void => {
      const obj = this.#obj;
      // On stop this runs while the plugin is stopping, before the object closes.
      if (!obj || obj.closed) return;
      const away = this.#readSampledAway(obj);
      if (away > this.#sampledAway) self.sampledAwayEvents.inc({ plugin: PLUGIN }, Number(away - this.#sampledAway));
      this.#sampledAway = away;
    };
    const lost = (): number => {
      // Ring buffer full plus what the reader dropped because user space fell behind, as readEvents counts them.
      const stream = this.#stream;
      if (!stream) return 0;
      stream.account();
      return stream.lost.kernel + stream.lost.reader;
    };
    const counts = (): { arrived: number; reported: number } => {
      // Arrived: read by user space, kept out by sampling, or lost (as last accounted); the controller uses them to
      // tell the traffic from its cost.
      const reported = this.#parsed;
      const obj = this.#obj;
      const away = obj && !obj.closed ? Number(this.#readSampledAway(obj)) : 0;
      const lostSoFar = this.#stream ? this.#stream.lost.kernel + this.#stream.lost.reader : 0;
      return { arrived: reported + away + lostSoFar, reported };
    };
    this.defer(
      samplingHubOf(this.ctx.metrics).register({ name: PLUGIN, setRate: (n) => this.setSamplingRate(n), lost, counts }),
    );
    // Runs before the object closes (defers run last first), so the final count is not lost.
    this.defer(report);
    this.every(this.ctx.config.metricsIntervalMs, report);
  }

  /**
   * Deletes the connections expired at `now` (monotonic ns, default the current time) from the conntrack map (the
   * LRU only evicts when full); returns how many.
   */
  collectGarbage(now: bigint = process.hrtime.bigint()): number {
    const map = this.#requireObject('collectGarbage').map('rts_pp_ct');
    // One batch read for thousands of entries instead of two syscalls per entry: a sweep of a busy table must not
    // hold the event loop long enough for the flow readers to back up.
    const entries = this.#conntrackEntries();
    let removed = 0;
    for (const [key, value] of entries) {
      if (ctEntryExpired(value, now) && map.delete(key)) removed++;
    }
    return removed;
  }

  /**
   * Sums the traffic totals of every connection in the table and, with `enableConntrackMetrics`, sets the
   * `conntrack_*` gauges to them (as Retina does, the gauges are node-wide sums with no labels; `tx` is each
   * connection's opener's direction). Runs every `conntrackReportInterval`; callable directly.
   */
  reportConntrack(): ConntrackReport {
    const report: ConntrackReport = { connections: 0, packetsTx: 0, packetsRx: 0, bytesTx: 0, bytesRx: 0 };
    for (const [, value] of this.#conntrackEntries()) {
      const t = ctEntryTotals(value);
      report.connections++;
      report.packetsTx += t.packetsTx;
      report.packetsRx += t.packetsRx;
      report.bytesTx += t.bytesTx;
      report.bytesRx += t.bytesRx;
    }
    if (this.ctx.config.enableConntrackMetrics && !this.stopped) {
      const { basic } = this.ctx.metrics;
      basic.conntrackPacketsTx.set(report.packetsTx);
      basic.conntrackPacketsRx.set(report.packetsRx);
      basic.conntrackBytesTx.set(report.bytesTx);
      basic.conntrackBytesRx.set(report.bytesRx);
      basic.conntrackTotalConnections.set(report.connections);
    }
    return report;
  }

  /** Every (key, value) of the connection table, read in batches where the kernel can. */
  #conntrackEntries(): Iterable<[Buffer, Buffer]> {
    const map = this.#requireObject('conntrack').map('rts_pp_ct');
    try {
      return map.lookupBatch({ batchSize: CONNTRACK_GC_BATCH });
    } catch (err) {
      if (!(err instanceof BpfNotSupportedError)) throw err;
      return [...map.entries()];
    }
  }

  #requireObject(what: string): BpfObject {
    if (!this.#obj || this.stopped) throw new Error(`packetparser: ${what}() needs a successful init() with enablePodLevel: true`);
    return this.#obj;
  }

  /** Emits one flow per event; returns how many records were malformed. */
  #onBatch(batch: RecordBatch, clock: EventClock): number {
    const { events, malformed } = decodeBatch(batch);
    this.ctx.metrics.self.parsedPacketsCounter.inc(batch.count);
    this.#parsed += batch.count;
    const opts = { nodeName: this.ctx.nodeName, epochOffsetNs: clock.epochOffsetNs };
    for (const ev of events) this.ctx.emit(eventToFlow(ev, opts));
    return malformed;
  }
}
