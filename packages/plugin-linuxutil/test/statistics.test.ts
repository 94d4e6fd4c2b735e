import { describe, expect, it } from 'vitest';
import { parseCounterTable } from '../src/proc/counters.js';
import {
  IP_STATISTIC_SOURCES,
  TCP_STATISTIC_SOURCES,
  UDP_STATISTIC_SOURCES,
  collectStatistics,
} from '../src/statistics.js';
import { procFile } from './fixtures.js';

const files = () => ({
  snmp: parseCounterTable(procFile('net/snmp'), 'net/snmp'),
  netstat: parseCounterTable(procFile('net/netstat'), 'net/netstat'),
});

describe('collectStatistics', () => {
  it('feeds tcp_connection_stats from Tcp, TcpExt and MPTcpExt', () => {
    const f = files();
    const tcp = collectStatistics(f, TCP_STATISTIC_SOURCES);
    expect(tcp.size).toBe(
      f.snmp.get('Tcp')!.size + f.netstat.get('TcpExt')!.size + f.netstat.get('MPTcpExt')!.size,
    );
    expect(tcp.get('ActiveOpens')).toBe(f.snmp.get('Tcp')!.get('ActiveOpens'));
    expect(tcp.get('TW')).toBe(3);
    expect(tcp.has('AddAddrDrop')).toBe(true);
    expect(tcp.has('InOctets')).toBe(false);
  });

  it('feeds ip_connection_stats from Ip and IpExt, udp_connection_stats from Udp only', () => {
    const f = files();
    const ip = collectStatistics(f, IP_STATISTIC_SOURCES);
    expect(ip.get('InReceives')).toBe(30);
    expect(ip.get('InOctets')).toBe(1672);
    expect(ip.get('InNoECTPkts')).toBe(30);
    expect(ip.size).toBe(20 + 18);
    const udp = collectStatistics(f, UDP_STATISTIC_SOURCES);
    expect([...udp.keys()]).toEqual([
      'InDatagrams',
      'NoPorts',
      'InErrors',
      'OutDatagrams',
      'RcvbufErrors',
      'SndbufErrors',
      'InCsumErrors',
      'IgnoredMulti',
      'MemErrors',
    ]);
  });

  it('uses the files that parsed and lets the earlier section win a name clash', () => {
    const snmp = parseCounterTable('Tcp: InErrs Shared\nTcp: 1 2\n', 'net/snmp');
    const netstat = parseCounterTable('TcpExt: Shared Other\nTcpExt: 30 40\n', 'net/netstat');
    expect(collectStatistics({ snmp, netstat }, TCP_STATISTIC_SOURCES)).toEqual(
      new Map([
        ['InErrs', 1],
        ['Shared', 2],
        ['Other', 40],
      ]),
    );
    expect(collectStatistics({ netstat }, TCP_STATISTIC_SOURCES)).toEqual(
      new Map([
        ['Shared', 30],
        ['Other', 40],
      ]),
    );
    expect(collectStatistics({}, TCP_STATISTIC_SOURCES).size).toBe(0);
  });
});
