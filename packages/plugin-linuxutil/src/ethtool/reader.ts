/** The OS boundary for driver statistics: one interface so the plugin can run against a fake. */

/** Statistic name → value of one interface, in the driver's order, as `ethtool -S` lists them. */
export type InterfaceStatistics = ReadonlyMap<string, number>;

/** What reading one interface gave. */
export type EthtoolReadResult =
  | { readonly kind: 'statistics'; readonly statistics: InterfaceStatistics }
  /** The driver offers no statistics (loopback, bridges, dummies, ...). */
  | { readonly kind: 'unsupported' }
  /** The interface went away between listing and reading. */
  | { readonly kind: 'gone' };

/** Reads `ethtool -S` statistics of interfaces in the caller's network namespace. */
export interface EthtoolStatsReader {
  /**
   * Reads the statistics of `ifname`. Throws EthtoolError when an ioctl fails other than with "not supported" or
   * "no such device", and EthtoolLayoutError when the replies do not fit together.
   */
  read(ifname: string): EthtoolReadResult;
  /** Releases the socket and buffers. Idempotent. */
  close(): void;
}

/** A failed ethtool ioctl, with the interface, the command and the errno. */
export class EthtoolError extends Error {
  override name = 'EthtoolError';

  constructor(
    readonly ifname: string,
    readonly command: string,
    readonly errno: number,
    detail: string,
  ) {
    super(`ethtool ${command} on ${ifname}: ${detail}`);
  }
}
