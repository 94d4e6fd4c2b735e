/**
 * PacketForwardPlugin: attaches the TC counting programs to the node's interface(s) and publishes their totals as
 * `forward_count` / `forward_bytes` every `metricsIntervalDuration`.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { PluginBase, type PluginContext } from '@retina-ts/core';
import { BpfObject, bundledObjectPath, type BpfMap } from '@retina-ts/bpf-runtime';
import { DIRECTIONS, defaultRouteInterfaces, directionKey, sumPerCpuCounters, type Direction, type ForwardTotals } from './decode.js';
import { parsePacketForwardOptions, type PacketForwardOptions } from './options.js';

/** File name of the compiled BPF object inside the package's `dist/bpf/`. */
export const BPF_OBJECT_FILE = 'packetforward.bpf.o';

/** One attached program. */
export interface Attachment {
  ifname: string;
  direction: Direction;
  /** How the kernel holds it: `tcx` (a BPF link) or `clsact` (a netlink filter). */
  kind: string;
}

/** Where the compiled object is: beside the bundle in `dist/`, or in `dist/` when running from `src/`. */
export function bpfObjectPath(): string {
  return bundledObjectPath(import.meta.url, BPF_OBJECT_FILE, 'npx nx build @retina-ts/plugin-packetforward');
}

/** The interfaces carrying the node's default routes, from /proc/net/route and /proc/net/ipv6_route. */
export async function resolveDefaultInterfaces(): Promise<string[]> {
  const read = (path: string) => readFile(path, 'utf8').catch(() => '');
  return defaultRouteInterfaces(await read('/proc/net/route'), await read('/proc/net/ipv6_route'));
}

/** Counts packets and bytes through the node's interface(s) with TC programs. */
export class PacketForwardPlugin extends PluginBase<PacketForwardOptions> {
  #stats: BpfMap | undefined;
  #interfaces: string[] = [];
  readonly #attachments: Attachment[] = [];
  /** Gauge values left by an earlier instance, so the published totals do not fall back to zero on restart. */
  #base: Record<Direction, { packets: number; bytes: number }> = {
    ingress: { packets: 0, bytes: 0 },
    egress: { packets: 0, bytes: 0 },
  };

  /** Interfaces the programs are attached to (after init). */
  get interfaces(): readonly string[] {
    return this.#interfaces;
  }

  /** Every program attachment made in init. */
  get attachments(): readonly Attachment[] {
    return this.#attachments;
  }

  protected override async onInit(ctx: PluginContext<PacketForwardOptions>): Promise<void> {
    // sched_cls support is declared in `requires` and checked by the manager before init.
    const options = parsePacketForwardOptions(ctx.options);

    const interfaces = options.interfaces ?? (await resolveDefaultInterfaces());
    if (interfaces.length === 0) {
      throw new Error(
        'packetforward found no default route to pick an interface from; set plugins.packetforward.interfaces ' +
          '(e.g. ["eth0"])',
      );
    }
    for (const name of interfaces) {
      if (!existsSync(`/sys/class/net/${name}`)) {
        throw new Error(
          `packetforward: interface "${name}" does not exist in this network namespace; ` +
            'fix plugins.packetforward.interfaces or run the agent in the host network namespace',
        );
      }
    }
    this.#interfaces = [...interfaces];
    this.#base = await this.#readPublished(ctx);

    const obj = BpfObject.open(bpfObjectPath(), { name: 'packetforward' });
    this.defer(() => obj.close());
    obj.load();
    this.#stats = obj.map('rts_pf_stats');

    const mode = ctx.config.enableTCX === 'off' ? 'clsact' : 'auto';
    for (const ifname of this.#interfaces) {
      for (const direction of DIRECTIONS) {
        const link = obj.program(`rts_pf_${direction}`).attachTc({ ifname, direction, mode });
        this.defer(() => link.detach());
        this.#attachments.push({ ifname, direction, kind: link.kind });
      }
    }
    ctx.logger.info({ attachments: this.#attachments }, 'packetforward attached');
  }

  protected override onStart(): void {
    this.every(this.ctx.config.metricsIntervalMs, () => {
      this.collect();
    });
  }

  /**
   * Reads the kernel counters (totals since init), publishes them as `forward_count` / `forward_bytes` and
   * returns them. Runs on every interval; callable at any time after init.
   */
  collect(): Record<Direction, ForwardTotals> {
    const stats = this.#stats;
    if (!stats) throw new Error('packetforward: collect() needs a successful init() first');
    const { forwardCount, forwardBytes } = this.ctx.metrics.basic;
    const totals = {} as Record<Direction, ForwardTotals>;
    for (const direction of DIRECTIONS) {
      const t = sumPerCpuCounters(stats.lookupPerCpu(directionKey(direction)) ?? []);
      totals[direction] = t;
      forwardCount.set({ direction }, this.#base[direction].packets + Number(t.packets));
      forwardBytes.set({ direction }, this.#base[direction].bytes + Number(t.bytes));
    }
    return totals;
  }

  /** The values currently published (0 when none), read once at init. */
  async #readPublished(ctx: PluginContext<PacketForwardOptions>): Promise<Record<Direction, { packets: number; bytes: number }>> {
    const [count, bytes] = await Promise.all([ctx.metrics.basic.forwardCount.get(), ctx.metrics.basic.forwardBytes.get()]);
    const pick = (values: typeof count.values, direction: Direction) =>
      values.find((v) => v.labels.direction === direction)?.value ?? 0;
    return {
      ingress: { packets: pick(count.values, 'ingress'), bytes: pick(bytes.values, 'ingress') },
      egress: { packets: pick(count.values, 'egress'), bytes: pick(bytes.values, 'egress') },
    };
  }
}
