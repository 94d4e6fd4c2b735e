/**
 * The plugin in the real kernel, fed by real traffic between two network namespaces.
 *
 * Each plugin instance counts only the namespace under test (`netnsInode`), so drops caused by anything else on
 * the machine (other test suites run in parallel) cannot change the asserted values: they are exact.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { DropReasonDesc, Verdict } from '@retina-ts/core';
import type { Flow, MetricsModule } from '@retina-ts/core';
import { createTestContext, startTestPlugin } from '@retina-ts/core/testing';
import { DropReasonPlugin } from '../src/plugin.js';
import { BtfKind, buildBtf, enumData } from './btf-builder.js';
import { describeKernel, programsStillLoaded } from '@retina-ts/testkit';
import { probes } from '@retina-ts/bpf-runtime';
import {
  createNetnsPair,
  programIds,
  sendFrom,
  suiteRequirements,
  waitUntil,
  type NetnsPair,
} from './kernel-env.js';

/** UDP payload of the test datagrams; skb->len at the INPUT hook is IP header + UDP header + payload. */
const PAYLOAD = 100;
const IP_LEN = 20 + 8 + PAYLOAD;
const DROP_PORT = 9999;
const SENTINEL_PORT = 9995;
/** One source port for both senders of the folding test, so their datagrams are one flow. */
const FOLD_SOURCE_PORT = 40999;

interface Harness {
  plugin: DropReasonPlugin;
  metrics: MetricsModule;
  flows: Flow[];
  stop(): Promise<void>;
}

const running: Harness[] = [];

async function startPlugin(
  options: Record<string, unknown>,
  opts: { podLevel?: boolean } = {},
): Promise<Harness> {
  const { ctx, metrics, flows } = createTestContext({
    name: 'dropreason',
    options,
    // A long interval: the tests call publish() themselves, so what they read never depends on a timer.
    config: { enablePodLevel: opts.podLevel ?? false, metricsIntervalDuration: '1h' },
    logLevel: 'silent',
    nodeName: 'kernel-test-node',
  });
  const plugin = new DropReasonPlugin();
  const { stop } = await startTestPlugin(plugin, ctx);
  const h: Harness = { plugin, metrics, flows, stop };
  running.push(h);
  return h;
}

/** Current value of a drop_count / drop_bytes series (0 when the series does not exist). */
async function series(
  m: MetricsModule,
  metric: 'dropCount' | 'dropBytes',
  reason: string,
  direction: string,
): Promise<number> {
  const { values } = await m.basic[metric].get();
  return values.find((v) => v.labels.reason === reason && v.labels.direction === direction)?.value ?? 0;
}

/** Every non-zero drop_count series as "reason/direction=value". */
async function allCounts(m: MetricsModule): Promise<string[]> {
  const { values } = await m.basic.dropCount.get();
  return values
    .filter((v) => v.value !== 0)
    .map((v) => `${v.labels.reason}/${v.labels.direction}=${v.value}`)
    .sort();
}

async function lost(m: MetricsModule, reason: string): Promise<number> {
  const { values } = await m.self.lostEventsCounter.get();
  return values.find((v) => v.labels.type === 'kernel' && v.labels.reason === reason)?.value ?? 0;
}

/** Publishes until drop_count{reason,direction} reaches `atLeast`, then returns the value. */
async function countWhenAtLeast(
  h: Harness,
  reason: string,
  direction: string,
  atLeast: number,
): Promise<number> {
  let value = 0;
  await waitUntil(async () => {
    h.plugin.publish();
    value = await series(h.metrics, 'dropCount', reason, direction);
    return value >= atLeast;
  });
  return value;
}

const isUdpTo = (port: number) => (f: Flow) => f.l4?.udp?.destinationPort === port;

/** Flow records on, one per drop (no folding). */
const EACH_DROP_A_RECORD = { flowEvents: true, eventIntervalMs: 0 };

describeKernel(
  'dropreason in the kernel',
  () => {
    let pair: NetnsPair;

    /** A plugin on tp_btf counting the receiver's namespace, with `options` on top. */
    const watchReceiver = (options: Record<string, unknown> = {}): Promise<Harness> =>
      startPlugin({ hook: 'tp_btf', netnsInode: pair.receiverInode, ...options });

    /** Sends `count` datagrams of PAYLOAD bytes from the sender to the receiver's `port` (dropped by iptables). */
    const sendUdp = (count: number, port = DROP_PORT, sourcePort?: number): void =>
      sendFrom(pair.sender, { to: pair.receiverIp, udp: [{ port, count, payload: PAYLOAD }], sourcePort });

    beforeAll(() => {
      pair = createNetnsPair();
      for (const port of [DROP_PORT, SENTINEL_PORT]) {
        pair.receiver.exec('iptables', ['-A', 'INPUT', '-p', 'udp', '--dport', String(port), '-j', 'DROP']);
      }
    });

    afterEach(async () => {
      for (const h of running.splice(0)) await h.stop();
    });

    afterAll(() => {
      pair?.destroy();
    });

    it('counts an iptables DROP as IPTABLE_RULE_DROP ingress, exactly N packets and N × length bytes (tp_btf)', async () => {
      const h = await watchReceiver(EACH_DROP_A_RECORD);
      expect(h.plugin.hook).toBe('tp_btf');
      const N = 25;
      sendUdp(N);

      expect(await countWhenAtLeast(h, 'IPTABLE_RULE_DROP', 'ingress', N)).toBe(N);
      expect(await series(h.metrics, 'dropBytes', 'IPTABLE_RULE_DROP', 'ingress')).toBe(N * IP_LEN);
      // Nothing else was dropped in the receiver namespace.
      expect(await allCounts(h.metrics)).toEqual([`IPTABLE_RULE_DROP/ingress=${N}`]);

      // One flow per drop (no folding with eventIntervalMs 0), with the 5-tuple read from the packet.
      await waitUntil(() => h.flows.filter(isUdpTo(DROP_PORT)).length >= N);
      const flows = h.flows.filter(isUdpTo(DROP_PORT));
      expect(flows).toHaveLength(N);
      for (const f of flows) {
        expect(f.verdict).toBe(Verdict.DROPPED);
        expect(f.dropReasonDesc).toBe(DropReasonDesc.POLICY_DENIED);
        expect(f.ip).toMatchObject({ source: pair.senderIp, destination: pair.receiverIp });
        expect(f.extensions).toMatchObject({ dropReason: 'IPTABLE_RULE_DROP', packets: 1, bytes: IP_LEN });
        expect(f.nodeName).toBe('kernel-test-node');
      }
      // Record times are wall-clock times of this run.
      const ms = Number(flows[0]!.timeNs / 1_000_000n);
      expect(Math.abs(ms - Date.now())).toBeLessThan(60_000);
    });

    it('shows a UDP datagram and a TCP SYN to closed ports as NO_SOCKET, with their own flows', async () => {
      const h = await watchReceiver(EACH_DROP_A_RECORD);
      sendFrom(pair.sender, {
        to: pair.receiverIp,
        udp: [{ port: 9998, count: 1, payload: 10 }],
        tcp: [9997],
      });

      expect(await countWhenAtLeast(h, 'NO_SOCKET', 'ingress', 2)).toBe(2);
      expect(await allCounts(h.metrics)).toEqual(['NO_SOCKET/ingress=2']);
      await waitUntil(() => h.flows.length >= 2);
      const udp = h.flows.find(isUdpTo(9998));
      const tcp = h.flows.find((f) => f.l4?.tcp?.destinationPort === 9997);
      expect(udp?.extensions?.dropReason).toBe('NO_SOCKET');
      // UDP drops it after the IP header was pulled: skb->len is UDP header + payload there.
      expect(udp?.extensions?.bytes).toBe(8 + 10);
      expect(tcp?.extensions?.dropReason).toBe('NO_SOCKET');
      expect(tcp?.ip).toMatchObject({ source: pair.senderIp, destination: pair.receiverIp });
    });

    it('with reasonNames: retina, labels an iptables drop IPTABLE_RULE_DROP and a closed port UNKNOWN_DROP', async () => {
      const h = await watchReceiver({ ...EACH_DROP_A_RECORD, reasonNames: 'retina' });
      sendFrom(pair.sender, {
        to: pair.receiverIp,
        udp: [
          { port: DROP_PORT, count: 2, payload: PAYLOAD },
          { port: 9998, count: 1, payload: 10 },
        ],
      });

      expect(await countWhenAtLeast(h, 'UNKNOWN_DROP', 'ingress', 1)).toBe(1);
      expect(await countWhenAtLeast(h, 'IPTABLE_RULE_DROP', 'ingress', 2)).toBe(2);
      expect(await allCounts(h.metrics)).toEqual(['IPTABLE_RULE_DROP/ingress=2', 'UNKNOWN_DROP/ingress=1']);
      await waitUntil(() => h.flows.length >= 3);
      expect(h.flows.find(isUdpTo(9998))?.extensions?.dropReason).toBe('UNKNOWN_DROP');
      expect(h.flows.find(isUdpTo(DROP_PORT))?.dropReasonDesc).toBe(DropReasonDesc.POLICY_DENIED);
    });

    it('counts a drop of locally sent packets as egress', async () => {
      const h = await startPlugin({ hook: 'tp_btf', netnsInode: pair.senderInode });
      pair.sender.exec('iptables', ['-A', 'OUTPUT', '-p', 'udp', '--dport', '9996', '-j', 'DROP']);
      try {
        sendUdp(4, 9996);
        expect(await countWhenAtLeast(h, 'IPTABLE_RULE_DROP', 'egress', 4)).toBe(4);
        expect(await series(h.metrics, 'dropBytes', 'IPTABLE_RULE_DROP', 'egress')).toBe(4 * IP_LEN);
        expect(await series(h.metrics, 'dropCount', 'IPTABLE_RULE_DROP', 'ingress')).toBe(0);
      } finally {
        pair.sender.exec('iptables', ['-D', 'OUTPUT', '-p', 'udp', '--dport', '9996', '-j', 'DROP']);
      }
    });

    it('counts the same through the classic tracepoint', async () => {
      // Classic tracepoints need tracefs; unmount afterwards only what this test mounted.
      const mount = probes.ensureTracefs();
      try {
        const h = await startPlugin({ hook: 'tracepoint', netnsInode: pair.receiverInode });
        expect(h.plugin.hook).toBe('tracepoint');
        const N = 12;
        sendUdp(N);
        expect(await countWhenAtLeast(h, 'IPTABLE_RULE_DROP', 'ingress', N)).toBe(N);
        expect(await series(h.metrics, 'dropBytes', 'IPTABLE_RULE_DROP', 'ingress')).toBe(N * IP_LEN);
        await h.stop();
      } finally {
        if (mount.mounted) {
          try {
            probes.unmount(mount.path);
          } catch {
            // busy (another suite attached meanwhile): a tracefs mount left behind is harmless
          }
        }
      }
    });

    it('folds repeated drops of one flow into its next record', async () => {
      const h = await watchReceiver({ flowEvents: true, eventIntervalMs: 600_000 });
      sendUdp(5, DROP_PORT, FOLD_SOURCE_PORT);
      // The sentinel is another flow; the ring buffer is FIFO, so once its record is here every earlier one is too.
      sendUdp(1, SENTINEL_PORT);
      expect(await countWhenAtLeast(h, 'IPTABLE_RULE_DROP', 'ingress', 6)).toBe(6);
      expect(await waitUntil(() => h.flows.some(isUdpTo(SENTINEL_PORT)))).toBe(true);
      const first = h.flows.filter(isUdpTo(DROP_PORT));
      expect(first).toHaveLength(1);
      expect(first[0]!.extensions).toMatchObject({ packets: 1, bytes: IP_LEN });

      // Pretend the interval has passed for that flow: its next drop carries the 4 folded drops plus itself.
      const flowsMap = h.plugin.object!.map('rts_dr_flows');
      let rewound = 0;
      for (const key of flowsMap.keys()) {
        if (key.readUInt16LE(34) !== DROP_PORT) continue;
        const value = Buffer.from(flowsMap.lookup(key)!);
        expect(value.readBigUInt64LE(8)).toBe(4n);
        expect(value.readBigUInt64LE(16)).toBe(BigInt(4 * IP_LEN));
        value.writeBigUInt64LE(0n, 0);
        flowsMap.update(key, value);
        rewound++;
      }
      expect(rewound).toBe(1);
      sendUdp(1, DROP_PORT, FOLD_SOURCE_PORT);
      expect(await waitUntil(() => h.flows.filter(isUdpTo(DROP_PORT)).length >= 2)).toBe(true);
      expect(h.flows.filter(isUdpTo(DROP_PORT))[1]!.extensions).toMatchObject({
        packets: 5,
        bytes: 5 * IP_LEN,
      });
      // The metric never depends on folding.
      expect(await countWhenAtLeast(h, 'IPTABLE_RULE_DROP', 'ingress', 7)).toBe(7);
    });

    it('caps records per CPU per second and counts the rest as lost', async () => {
      const h = await watchReceiver({ ...EACH_DROP_A_RECORD, eventsPerCpuPerSecond: 1 });
      const N = 10;
      sendUdp(N);
      expect(await countWhenAtLeast(h, 'IPTABLE_RULE_DROP', 'ingress', N)).toBe(N);
      // Every drop is either a record or a counted loss, never both, never neither.
      let delivered = 0;
      let limited = 0;
      await waitUntil(async () => {
        h.plugin.publish();
        delivered = h.flows.filter(isUdpTo(DROP_PORT)).length;
        limited = await lost(h.metrics, 'dropreason');
        return delivered + limited >= N;
      });
      expect(delivered + limited).toBe(N);
      expect(delivered).toBeGreaterThanOrEqual(1);
      expect(limited).toBeGreaterThanOrEqual(1);
    });

    it('leaves no program loaded after stop', async () => {
      const h = await watchReceiver({ flowEvents: true });
      const ours = programIds('rts_dr_');
      expect(ours.length).toBeGreaterThanOrEqual(1);
      await h.stop();
      // The kernel frees a detached tracing program after an RCU grace period, so it may linger for a moment.
      let still = programsStillLoaded(ours);
      await waitUntil(() => (still = programsStillLoaded(ours)).length === 0);
      expect(still).toEqual([]);
      // stop is idempotent
      await h.plugin.stop();
    });

    it('fails init with the reason when the kernel BTF has no drop-reason enum', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'rts-dr-'));
      const btfPath = join(dir, 'vmlinux');
      writeFileSync(
        btfPath,
        buildBtf([{ kind: BtfKind.ENUM, name: 'other', vlen: 1, sizeOrType: 4, data: enumData([['X', 1]]) }]),
      );
      try {
        const before = programIds('rts_dr_');
        await expect(startPlugin({ btfPath })).rejects.toThrow(
          /has no enum skb_drop_reason in .*; kernel drop reasons need Linux 5\.17 or newer/,
        );
        expect(programIds('rts_dr_').filter((id) => !before.includes(id))).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('exposes the metrics under Retina names', async () => {
      const h = await watchReceiver();
      sendUdp(3);
      expect(await countWhenAtLeast(h, 'IPTABLE_RULE_DROP', 'ingress', 3)).toBe(3);
      const { body } = await h.metrics.expose();
      expect(body).toContain(
        'networkobservability_drop_count{reason="IPTABLE_RULE_DROP",direction="ingress"} 3',
      );
      expect(body).toContain(
        `networkobservability_drop_bytes{reason="IPTABLE_RULE_DROP",direction="ingress"} ${3 * IP_LEN}`,
      );
    });
  },
  { requires: suiteRequirements },
);
