import { describe, expect, it } from 'vitest';
import { ProcFormatError } from '../src/proc/errors.js';
import { parseSocketTable } from '../src/proc/sockets.js';
import { malformed, procFile } from './fixtures.js';

describe('parseSocketTable', () => {
  it('decodes IPv4 TCP sockets: remote endpoints and states', () => {
    const s = parseSocketTable(procFile('net/tcp'), 'net/tcp', 4, 'LE');
    expect(s).toHaveLength(10);
    expect(s[0]).toEqual({ remote: '0.0.0.0:0', hasPeer: false, state: 0x0a });
    expect(s[1]).toEqual({ remote: '10.250.0.2:80', hasPeer: true, state: 0x02 });
    expect(s[4]).toEqual({ remote: '127.0.0.1:8080', hasPeer: true, state: 0x05 });
    expect(s[9]).toEqual({ remote: '127.0.0.1:44362', hasPeer: true, state: 0x08 });
    expect(s.map((e) => e.state)).toEqual([0x0a, 0x02, 0x01, 0x06, 0x05, 0x06, 0x01, 0x01, 0x01, 0x08]);
  });

  it('decodes IPv6 sockets, bracketing IPv6 and unmapping IPv4-mapped peers', () => {
    const s = parseSocketTable(procFile('net/tcp6'), 'net/tcp6', 6, 'LE');
    expect(s).toHaveLength(15);
    expect(s[0]).toEqual({ remote: '[::]:0', hasPeer: false, state: 0x0a });
    expect(s[1]).toEqual({ remote: '[::1]:55736', hasPeer: true, state: 0x01 });
    expect(s[2]).toEqual({ remote: '127.0.0.1:60068', hasPeer: true, state: 0x01 });
    expect(s[5]).toEqual({ remote: '[fd00:77::1]:56342', hasPeer: true, state: 0x01 });
    expect(s[11]).toEqual({ remote: '[fd00:77::2]:80', hasPeer: true, state: 0x02 });
  });

  it('reads UDP tables (connected and unconnected sockets)', () => {
    const u4 = parseSocketTable(procFile('net/udp'), 'net/udp', 4, 'LE');
    expect(u4).toEqual([
      { remote: '0.0.0.0:0', hasPeer: false, state: 0x07 },
      { remote: '10.250.0.9:53', hasPeer: true, state: 0x01 },
    ]);
    const u6 = parseSocketTable(procFile('net/udp6'), 'net/udp6', 6, 'LE');
    expect(u6).toEqual([{ remote: '[::]:0', hasPeer: false, state: 0x07 }]);
  });

  it('decodes addresses written by a big-endian kernel', () => {
    const line = (a: string, b: string) =>
      `   0: ${a} ${b} 01 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 20 0 0 10 -1\n`;
    const header =
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
    expect(parseSocketTable(header + line('0A000001:0016', 'C0A80102:D431'), 'f', 4, 'BE')[0]).toEqual({
      remote: '192.168.1.2:54321',
      hasPeer: true,
      state: 1,
    });
    const v6 =
      header +
      line('00000000000000000000FFFF0A000002:0050', 'FD000077000000000000000000000001:01BB') +
      line('FD000077000000000000000000000001:01BB', '00000000000000000000FFFF0A000002:0050');
    expect(parseSocketTable(v6, 'f', 6, 'BE').map((e) => e.remote)).toEqual([
      '[fd00:77::1]:443',
      '10.0.0.2:80',
    ]);
  });

  it('accepts a header with no sockets', () => {
    expect(parseSocketTable(malformed('tcp-header-only'), 'net/tcp', 4, 'LE')).toEqual([]);
  });

  const rejects = (text: string, family: 4 | 6, message: RegExp, line?: number) => {
    let caught: unknown;
    try {
      parseSocketTable(text, 'net/tcp', family, 'LE');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ProcFormatError);
    expect((caught as ProcFormatError).message).toMatch(message);
    expect((caught as ProcFormatError).line).toBe(line);
  };

  it('rejects a line cut short', () => {
    rejects(
      malformed('tcp-truncated'),
      4,
      /socket line has 3 fields, expected at least 10 \(truncated\?\)/,
      8,
    );
  });

  it('rejects an address of the wrong width', () => {
    rejects(
      malformed('tcp6-short-address'),
      6,
      /"770000FD0000000000000001000000:DC06" is not an address:port with 32 hex/,
      10,
    );
    // An IPv4 table read as IPv6 fails the same way instead of producing nonsense addresses.
    rejects(procFile('net/tcp'), 6, /is not an address:port with 32 hex address digits/, 2);
  });

  it('rejects garbage, empty files and a missing header', () => {
    rejects(malformed('garbage'), 4, /expected the header line starting with "sl", got "<html>/, 1);
    rejects(malformed('empty'), 4, /file is empty/);
    const noHeader = procFile('net/tcp').split('\n').slice(1).join('\n');
    rejects(noHeader, 4, /expected the header line starting with "sl"/, 1);
  });

  it('rejects a line whose state or slot column is not what the kernel writes', () => {
    const good = procFile('net/udp').split('\n');
    rejects([good[0], good[1]!.replace(' 07 ', ' 7x ')].join('\n'), 4, /not a socket line/, 2);
    rejects([good[0], good[1]!.replace('13030:', 'x:')].join('\n'), 4, /not a socket line/, 2);
  });
});
