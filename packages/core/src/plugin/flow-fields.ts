/** Flow fields that several plugins fill the same way from their kernel records. */
import { IpVersion, type IpHeader } from '../flow/flow.js';

/** The `ip` field of a flow from a record's addresses and IP version (4 or 6, as the kernel programs write it). */
export function flowIp(source: string, destination: string, version: 4 | 6): IpHeader {
  return { source, destination, ipVersion: version === 4 ? IpVersion.IPv4 : IpVersion.IPv6 };
}
