/**
 * One poll of the linuxutil sources: read and parse the /proc files and driver statistics, then set every gauge in
 * one synchronous step, so a scrape never sees a half-updated family. A file that cannot be read or parsed is
 * reported (once per distinct problem) and the families it feeds keep their previous values.
 */
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import path from 'node:path';
import type { PluginContext } from '@retina-ts/core';
import { countRemoteAddresses, countTcpStates, foldTopRemoteAddresses } from './connections.js';
import type { EthtoolStatsReader, InterfaceStatistics } from './ethtool/reader.js';
import type { LinuxUtilOptions } from './options.js';
import { parseCounterTable, type CounterSections } from './proc/counters.js';
import { parseInterfaceNames } from './proc/netdev.js';
import { parseSocketTable, type SocketEntry } from './proc/sockets.js';
import {
  EXPECTED_SECTIONS,
  IP_STATISTIC_SOURCES,
  TCP_STATISTIC_SOURCES,
  UDP_ACTIVE_STATISTIC,
  UDP_STATISTIC_SOURCES,
  collectStatistics,
} from './statistics.js';

type BasicMetrics = PluginContext['metrics']['basic'];

/** The basic families this plugin writes. */
export type LinuxUtilGauges = Pick<
  BasicMetrics,
  | 'tcpState'
  | 'tcpConnectionRemote'
  | 'tcpConnectionStats'
  | 'ipConnectionStats'
  | 'udpConnectionStats'
  | 'interfaceStats'
>;

type LogFn = (fields: Record<string, unknown>, msg: string) => void;
/** The logger calls the collector makes (a pino logger fits). */
export interface CollectorLogger {
  warn: LogFn;
  info: LogFn;
  debug: LogFn;
}

/** Everything a collector needs; `ethtool` absent means `interface_stats` is not collected. */
export interface LinuxUtilCollectorDeps {
  options: LinuxUtilOptions;
  gauges: LinuxUtilGauges;
  logger: CollectorLogger;
  ethtool?: EthtoolStatsReader;
  /** Reads a file as text (default: fs.readFile). */
  readText?: (file: string) => Promise<string>;
}

/** What a poll did, for logs and tests. */
export interface PollReport {
  /** Files (relative to the proc root) that could not be read or parsed this time. */
  failedFiles: string[];
  /** Interfaces whose driver statistics were exported. */
  interfaces: string[];
}

/** Reads the linuxutil sources and sets the plugin's gauges; call `poll()` once per metrics interval. */
export class LinuxUtilCollector {
  private readonly options: LinuxUtilOptions;
  private readonly gauges: LinuxUtilGauges;
  private readonly logger: CollectorLogger;
  private readonly ethtool: EthtoolStatsReader | undefined;
  private readonly readText: (file: string) => Promise<string>;
  private readonly excluded: RegExp[];
  private readonly endianness = endianness();
  /** Last reported problem per source, so a persistent problem is logged once, and its recovery too. */
  private readonly problems = new Map<string, string>();
  /** Interfaces already logged as having no driver statistics (pruned to the interfaces that still exist). */
  private readonly withoutStatistics = new Set<string>();
  private closed = false;

  constructor(deps: LinuxUtilCollectorDeps) {
    this.options = deps.options;
    this.gauges = deps.gauges;
    this.logger = deps.logger;
    this.ethtool = deps.ethtool;
    this.readText = deps.readText ?? ((file) => readFile(file, 'utf8'));
    this.excluded = this.options.excludeInterfaces.map((re) => new RegExp(re));
  }

  /** Reads every source once and updates the gauges, unless closed meanwhile. Never throws on bad input. */
  async poll(): Promise<PollReport> {
    const failedFiles: string[] = [];
    const keeps = (file: string) => `; the metrics from ${file} keep their previous values`;
    // `whenMissing` is the value of a file that may legitimately not exist.
    const load = async <T>(
      file: string,
      parse: (text: string) => T,
      whenMissing?: T,
    ): Promise<T | undefined> => {
      const fullPath = path.join(this.options.procRoot, file);
      let text: string;
      try {
        text = await this.readText(fullPath);
      } catch (err) {
        if (whenMissing !== undefined && (err as NodeJS.ErrnoException).code === 'ENOENT') {
          this.recovered(file);
          return whenMissing;
        }
        failedFiles.push(file);
        this.problem(file, `cannot read ${fullPath}: ${(err as Error).message}${keeps(file)}`);
        return undefined;
      }
      try {
        const value = parse(text);
        this.recovered(file);
        return value;
      } catch (err) {
        failedFiles.push(file);
        this.problem(file, `${(err as Error).message}${keeps(file)}`);
        return undefined;
      }
    };
    const sockets = (file: string, family: 4 | 6) => (text: string) =>
      parseSocketTable(text, file, family, this.endianness);
    // tcp6 and udp6 do not exist when IPv6 is disabled (ipv6.disable=1): that means no IPv6 sockets.
    const none: SocketEntry[] = [];

    const [snmp, netstat, tcp4, tcp6, udp4, udp6, interfaces] = await Promise.all([
      load('net/snmp', (t) => parseCounterTable(t, 'net/snmp')),
      load('net/netstat', (t) => parseCounterTable(t, 'net/netstat')),
      load('net/tcp', sockets('net/tcp', 4)),
      load('net/tcp6', sockets('net/tcp6', 6), none),
      load('net/udp', sockets('net/udp', 4)),
      load('net/udp6', sockets('net/udp6', 6), none),
      this.ethtool ? load('net/dev', (t) => parseInterfaceNames(t, 'net/dev')) : Promise.resolve(undefined),
    ]);
    if (this.closed) return { failedFiles, interfaces: [] };
    const driverStatistics = interfaces ? this.readDriverStatistics(interfaces) : undefined;

    // Everything below is synchronous: no scrape can run between a reset and the sets that follow it.
    this.checkSections('net/snmp', snmp, EXPECTED_SECTIONS.snmp);
    this.checkSections('net/netstat', netstat, EXPECTED_SECTIONS.netstat);
    const files = { snmp, netstat };
    setStatistics(this.gauges.tcpConnectionStats, collectStatistics(files, TCP_STATISTIC_SOURCES));
    setStatistics(this.gauges.ipConnectionStats, collectStatistics(files, IP_STATISTIC_SOURCES));
    setStatistics(this.gauges.udpConnectionStats, collectStatistics(files, UDP_STATISTIC_SOURCES));
    if (udp4 && udp6) {
      this.gauges.udpConnectionStats.set({ statistic_name: UDP_ACTIVE_STATISTIC }, udp4.length + udp6.length);
    }
    if (tcp4 && tcp6) this.setTcpSockets([...tcp4, ...tcp6]);
    if (driverStatistics) {
      this.gauges.interfaceStats.reset();
      for (const [ifname, stats] of driverStatistics) {
        for (const [name, value] of stats) {
          this.gauges.interfaceStats.set({ interface_name: ifname, statistic_name: name }, value);
        }
      }
    }
    return { failedFiles, interfaces: driverStatistics ? [...driverStatistics.keys()] : [] };
  }

  /** Makes later and in-flight polls change nothing (the owner is stopping and withdraws the series). */
  close(): void {
    this.closed = true;
  }

  private setTcpSockets(sockets: SocketEntry[]): void {
    this.gauges.tcpState.reset();
    for (const [state, n] of countTcpStates(sockets)) this.gauges.tcpState.set({ state }, n);
    // Reset so that addresses whose connections closed disappear instead of lingering at their last count.
    this.gauges.tcpConnectionRemote.reset();
    const remote = foldTopRemoteAddresses(countRemoteAddresses(sockets), this.options.maxRemoteAddresses);
    for (const [address, n] of remote) this.gauges.tcpConnectionRemote.set({ address }, n);
  }

  private readDriverStatistics(interfaces: string[]): Map<string, InterfaceStatistics> {
    const out = new Map<string, InterfaceStatistics>();
    const present = new Set(interfaces);
    for (const ifname of this.withoutStatistics) {
      if (!present.has(ifname)) this.withoutStatistics.delete(ifname);
    }
    for (const key of this.problems.keys()) {
      if (key.startsWith('ethtool:') && !present.has(key.slice('ethtool:'.length))) this.problems.delete(key);
    }
    for (const ifname of interfaces) {
      if (ifname === 'lo' || this.excluded.some((re) => re.test(ifname))) continue;
      const source = `ethtool:${ifname}`;
      let result;
      try {
        result = this.ethtool!.read(ifname);
      } catch (err) {
        this.problem(source, `${(err as Error).message}; leaving ${ifname} out of interface_stats`, {
          interface: ifname,
        });
        continue;
      }
      this.recovered(source);
      if (result.kind === 'statistics') {
        this.withoutStatistics.delete(ifname);
        out.set(ifname, result.statistics);
      } else if (result.kind === 'unsupported' && !this.withoutStatistics.has(ifname)) {
        this.withoutStatistics.add(ifname);
        this.logger.debug(
          { interface: ifname },
          'interface has no driver statistics; leaving it out of interface_stats',
        );
      }
    }
    return out;
  }

  private checkSections(
    file: string,
    sections: CounterSections | undefined,
    expected: readonly string[],
  ): void {
    if (!sections) return;
    const missing = expected.filter((s) => !sections.has(s));
    const source = `${file}:sections`;
    if (missing.length === 0) this.recovered(source);
    else
      this.problem(source, `${file} has no ${missing.join(', ')} section; those statistics are not exported`);
  }

  private problem(source: string, message: string, fields: Record<string, unknown> = {}): void {
    if (this.problems.get(source) === message) return;
    this.problems.set(source, message);
    this.logger.warn({ source, ...fields }, message);
  }

  private recovered(source: string): void {
    if (!this.problems.delete(source)) return;
    this.logger.info({ source }, `${source} reads correctly again`);
  }
}

function setStatistics(
  gauge: BasicMetrics['tcpConnectionStats'],
  statistics: ReadonlyMap<string, number>,
): void {
  for (const [name, value] of statistics) gauge.set({ statistic_name: name }, value);
}
