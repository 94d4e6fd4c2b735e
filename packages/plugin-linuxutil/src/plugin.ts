/** The linuxutil plugin: polls /proc/net and ethtool statistics every metrics interval. */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { PluginBase, type PluginContext } from '@retina-ts/core';
import { LinuxUtilCollector, type PollReport } from './collector.js';
import { openEthtoolStatsReader } from './ethtool/ioctl.js';
import type { EthtoolStatsReader } from './ethtool/reader.js';
import { linuxUtilOptions } from './options.js';

/** Replaceable OS access (tests pass a fake ethtool reader). */
export interface LinuxUtilPluginDeps {
  /** Opens the driver statistics reader (default: the SIOCETHTOOL ioctl through libc). */
  openEthtool?: () => Promise<EthtoolStatsReader>;
}

/** Node-level TCP/UDP/IP statistics, socket states, remote addresses and interface driver statistics. */
export class LinuxUtilPlugin extends PluginBase {
  #collector: LinuxUtilCollector | undefined;

  constructor(private readonly deps: LinuxUtilPluginDeps = {}) {
    super();
  }

  protected override async onInit(ctx: PluginContext): Promise<void> {
    const options = linuxUtilOptions.read(ctx);
    const snmp = path.join(options.procRoot, 'net', 'snmp');
    try {
      await access(snmp, constants.R_OK);
    } catch (err) {
      throw new Error(
        `linuxutil cannot read ${snmp} (${(err as Error).message}); mount procfs there or set plugins.linuxutil.procRoot`,
      );
    }

    let ethtool: EthtoolStatsReader | undefined;
    if (options.interfaceStats) {
      try {
        const reader = await (this.deps.openEthtool ?? openEthtoolStatsReader)();
        this.defer(() => reader.close());
        ethtool = reader;
      } catch (err) {
        ctx.logger.warn(
          { err },
          'interface_stats is not collected: the ethtool statistics reader could not be opened (set plugins.linuxutil.interfaceStats: false to silence this)',
        );
      }
    }

    const gauges = ctx.metrics.basic;
    // A stopped plugin's series would otherwise stay exposed with their last values.
    this.defer(() => {
      gauges.tcpState.reset();
      gauges.tcpConnectionRemote.reset();
      gauges.tcpConnectionStats.reset();
      gauges.ipConnectionStats.reset();
      gauges.udpConnectionStats.reset();
      gauges.interfaceStats.reset();
    });
    const collector = new LinuxUtilCollector({
      options,
      gauges,
      logger: ctx.logger,
      ...(ethtool ? { ethtool } : {}),
    });
    // Released first: a poll still reading files when stop begins must not set series again after the reset.
    this.defer(() => collector.close());
    this.#collector = collector;
  }

  protected override onStart(): void {
    this.every(this.ctx.config.metricsIntervalMs, () => this.poll());
  }

  /** Collects once now and updates the metrics; `start` runs this every metrics interval. Needs a successful init. */
  poll(): Promise<PollReport> {
    if (!this.#collector) {
      return Promise.reject(new Error('linuxutil: poll() needs a successful init() first'));
    }
    return this.#collector.poll();
  }
}
