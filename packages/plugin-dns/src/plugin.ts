/**
 * DnsPlugin: loads bpf/dns.bpf.c, attaches its socket filter to a raw socket on every interface of the observed
 * network namespace, and turns the DNS records it copies into the DNS metrics and (when wanted) flows.
 */
import { existsSync } from 'node:fs';
import {
  BpfObject,
  RingBufferReader,
  bundledObjectCandidates,
  netnsPath,
  runInNetns,
  sumPerCpuU64,
  type BpfMap,
  type RawSocket,
  type RecordBatch,
  type RingBufferStats,
} from '@retina-ts/bpf-runtime';
import { epochOffsetNs, PluginBase, type EventStream, type PluginContext } from '@retina-ts/core';
import type { DnsDecodeError, ParseErrorReason } from './decode.js';
import { InterfaceNames } from './interfaces.js';
import { dnsMetrics, resetDnsMetrics } from './metrics.js';
import { dnsOptions, dnsPorts, dnsPortsConstant, type DnsOptions } from './options.js';
import { DnsEventProcessor, type DnsProcessorStats } from './processor.js';

/** Kernel object names, as in bpf/dns.bpf.c. */
export const DNS_PROGRAM = 'rts_dns_filter';
export const DNS_EVENTS_MAP = 'rts_dns_events';
export const DNS_STATS_MAP = 'rts_dns_stats';

/** Indexes of rts_dns_stats. */
export const KernelStat = {
  MATCHED: 0,
  WRITTEN: 1,
  RINGBUF_FULL: 2,
  NO_MESSAGE: 3,
  DUPLICATE: 4,
} as const;

/** Counters kept by the kernel program (summed over CPUs). */
export interface DnsKernelStats {
  /** DNS messages found (written or lost). */
  matched: number;
  /** Records written to the ring buffer. */
  written: number;
  /** Records lost because the ring buffer was full. */
  ringBufferFull: number;
  /** Packets to or from the DNS port without a DNS message (TCP control segments, short datagrams). */
  noMessage: number;
  /** Copies of a message already reported, seen within the duplicate window (stacked devices). */
  duplicates: number;
}

/** Everything the plugin counted, for diagnostics and tests. */
export interface DnsPluginStats {
  kernel: DnsKernelStats;
  reader: RingBufferStats;
  processor: DnsProcessorStats;
}

/** Where the compiled object is: next to dist/index.js when installed, or in dist/ when run from src/. */
export function defaultObjectPath(): string {
  const candidates = bundledObjectCandidates(import.meta.url, 'dns.bpf.o');
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}


/**
 * Whether DNS flows go on the FlowBus: as configured, or with `auto` when something consumes them (pod-level
 * metrics, which are built from flows, or the Hubble control plane, which serves them).
 */
export function flowsWanted(
  emitFlows: DnsOptions['emitFlows'],
  config: Pick<PluginContext['config'], 'enablePodLevel' | 'controlPlane'>,
): boolean {
  return emitFlows === 'auto' ? config.enablePodLevel || config.controlPlane === 'hubble' : emitFlows;
}

const ZERO_KERNEL_STATS: DnsKernelStats = {
  matched: 0,
  written: 0,
  ringBufferFull: 0,
  noMessage: 0,
  duplicates: 0,
};

/** The dns plugin instance. */
export class DnsPlugin extends PluginBase {
  #options!: DnsOptions;
  #object: BpfObject | undefined;
  #statsMap: BpfMap | undefined;
  #stream: EventStream<RingBufferReader> | undefined;
  #socket: RawSocket | undefined;
  #processor: DnsEventProcessor | undefined;
  #emitFlows = false;
  readonly #warnedReasons = new Set<ParseErrorReason>();

  /** The validated options (after init). */
  get options(): DnsOptions {
    return this.#options;
  }

  /** True when this instance puts DNS flows on the FlowBus. */
  get emitsFlows(): boolean {
    return this.#emitFlows;
  }

  /** The loaded kernel object (for tests and diagnostics). */
  get object(): BpfObject | undefined {
    return this.#object;
  }

  protected override onInit(ctx: PluginContext): void {
    const options = dnsOptions.read(ctx);
    this.#options = options;
    this.#emitFlows = flowsWanted(options.emitFlows, ctx.config);

    // Capabilities, socket filters and ring buffers are declared in `requires` and checked before init.
    if (options.netns !== undefined && !existsSync(netnsPath(options.netns))) {
      throw new Error(
        `dns cannot run: plugins.dns.netns: ${netnsPath(options.netns)} does not exist (give a name under /var/run/netns or a path)`,
      );
    }

    const objectPath = options.objectPath ?? defaultObjectPath();
    if (!existsSync(objectPath)) {
      throw new Error(
        `dns: the kernel object ${objectPath} is missing; build the package (npx nx build @retina-ts/plugin-dns) or set plugins.dns.objectPath`,
      );
    }
    const obj = BpfObject.open(objectPath, { name: 'rts_dns' });
    this.defer(() => obj.close());
    const ports = dnsPorts(options);
    obj.setConstant('dns_ports', dnsPortsConstant(ports));
    obj.setConstant('capture_bytes', options.captureBytes);
    obj.setConstant('dup_window_ns', BigInt(Math.round(options.duplicateWindowMs * 1e6)));
    obj.setMapMaxEntries(DNS_EVENTS_MAP, options.ringBufferBytes);
    obj.load();
    this.#object = obj;
    this.#statsMap = obj.map(DNS_STATS_MAP);

    const metrics = dnsMetrics(ctx.metrics);
    // A stopped plugin's series would otherwise stay exposed, and a restart would start its caps afresh over them.
    this.defer(() => resetDnsMetrics(metrics));

    const names = options.netns === undefined ? new InterfaceNames() : undefined;
    const initialOffsetNs = epochOffsetNs();
    const stream = () => this.#stream;
    const processor = new DnsEventProcessor(options, {
      metrics,
      ...(this.#emitFlows ? { emit: (flow) => ctx.emit(flow) } : {}),
      nodeName: ctx.nodeName,
      // Read per message, so flow times follow the offset readEvents keeps measuring.
      get monoToEpochNs() {
        return stream()?.epochOffsetNs ?? initialOffsetNs;
      },
      ...(names ? { interfaceName: (index: number) => names.name(index) } : {}),
      onParseError: (err) => this.#logParseError(err),
    });
    this.#processor = processor;
    ctx.logger.info(
      {
        ports,
        captureBytes: options.captureBytes,
        ringBufferBytes: options.ringBufferBytes,
        netns: options.netns ?? 'own',
        emitFlows: this.#emitFlows,
      },
      'dns socket filter loaded',
    );
  }

  protected override onStart(): void {
    const obj = this.#object;
    const processor = this.#processor;
    if (!obj || !processor) throw new Error('dns: start() needs a successful init()');
    // Registered before the socket, so at stop the socket closes first and the last records are still read.
    this.#stream = this.readEvents(
      (handlers) => new RingBufferReader(obj.map(DNS_EVENTS_MAP), handlers),
      (batch: RecordBatch) => processor.processBatch(batch),
      { kernelLost: () => this.#kernelStats().ringBufferFull },
    );
    const program = obj.program(DNS_PROGRAM);
    const open = (): RawSocket => program.openRawSocket({ protocol: 'all' });
    const netns = this.#options.netns;
    const socket = netns === undefined ? open() : runInNetns(netns, open);
    this.#socket = socket;
    this.defer(() => socket.close());
  }

  /** Counters of the kernel program, reader and processor. */
  stats(): DnsPluginStats {
    return {
      kernel: this.#kernelStats(),
      reader: this.#stream?.reader?.stats() ?? { records: 0, batches: 0, dropped: 0, bytes: 0 },
      processor: this.#processor?.stats() ?? emptyProcessorStats(),
    };
  }

  #kernelStats(): DnsKernelStats {
    const map = this.#statsMap;
    if (!map || this.#object?.closed) return { ...ZERO_KERNEL_STATS };
    const read = (index: number): number => {
      const key = Buffer.alloc(4);
      key.writeUInt32LE(index);
      const values = map.lookupPerCpu(key);
      return values ? Number(sumPerCpuU64(values)) : 0;
    };
    return {
      matched: read(KernelStat.MATCHED),
      written: read(KernelStat.WRITTEN),
      ringBufferFull: read(KernelStat.RINGBUF_FULL),
      noMessage: read(KernelStat.NO_MESSAGE),
      duplicates: read(KernelStat.DUPLICATE),
    };
  }

  #logParseError(err: DnsDecodeError): void {
    // The metric counts every one; the log names the first of each kind, then stays quiet below debug level.
    if (!this.#warnedReasons.has(err.reason)) {
      this.#warnedReasons.add(err.reason);
      this.logger.warn(
        { reason: err.reason, detail: err.message },
        'a DNS packet could not be decoded (counted in dns_parse_errors_total; later ones are logged at debug level)',
      );
    } else {
      this.logger.debug({ reason: err.reason, detail: err.message }, 'DNS packet not decoded');
    }
  }
}

function emptyProcessorStats(): DnsProcessorStats {
  return {
    records: 0,
    requests: 0,
    responses: 0,
    parseErrors: { record: 0, header: 0, question: 0, truncated: 0, answer: 0 },
    flowsEmitted: 0,
    flowsRefused: 0,
    latency: { matched: 0, unmatched: 0, expired: 0 },
    queriesFolded: 0,
    responsesFolded: 0,
  };
}
