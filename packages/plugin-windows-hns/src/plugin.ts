/** The hnsstats plugin: polls HNS endpoint and VFP port counters every metrics interval. */
import { PluginBase, type PluginContext } from '@retina-ts/core';
import { HnsCollector, type CollectReport } from './collector.js';
import { VfpError } from './errors.js';
import type { WindowsNetworkHost } from './host.js';
import { HnsMetricsWriter } from './metrics.js';
import { hnsStatsOptions } from './options.js';
import { LIST_PORTS_ARGS } from './vfp/ports.js';
import { openWindowsHost, type WindowsHostOptions } from './windows-host.js';

/** Replaceable OS access: tests pass a host that answers with recorded responses. */
export interface HnsStatsPluginDeps {
  /** Opens the Windows host (default: HCN/HNS through koffi and vfpctrl through child_process). */
  openHost?: (options: WindowsHostOptions) => Promise<WindowsNetworkHost>;
}

/** What the plugin saw in one poll (see CollectReport), plus whether VFP counters were read at all. */
export interface HnsPollReport extends CollectReport {
  vfpCounters: boolean;
}

/** Node-level (and optionally pod-level) counters of Windows pod endpoints from HNS and VFP. */
export class HnsStatsPlugin extends PluginBase {
  readonly #deps: HnsStatsPluginDeps;
  #collector: HnsCollector | undefined;
  #writer: HnsMetricsWriter | undefined;
  #abort: AbortController | undefined;
  #vfpCounters = false;
  #lastProblems = '';

  constructor(deps: HnsStatsPluginDeps = {}) {
    super();
    this.#deps = deps;
  }

  protected override async onInit(ctx: PluginContext): Promise<void> {
    const options = hnsStatsOptions.read(ctx);
    const host = await (this.#deps.openHost ?? openWindowsHost)({
      vfpctrlPath: options.vfpctrlPath,
      commandTimeoutMs: options.commandTimeoutMs,
    });
    this.defer(() => host.close());
    const abort = new AbortController();

    // Fail fast: if HNS cannot list endpoints now, the plugin has nothing to report.
    const probe = new HnsCollector(host, { ...options, vfpCounters: false });
    const endpoints = await probe.listEndpointIds();

    let vfpCounters = options.vfpCounters;
    if (vfpCounters) {
      try {
        await host.vfpctrl(LIST_PORTS_ARGS, abort.signal);
      } catch (err) {
        if (err instanceof VfpError && err.failure === 'not-found') {
          vfpCounters = false;
          ctx.logger.warn(
            { err },
            'VFP counters (tcp_flag_gauges, tcp_connection_stats, ACL drops) are not collected: vfpctrl is missing',
          );
        } else {
          ctx.logger.warn({ err }, 'vfpctrl failed at start; VFP counters will be tried again at every poll');
        }
      }
    }
    this.#vfpCounters = vfpCounters;
    this.#collector = new HnsCollector(host, { ...options, vfpCounters });

    const podLevel = options.podLevel ?? ctx.config.enablePodLevel;
    const writer = new HnsMetricsWriter({
      metrics: ctx.metrics,
      podLevel,
      ipCache: ctx.ipCache,
      onFamilyError: (family, err) =>
        this.reportError(
          err,
          `pod-level family ${family} is not written: its name is registered with other labels`,
        ),
    });
    // Released before the host and after in-flight calls are cancelled, so no poll sets series after the removal.
    this.defer(() => writer.close());
    this.defer(() => abort.abort());
    this.#writer = writer;
    this.#abort = abort;
    ctx.logger.info(
      { endpoints: endpoints.length, vfpCounters, podLevel, attachedOnly: options.attachedOnly },
      'hnsstats ready',
    );
  }

  protected override onStart(): void {
    this.every(this.ctx.config.metricsIntervalMs, () => this.poll());
  }

  /** Polls once and updates the metrics; `start` runs this every metrics interval. Needs a successful init. */
  async poll(): Promise<HnsPollReport> {
    const collector = this.#collector;
    const writer = this.#writer;
    if (!collector || !writer || !this.#abort)
      throw new Error('hnsstats: poll() needs a successful init() first');
    const { samples, report } = await collector.collect(this.#abort.signal);
    writer.apply(samples);
    this.#logProblems(report);
    return { ...report, vfpCounters: this.#vfpCounters };
  }

  /** Problems are logged as a warning when they change from one poll to the next, and at debug level otherwise. */
  #logProblems(report: CollectReport): void {
    const signature = report.problems.map((p) => `${p.stage}:${p.endpoint ?? ''}`).join('|');
    const fields = {
      listed: report.listed,
      sampled: report.sampled,
      withVfp: report.withVfp,
      skipped: report.skipped,
      problems: report.problems,
    };
    if (signature !== this.#lastProblems && report.problems.length > 0) {
      this.logger.warn(
        fields,
        `hnsstats poll: ${report.problems.length} endpoint problem(s); the rest was recorded`,
      );
    } else if (signature !== this.#lastProblems) {
      this.logger.info(fields, 'hnsstats poll: all endpoint problems cleared');
    } else {
      this.logger.debug(fields, 'hnsstats poll');
    }
    this.#lastProblems = signature;
  }
}
