import { describe, expect, it } from 'vitest';
import { parseCounterTable } from '../src/proc/counters.js';
import { ProcFormatError } from '../src/proc/errors.js';
import { malformed, procFile } from './fixtures.js';

describe('parseCounterTable', () => {
  it('reads every section of /proc/net/snmp with its counters in file order', () => {
    const snmp = parseCounterTable(procFile('net/snmp'), 'net/snmp');
    expect([...snmp.keys()]).toEqual(['Ip', 'Icmp', 'Tcp', 'Udp', 'UdpLite']);
    const tcp = snmp.get('Tcp')!;
    expect([...tcp.keys()]).toEqual([
      'RtoAlgorithm',
      'RtoMin',
      'RtoMax',
      'MaxConn',
      'ActiveOpens',
      'PassiveOpens',
      'AttemptFails',
      'EstabResets',
      'CurrEstab',
      'InSegs',
      'OutSegs',
      'RetransSegs',
      'InErrs',
      'OutRsts',
      'InCsumErrors',
    ]);
    expect(tcp.get('RtoMax')).toBe(120000);
    // MaxConn is the one signed counter the kernel prints.
    expect(tcp.get('MaxConn')).toBe(-1);
    expect(snmp.get('Ip')!.get('OutTransmits')).toBe(31);
    expect(snmp.get('Udp')!.size).toBe(9);
  });

  it('reads /proc/net/netstat including IpExt and MPTcpExt', () => {
    const netstat = parseCounterTable(procFile('net/netstat'), 'net/netstat');
    expect([...netstat.keys()]).toEqual(['TcpExt', 'IpExt', 'MPTcpExt']);
    expect(netstat.get('TcpExt')!.get('TW')).toBe(3);
    expect(netstat.get('TcpExt')!.get('TCPAODroppedIcmps')).toBe(0);
    expect(netstat.get('IpExt')!.get('InOctets')).toBe(1672);
    expect(netstat.get('IpExt')!.get('OutOctets')).toBe(1732);
    expect(netstat.get('MPTcpExt')!.has('AddAddrDrop')).toBe(true);
  });

  it('keeps full 64-bit counter magnitudes as numbers', () => {
    const t = parseCounterTable(
      'IpExt: InOctets OutOctets\nIpExt: 18446744073709551615 9007199254740993\n',
      'f',
    );
    expect(t.get('IpExt')!.get('InOctets')).toBe(18446744073709551615);
    expect(t.get('IpExt')!.get('OutOctets')).toBe(9007199254740992);
  });

  it('accepts a file without a trailing newline', () => {
    const t = parseCounterTable('Udp: A B\nUdp: 1 2', 'f');
    expect(t.get('Udp')).toEqual(
      new Map([
        ['A', 1],
        ['B', 2],
      ]),
    );
  });

  const reject = (text: string, message: RegExp, line?: number) => {
    let caught: unknown;
    try {
      parseCounterTable(text, 'net/snmp');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProcFormatError);
    expect((caught as ProcFormatError).message).toMatch(message);
    expect((caught as ProcFormatError).file).toBe('net/snmp');
    expect((caught as ProcFormatError).line).toBe(line);
  };

  it('rejects a value line cut short', () => {
    reject(
      malformed('snmp-truncated'),
      /section Udp has 9 counter names but 3 values \(truncated line\?\)/,
      8,
    );
  });

  it('rejects a header whose value line is missing', () => {
    reject(malformed('snmp-header-only'), /section UdpLite has a header but no value line/, 9);
  });

  it('rejects a non-numeric value, naming the counter', () => {
    expect(() => parseCounterTable(malformed('netstat-bad-value'), 'net/netstat')).toThrow(
      /^net\/netstat line 4: section IpExt: counter InOctets has non-numeric value "16x2"$/,
    );
  });

  it('rejects a value line that belongs to another section', () => {
    expect(() => parseCounterTable(malformed('netstat-mismatched'), 'net/netstat')).toThrow(
      /net\/netstat line 4: expected the values of section IpExt, got "IpExd: 0 0/,
    );
  });

  it('rejects garbage and empty files', () => {
    reject(malformed('garbage'), /expected "<Section>: <names>", got "<html>/, 1);
    reject(malformed('empty'), /file is empty/);
    reject('\n\n', /file is empty/);
  });

  it('rejects repeated sections and counters', () => {
    reject('Udp: A\nUdp: 1\nUdp: A\nUdp: 2\n', /section Udp appears twice/, 3);
    reject('Udp: A A\nUdp: 1 2\n', /counter A appears twice/, 1);
  });
});
