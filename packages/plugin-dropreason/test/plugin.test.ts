/**
 * The plugin's user-space logic with bpf-runtime replaced by an in-memory double: hook choice and fallback,
 * settings written before load, metric publishing, lost-event deltas, flow emission and release order.
 * The real kernel path is covered by dropreason.kernel.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { Verdict } from '@retina-ts/core';
import type { Flow, MetricsModule } from '@retina-ts/core';
import { createTestContext, startTestPlugin } from '@retina-ts/core/testing';
import type * as BpfRuntime from '@retina-ts/bpf-runtime';
import { encodeDropEvent, encodeMetricKey } from '../src/decode.js';
import { BtfKind, buildBtf, enumData } from './btf-builder.js';

/** What the double records, shared with the mocked module. */
const world = vi.hoisted(() => ({
  log: [] as string[],
  failAttach: new Set<string>(),
  missingCaps: [] as string[],
  sysAdmin: false,
  btf: true,
  tracefs: true,
  constants: new Map<string, unknown>(),
  maxEntries: new Map<string, number>(),
  autoload: new Map<string, boolean>(),
  metrics: new Map<string, Buffer[]>(),
  stats: new Map<number, Buffer[]>(),
  onBatch: undefined as undefined | ((b: unknown) => void),
  readerDropped: 0,
}));

vi.mock('@retina-ts/bpf-runtime', async (importOriginal) => {
  // Address formatting, struct layouts, per-CPU sums, object lookup and BTF reading (of the files the tests write)
  // are real.
  const {
    formatIpv4,
    formatIpv6,
    defineStruct,
    sumPerCpuFields,
    sumPerCpuU64,
    bundledObjectCandidates,
    kernelEnums,
    moduleEnums,
  } = await importOriginal<typeof BpfRuntime>();
  class FakeMap {
    constructor(readonly name: string) {}
    *keys(): IterableIterator<Buffer> {
      if (this.name === 'rts_dr_metrics') for (const k of world.metrics.keys()) yield Buffer.from(k, 'hex');
    }
    lookupPerCpu(key: Buffer): Buffer[] | undefined {
      if (this.name === 'rts_dr_metrics') return world.metrics.get(key.toString('hex'));
      return world.stats.get(key.readUInt32LE(0));
    }
  }
  class FakeProgram {
    constructor(readonly name: string) {}
    #link(kind: string) {
      if (world.failAttach.has(kind)) throw new Error(`${kind} refused by the kernel`);
      world.log.push(`attach ${kind}`);
      return { kind, detach: () => world.log.push(`detach ${kind}`) };
    }
    attachBtfTracepoint() {
      return this.#link('tp_btf');
    }
    attachTracepoint(cat: string, name: string) {
      world.log.push(`tracepoint ${cat}:${name}`);
      return this.#link('tracepoint');
    }
  }
  class BpfObject {
    static open(path: string, opts: { name?: string }) {
      world.log.push(`open ${opts.name} ${path.endsWith('dropreason.bpf.o')}`);
      return new BpfObject();
    }
    setConstant(name: string, value: unknown) {
      world.constants.set(name, value);
      return this;
    }
    setMapMaxEntries(name: string, n: number) {
      world.maxEntries.set(name, n);
      return this;
    }
    setProgramAutoload(name: string, on: boolean) {
      world.autoload.set(name, on);
      return this;
    }
    load() {
      world.log.push('load');
      return this;
    }
    program(name: string) {
      return new FakeProgram(name);
    }
    map(name: string) {
      return new FakeMap(name);
    }
    close() {
      world.log.push('close');
    }
  }
  class RingBufferReader {
    constructor(map: FakeMap, opts: { onBatch: (b: unknown) => void }) {
      world.log.push(`reader ${map.name}`);
      world.onBatch = opts.onBatch;
    }
    start() {
      world.log.push('reader start');
      return this;
    }
    stop() {
      world.log.push('reader stop');
    }
    stats() {
      return { records: 0, batches: 0, dropped: world.readerDropped, bytes: 0 };
    }
  }
  const probes = {
    missingCapabilities: () => world.missingCaps,
    hasCapabilities: () => world.sysAdmin,
    btfAvailable: () => world.btf,
    kernelRelease: () => '6.99.0-test',
    tracefsAvailable: () => world.tracefs,
    ensureTracefs: () => {
      world.log.push('mount tracefs');
      world.tracefs = true;
      return { path: '/sys/kernel/tracing', mounted: true };
    },
  };
  return {
    BpfObject,
    RingBufferReader,
    probes,
    formatIpv4,
    formatIpv6,
    defineStruct,
    sumPerCpuFields,
    sumPerCpuU64,
    bundledObjectCandidates,
    kernelEnums,
    moduleEnums,
  };
});

const { DropReasonPlugin } = await import('../src/plugin.js');
const { default: definition } = await import('../src/index.js');

const dir = mkdtempSync(join(tmpdir(), 'rts-dr-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A kernel BTF whose normal-free values are not 0, 1, 2, to prove they are looked up by name. */
const btfPath = join(dir, 'vmlinux');
writeFileSync(
  btfPath,
  buildBtf([
    {
      kind: BtfKind.ENUM,
      name: 'skb_drop_reason',
      vlen: 5,
      sizeOrType: 4,
      data: enumData([
        ['SKB_CONSUMED', 10],
        ['SKB_NOT_DROPPED_YET', 11],
        ['SKB_DROP_REASON_NOT_SPECIFIED', 12],
        ['SKB_DROP_REASON_NO_SOCKET', 13],
        ['SKB_DROP_REASON_NETFILTER_DROP', 14],
      ]),
    },
  ]),
);

function perCpu(...pairs: Array<[number, number]>): Buffer[] {
  return pairs.map(([a, b]) => {
    const buf = Buffer.alloc(16);
    buf.writeBigUInt64LE(BigInt(a), 0);
    buf.writeBigUInt64LE(BigInt(b), 8);
    return buf;
  });
}

function u64s(...values: number[]): Buffer[] {
  return values.map((v) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    return b;
  });
}

interface Run {
  plugin: InstanceType<typeof DropReasonPlugin>;
  metrics: MetricsModule;
  flows: Flow[];
  stop(): Promise<void>;
}

async function init(options: Record<string, unknown>, podLevel = false): Promise<Run> {
  const { ctx, metrics, flows } = createTestContext({
    name: 'dropreason',
    options: { btfPath, ...options },
    config: { enablePodLevel: podLevel, metricsIntervalDuration: '1h' },
    logLevel: 'silent',
    nodeName: 'unit-node',
  });
  const plugin = new DropReasonPlugin();
  const { stop } = await startTestPlugin(plugin, ctx);
  return { plugin, metrics, flows, stop };
}

async function gauge(m: MetricsModule, which: 'dropCount' | 'dropBytes'): Promise<string[]> {
  const { values } = await m.basic[which].get();
  return values.map((v) => `${v.labels.reason}/${v.labels.direction}=${v.value}`).sort();
}

async function lostCounts(m: MetricsModule): Promise<string[]> {
  const { values } = await m.self.lostEventsCounter.get();
  return values.map((v) => `${v.labels.type}/${v.labels.reason}=${v.value}`).sort();
}

beforeEach(() => {
  world.log.length = 0;
  world.failAttach.clear();
  world.missingCaps = [];
  world.sysAdmin = false;
  world.btf = true;
  world.tracefs = true;
  world.constants.clear();
  world.maxEntries.clear();
  world.autoload.clear();
  world.metrics.clear();
  world.stats.clear();
  world.onBatch = undefined;
  world.readerDropped = 0;
});

describe('init', () => {
  it('loads only the tp_btf program, with settings from BTF and options', async () => {
    const r = await init(
      { netnsInode: 4026532001, eventIntervalMs: 250, eventsPerCpuPerSecond: 7, ringBufferBytes: 65536 },
      true,
    );
    expect(r.plugin.hook).toBe('tp_btf');
    expect(Object.fromEntries(world.constants)).toEqual({
      skip_reason_a: 11,
      skip_reason_b: 10,
      skip_reason_c: 12,
      netns_filter: 4026532001,
      emit_events: 1,
      event_interval_ns: 250_000_000n,
      events_per_sec: 7,
    });
    expect(Object.fromEntries(world.autoload)).toEqual({ rts_dr_btf: true, rts_dr_tp: false });
    expect(Object.fromEntries(world.maxEntries)).toEqual({ rts_dr_events: 65536 });
    expect(world.log).toEqual([
      'open rts_dropreason true',
      'load',
      'attach tp_btf',
      'reader rts_dr_events',
      'reader start',
    ]);
    await r.stop();
  });

  it('falls back to the classic tracepoint, mounting tracefs when needed', async () => {
    world.failAttach.add('tp_btf');
    world.tracefs = false;
    const r = await init({});
    expect(r.plugin.hook).toBe('tracepoint');
    expect(Object.fromEntries(world.autoload)).toEqual({ rts_dr_btf: false, rts_dr_tp: true });
    expect(world.log).toEqual([
      'open rts_dropreason true',
      'load',
      'close',
      'open rts_dropreason true',
      'load',
      'mount tracefs',
      'tracepoint skb:kfree_skb',
      'attach tracepoint',
    ]);
    // No flow events without pod level: no reader.
    expect(world.constants.get('emit_events')).toBe(0);
    await r.stop();
  });

  it('names every hook that failed', async () => {
    world.failAttach.add('tp_btf');
    world.failAttach.add('tracepoint');
    await expect(init({})).rejects.toThrow(
      'dropreason: could not attach to skb:kfree_skb (tp_btf: tp_btf refused by the kernel; tracepoint: tracepoint refused by the kernel)',
    );
    expect(world.log.filter((l) => l === 'close')).toHaveLength(2);
  });

  it('uses only the hook asked for', async () => {
    world.failAttach.add('tp_btf');
    await expect(init({ hook: 'tp_btf' })).rejects.toThrow(/\(tp_btf: tp_btf refused by the kernel\)$/);
  });

  it('declares capabilities and BTF for the manager, and explains a kernel without drop reasons', async () => {
    // The manager checks these before init (the agent's checker runs bpf-runtime's probes on them).
    expect(definition.requires).toMatchObject({
      capabilities: [
        ['CAP_BPF', 'CAP_SYS_ADMIN'],
        ['CAP_PERFMON', 'CAP_SYS_ADMIN'],
      ],
      features: ['btf'],
    });
    const old = join(dir, 'old-vmlinux');
    writeFileSync(old, buildBtf([{ kind: BtfKind.INT, name: 'int', sizeOrType: 4, data: [0x20] }]));
    await expect(init({ btfPath: old })).rejects.toThrow(
      `dropreason: kernel 6.99.0-test has no enum skb_drop_reason in ${old}; kernel drop reasons need Linux 5.17 or newer`,
    );
    await expect(init({ hook: 'kprobe' })).rejects.toThrow(/^plugins\.dropreason\.hook = "kprobe"/);
    expect(world.log).toEqual([]);
  });
});

describe('publish', () => {
  it('sets drop_count and drop_bytes from the summed per-CPU counters, skipping normal frees', async () => {
    const r = await init({});
    world.metrics.set(encodeMetricKey(14, 0).toString('hex'), perCpu([3, 300], [2, 200]));
    world.metrics.set(encodeMetricKey(13, 1).toString('hex'), perCpu([1, 40], [0, 0]));
    world.metrics.set(encodeMetricKey(12, 0).toString('hex'), perCpu([99, 9900], [0, 0]));
    world.metrics.set(encodeMetricKey(200, 0).toString('hex'), perCpu([1, 1], [1, 1]));
    r.plugin.publish();
    expect(await gauge(r.metrics, 'dropCount')).toEqual([
      'IPTABLE_RULE_DROP/ingress=5',
      'NO_SOCKET/egress=1',
      'UNKNOWN_DROP/ingress=2',
    ]);
    expect(await gauge(r.metrics, 'dropBytes')).toEqual([
      'IPTABLE_RULE_DROP/ingress=500',
      'NO_SOCKET/egress=40',
      'UNKNOWN_DROP/ingress=2',
    ]);
    await r.stop();
  });

  it('adds only the growth of kernel loss counters to lost_events_counter', async () => {
    const r = await init({}, true);
    world.stats.set(0, u64s(2, 1));
    world.stats.set(1, u64s(0, 4));
    world.stats.set(2, u64s(0, 0));
    world.readerDropped = 3;
    r.plugin.publish();
    world.stats.set(0, u64s(2, 2));
    world.readerDropped = 5;
    r.plugin.publish();
    r.plugin.publish();
    // One label scheme for every plugin: `type` says where, `reason` is the plugin's name.
    expect(await lostCounts(r.metrics)).toEqual(['buffered_channel/dropreason=5', 'kernel/dropreason=8']);
    await r.stop();
  });
});

describe('flow events', () => {
  it('emits one DROPPED flow per ring-buffer record', async () => {
    const r = await init({}, true);
    const ev = {
      tsMonoNs: process.hrtime.bigint(),
      reason: 14,
      skbLen: 128,
      packets: 2,
      bytes: 256,
      ipVersion: 4,
      source: '10.234.1.1',
      destination: '10.234.1.2',
      l4proto: 17,
      sport: 5000,
      dport: 9999,
      dir: 0,
      ifindex: 3,
      netns: 1,
    };
    const rec = encodeDropEvent(ev, Buffer.from([10, 234, 1, 1]), Buffer.from([10, 234, 1, 2]));
    const buffer = Buffer.concat([rec, rec, Buffer.alloc(16)]);
    world.onBatch!({
      count: 3,
      buffer,
      offsets: Uint32Array.from([0, 80, 160]),
      lengths: Uint32Array.from([80, 80, 16]),
    });
    // The short third record is ignored rather than misread.
    expect(r.flows).toHaveLength(2);
    expect(r.flows[0]).toMatchObject({
      verdict: Verdict.DROPPED,
      nodeName: 'unit-node',
      ip: { source: '10.234.1.1', destination: '10.234.1.2' },
      l4: { udp: { sourcePort: 5000, destinationPort: 9999 } },
      extensions: { dropReason: 'IPTABLE_RULE_DROP', packets: 2, bytes: 256 },
    });
    expect(Math.abs(Number(r.flows[0]!.timeNs / 1_000_000n) - Date.now())).toBeLessThan(60_000);
    await r.stop();
  });
});

describe('stop', () => {
  it('stops the reader, then detaches, then closes; a second stop does nothing', async () => {
    const r = await init({}, true);
    world.log.length = 0;
    await r.stop();
    expect(world.log).toEqual(['reader stop', 'detach tp_btf', 'close']);
    await r.plugin.stop();
    expect(world.log).toEqual(['reader stop', 'detach tp_btf', 'close']);
    expect(r.plugin.object).toBeUndefined();
  });
});
