/** Which /proc counter sections feed the `*_connection_stats` families. */
import type { CounterSection, CounterSections } from './proc/counters.js';

/** A section of /proc/net/snmp or /proc/net/netstat. */
export interface CounterSource {
  readonly file: 'snmp' | 'netstat';
  readonly section: string;
}

/** `tcp_connection_stats`: Tcp (snmp), TcpExt and MPTcpExt (netstat; MPTcpExt only on kernels with MPTCP). */
export const TCP_STATISTIC_SOURCES: readonly CounterSource[] = [
  { file: 'snmp', section: 'Tcp' },
  { file: 'netstat', section: 'TcpExt' },
  { file: 'netstat', section: 'MPTcpExt' },
];

/** `ip_connection_stats`: Ip (snmp) and IpExt (netstat). */
export const IP_STATISTIC_SOURCES: readonly CounterSource[] = [
  { file: 'snmp', section: 'Ip' },
  { file: 'netstat', section: 'IpExt' },
];

/** `udp_connection_stats`: Udp (snmp), plus `ACTIVE` from the socket tables. */
export const UDP_STATISTIC_SOURCES: readonly CounterSource[] = [{ file: 'snmp', section: 'Udp' }];

/** Sections every kernel writes; their absence means the file is not what it should be. */
export const EXPECTED_SECTIONS: Readonly<Record<CounterSource['file'], readonly string[]>> = {
  snmp: ['Ip', 'Tcp', 'Udp'],
  netstat: ['TcpExt', 'IpExt'],
};

/** `statistic_name` of the number of open UDP sockets (udp + udp6). */
export const UDP_ACTIVE_STATISTIC = 'ACTIVE';

/** Parsed counter files; a file that could not be read or parsed is absent. */
export interface CounterFiles {
  readonly snmp?: CounterSections;
  readonly netstat?: CounterSections;
}

/**
 * Collects the counters of `sources` into statistic_name → value, from the files that parsed. When two sections
 * name the same counter, the earlier source wins, so a later kernel adding a clashing name cannot flip a series.
 */
export function collectStatistics(
  files: CounterFiles,
  sources: readonly CounterSource[],
): Map<string, number> {
  const out = new Map<string, number>();
  for (const { file, section } of sources) {
    const counters: CounterSection | undefined = files[file]?.get(section);
    if (!counters) continue;
    for (const [name, value] of counters) if (!out.has(name)) out.set(name, value);
  }
  return out;
}
