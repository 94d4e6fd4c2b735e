/**
 * The ethtool ioctl structures behind `ethtool -S` (include/uapi/linux/ethtool.h), encoded and decoded in plain
 * buffers so the layout is testable without a kernel. All fields are in host byte order.
 *
 *   struct ethtool_sset_info { u32 cmd; u32 reserved; u64 sset_mask; u32 data[]; }   ETHTOOL_GSSET_INFO
 *   struct ethtool_gstrings  { u32 cmd; u32 string_set; u32 len; u8 data[len * 32]; } ETHTOOL_GSTRINGS
 *   struct ethtool_stats     { u32 cmd; u32 n_stats; u64 data[n_stats]; }             ETHTOOL_GSTATS
 */

/** The ioctl request that carries an ethtool command in `ifreq.ifr_data`. */
export const SIOCETHTOOL = 0x8946;
export const ETHTOOL_GSTRINGS = 0x1b;
export const ETHTOOL_GSTATS = 0x1d;
export const ETHTOOL_GSSET_INFO = 0x37;
/** The string set of driver statistics. */
export const ETH_SS_STATS = 1;
/** Each statistic name occupies 32 bytes, NUL-padded. */
export const ETH_GSTRING_LEN = 32;

const SSET_INFO_HEADER = 16;
const GSTRINGS_HEADER = 12;
const GSTATS_HEADER = 8;

/** Thrown when a kernel reply does not fit the request that was sent. */
export class EthtoolLayoutError extends Error {
  override name = 'EthtoolLayoutError';
}

/** Bytes needed to read `count` statistics: the larger of the names and values replies. */
export function statsBufferSize(count: number): number {
  return Math.max(SSET_INFO_HEADER + 4, GSTRINGS_HEADER + count * ETH_GSTRING_LEN, GSTATS_HEADER + count * 8);
}

/** Writes an ETHTOOL_GSSET_INFO request asking for the size of the statistics string set. */
export function encodeStatsCountRequest(buf: Buffer, le: boolean): void {
  buf.fill(0, 0, SSET_INFO_HEADER + 4);
  writeU32(buf, 0, ETHTOOL_GSSET_INFO, le);
  writeU64(buf, 8, 1n << BigInt(ETH_SS_STATS), le);
}

/** Reads the statistics count from a GSSET_INFO reply; undefined when the driver has no statistics set. */
export function decodeStatsCount(buf: Buffer, le: boolean): number | undefined {
  const mask = le ? buf.readBigUInt64LE(8) : buf.readBigUInt64BE(8);
  if ((mask & (1n << BigInt(ETH_SS_STATS))) === 0n) return undefined;
  return readU32(buf, SSET_INFO_HEADER, le);
}

/** Writes an ETHTOOL_GSTRINGS request for `count` statistic names. */
export function encodeStatNamesRequest(buf: Buffer, count: number, le: boolean): void {
  buf.fill(0, 0, GSTRINGS_HEADER + count * ETH_GSTRING_LEN);
  writeU32(buf, 0, ETHTOOL_GSTRINGS, le);
  writeU32(buf, 4, ETH_SS_STATS, le);
  writeU32(buf, 8, count, le);
}

/** Reads the statistic names of a GSTRINGS reply (each up to its first NUL). */
export function decodeStatNames(buf: Buffer, le: boolean): string[] {
  const len = readU32(buf, 8, le);
  if (GSTRINGS_HEADER + len * ETH_GSTRING_LEN > buf.length) {
    throw new EthtoolLayoutError(
      `GSTRINGS reply claims ${len} names, more than the ${buf.length}-byte buffer holds`,
    );
  }
  const names: string[] = [];
  for (let i = 0; i < len; i++) {
    const raw = buf.subarray(
      GSTRINGS_HEADER + i * ETH_GSTRING_LEN,
      GSTRINGS_HEADER + (i + 1) * ETH_GSTRING_LEN,
    );
    const end = raw.indexOf(0);
    names.push(raw.subarray(0, end === -1 ? ETH_GSTRING_LEN : end).toString('latin1'));
  }
  return names;
}

/** Writes an ETHTOOL_GSTATS request for `count` values. */
export function encodeStatValuesRequest(buf: Buffer, count: number, le: boolean): void {
  buf.fill(0, 0, GSTATS_HEADER + count * 8);
  writeU32(buf, 0, ETHTOOL_GSTATS, le);
  writeU32(buf, 4, count, le);
}

/** Reads the values of a GSTATS reply. */
export function decodeStatValues(buf: Buffer, le: boolean): bigint[] {
  const n = readU32(buf, 4, le);
  if (GSTATS_HEADER + n * 8 > buf.length) {
    throw new EthtoolLayoutError(
      `GSTATS reply claims ${n} values, more than the ${buf.length}-byte buffer holds`,
    );
  }
  const values: bigint[] = [];
  for (let i = 0; i < n; i++) {
    const off = GSTATS_HEADER + i * 8;
    values.push(le ? buf.readBigUInt64LE(off) : buf.readBigUInt64BE(off));
  }
  return values;
}

/**
 * Pairs names with values into statistic name → value. The two replies come from separate ioctls, so a driver
 * that changed its set in between (queues added) yields different lengths: that read is rejected. A name the
 * driver lists twice keeps its first value, as one label value can carry only one.
 */
export function pairStatistics(names: readonly string[], values: readonly bigint[]): Map<string, number> {
  if (names.length !== values.length) {
    throw new EthtoolLayoutError(
      `driver returned ${names.length} statistic names but ${values.length} values (statistics set changed while reading)`,
    );
  }
  const out = new Map<string, number>();
  names.forEach((name, i) => {
    if (!out.has(name)) out.set(name, Number(values[i]!));
  });
  return out;
}

function writeU32(buf: Buffer, off: number, v: number, le: boolean): void {
  if (le) buf.writeUInt32LE(v, off);
  else buf.writeUInt32BE(v, off);
}

function writeU64(buf: Buffer, off: number, v: bigint, le: boolean): void {
  if (le) buf.writeBigUInt64LE(v, off);
  else buf.writeBigUInt64BE(v, off);
}

function readU32(buf: Buffer, off: number, le: boolean): number {
  return le ? buf.readUInt32LE(off) : buf.readUInt32BE(off);
}
