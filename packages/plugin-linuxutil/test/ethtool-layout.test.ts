import { describe, expect, it } from 'vitest';
import {
  ETHTOOL_GSSET_INFO,
  ETHTOOL_GSTATS,
  ETHTOOL_GSTRINGS,
  ETH_GSTRING_LEN,
  EthtoolLayoutError,
  decodeStatNames,
  decodeStatValues,
  decodeStatsCount,
  encodeStatNamesRequest,
  encodeStatValuesRequest,
  encodeStatsCountRequest,
  pairStatistics,
  statsBufferSize,
} from '../src/ethtool/layout.js';

// Replies laid out as the kernel writes them (include/uapi/linux/ethtool.h), built field by field here.
function ssetInfoReply(le: boolean, mask: bigint, count: number): Buffer {
  const b = Buffer.alloc(20);
  if (le) {
    b.writeUInt32LE(ETHTOOL_GSSET_INFO, 0);
    b.writeBigUInt64LE(mask, 8);
    b.writeUInt32LE(count, 16);
  } else {
    b.writeUInt32BE(ETHTOOL_GSSET_INFO, 0);
    b.writeBigUInt64BE(mask, 8);
    b.writeUInt32BE(count, 16);
  }
  return b;
}

function stringsReply(names: string[], capacity = names.length): Buffer {
  const b = Buffer.alloc(12 + capacity * ETH_GSTRING_LEN);
  b.writeUInt32LE(ETHTOOL_GSTRINGS, 0);
  b.writeUInt32LE(1, 4);
  b.writeUInt32LE(names.length, 8);
  names.forEach((n, i) => b.write(n, 12 + i * ETH_GSTRING_LEN, 'latin1'));
  return b;
}

function statsReply(values: bigint[], le = true): Buffer {
  const b = Buffer.alloc(8 + values.length * 8);
  if (le) {
    b.writeUInt32LE(ETHTOOL_GSTATS, 0);
    b.writeUInt32LE(values.length, 4);
    values.forEach((v, i) => b.writeBigUInt64LE(v, 8 + i * 8));
  } else {
    b.writeUInt32BE(ETHTOOL_GSTATS, 0);
    b.writeUInt32BE(values.length, 4);
    values.forEach((v, i) => b.writeBigUInt64BE(v, 8 + i * 8));
  }
  return b;
}

describe('ethtool request encoding', () => {
  it('asks GSSET_INFO for the statistics string set (bit 1 of the mask)', () => {
    const b = Buffer.alloc(64, 0xaa);
    encodeStatsCountRequest(b, true);
    expect(b.subarray(0, 20).toString('hex')).toBe('37000000' + '00000000' + '0200000000000000' + '00000000');
    encodeStatsCountRequest(b, false);
    expect(b.subarray(0, 20).toString('hex')).toBe('00000037' + '00000000' + '0000000000000002' + '00000000');
  });

  it('encodes GSTRINGS and GSTATS headers and clears the payload', () => {
    const b = Buffer.alloc(statsBufferSize(3), 0xaa);
    encodeStatNamesRequest(b, 3, true);
    expect(b.subarray(0, 12).toString('hex')).toBe('1b000000' + '01000000' + '03000000');
    expect(b.subarray(12, 12 + 3 * 32).every((x) => x === 0)).toBe(true);
    encodeStatValuesRequest(b, 3, true);
    expect(b.subarray(0, 8).toString('hex')).toBe('1d000000' + '03000000');
    expect(b.subarray(8, 32).every((x) => x === 0)).toBe(true);
  });

  it('sizes the buffer for the larger of the two replies', () => {
    expect(statsBufferSize(0)).toBe(20);
    expect(statsBufferSize(10)).toBe(12 + 10 * 32);
  });
});

describe('ethtool reply decoding', () => {
  it('reads the statistics count, or undefined when the driver has no statistics set', () => {
    expect(decodeStatsCount(ssetInfoReply(true, 2n, 10), true)).toBe(10);
    expect(decodeStatsCount(ssetInfoReply(false, 2n, 10), false)).toBe(10);
    expect(decodeStatsCount(ssetInfoReply(true, 0n, 0), true)).toBeUndefined();
  });

  it('reads NUL-padded names, including one that fills all 32 bytes', () => {
    const full = 'rx_queue_0_xdp_tx_errors_0123456'; // 32 characters, no terminator
    expect(full).toHaveLength(32);
    expect(decodeStatNames(stringsReply(['peer_ifindex', full, 'tx_queue_0_xdp_xmit']), true)).toEqual([
      'peer_ifindex',
      full,
      'tx_queue_0_xdp_xmit',
    ]);
  });

  it('reads 64-bit values in either byte order', () => {
    const values = [5n, 0n, 18446744073709551615n, 1234567890123n];
    expect(decodeStatValues(statsReply(values), true)).toEqual(values);
    expect(decodeStatValues(statsReply(values, false), false)).toEqual(values);
  });

  it('rejects replies that claim more entries than the buffer holds', () => {
    const names = stringsReply(['a', 'b']);
    names.writeUInt32LE(9, 8);
    expect(() => decodeStatNames(names, true)).toThrow(EthtoolLayoutError);
    const values = statsReply([1n]);
    values.writeUInt32LE(2, 4);
    expect(() => decodeStatValues(values, true)).toThrow(/GSTATS reply claims 2 values/);
  });
});

describe('pairStatistics', () => {
  it('pairs names and values in driver order', () => {
    expect([...pairStatistics(['peer_ifindex', 'rx_queue_0_drops'], [7n, 3n])]).toEqual([
      ['peer_ifindex', 7],
      ['rx_queue_0_drops', 3],
    ]);
  });

  it('keeps the first value of a name listed twice', () => {
    expect([...pairStatistics(['tx_errors', 'tx_errors'], [1n, 2n])]).toEqual([['tx_errors', 1]]);
  });

  it('rejects a read where the set changed between the two calls', () => {
    expect(() => pairStatistics(['a', 'b'], [1n])).toThrow(/2 statistic names but 1 values/);
  });
});
