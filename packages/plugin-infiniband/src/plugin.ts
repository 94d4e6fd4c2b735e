/** The infiniband plugin: reads InfiniBand port counters and IPoIB status parameters every metrics interval. */
import { access } from 'node:fs/promises';
import path from 'node:path';
import { PluginBase, type PluginContext } from '@retina-ts/core';
import { applySnapshot, clearSeries } from './metrics.js';
import { infinibandOptions, type InfinibandOptions } from './options.js';
import { readInfiniband, type InfinibandSnapshot } from './sysfs.js';

/** InfiniBand statistics from sysfs as `infiniband_counter_stats` and `infiniband_status_params`. */
export class InfinibandPlugin extends PluginBase {
  #options: InfinibandOptions | undefined;
  #polling: Promise<InfinibandSnapshot> | undefined;
  /** Problems already logged at warn level, so a file that never reads does not warn on every poll. */
  readonly #warned = new Set<string>();

  protected override async onInit(ctx: PluginContext): Promise<void> {
    const options = infinibandOptions.read(ctx);
    this.#options = options;
    const ibRoot = path.join(options.sysfsRoot, 'class', 'infiniband');
    try {
      await access(ibRoot);
    } catch {
      // Devices can appear later (driver loaded after the agent); the plugin keeps polling.
      ctx.logger.warn(
        `infiniband: ${ibRoot} does not exist, so this node has no InfiniBand devices now (mount the host's /sys there, or set plugins.infiniband.sysfsRoot)`,
      );
    }
    const gauges = ctx.metrics.basic;
    // A stopped plugin's series would otherwise stay exposed with their last values.
    this.defer(() => clearSeries(gauges));
  }

  protected override onStart(): void {
    this.every(this.ctx.config.metricsIntervalMs, () => this.poll());
  }

  /**
   * Reads sysfs once and replaces the series; `start` runs this every metrics interval. A poll that overlaps a
   * running one returns the running one. Needs a successful init.
   */
  poll(): Promise<InfinibandSnapshot> {
    const options = this.#options;
    if (!options) return Promise.reject(new Error('infiniband: poll() needs a successful init() first'));
    this.#polling ??= (async () => {
      try {
        const snap = await readInfiniband(options.sysfsRoot, options.maxSeries);
        if (this.stopped) return snap;
        applySnapshot(this.ctx.metrics.basic, snap);
        this.#report(snap);
        return snap;
      } finally {
        this.#polling = undefined;
      }
    })();
    return this.#polling;
  }

  #report(snap: InfinibandSnapshot): void {
    const fresh = snap.problems.filter((p) => !this.#warned.has(p));
    if (fresh.length > 0) {
      for (const p of fresh.slice(0, 1000)) this.#warned.add(p);
      this.logger.warn({ problems: fresh.slice(0, 20), count: fresh.length }, 'infiniband: some sysfs entries could not be read');
    }
    if (snap.truncated > 0) {
      this.logger.warn(
        { truncated: snap.truncated, maxSeries: this.#options?.maxSeries },
        'infiniband: more statistics than plugins.infiniband.maxSeries; the rest are left out',
      );
    }
  }
}
