/**
 * Text forms of the addresses found in /proc/net socket tables. The formatting itself is @retina-ts/net-address's
 * (the one IPv6 formatter of retina-ts); this module checks the lengths a socket table gives and adds the `IP:port`
 * form.
 */
import { formatIpv4 as formatIpv4At, formatIpv6 as formatIpv6At } from '@retina-ts/net-address';

/** Formats 4 bytes as dotted-quad IPv4. */
export function formatIpv4(bytes: Uint8Array): string {
  if (bytes.length !== 4) throw new RangeError(`an IPv4 address has 4 bytes, got ${bytes.length}`);
  return formatIpv4At(bytes);
}

/** True for ::ffff:a.b.c.d, the form an IPv4 peer takes on a dual-stack IPv6 socket. */
export function isIpv4Mapped(bytes: Uint8Array): boolean {
  if (bytes.length !== 16) return false;
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * Formats 16 bytes as IPv6 in the RFC 5952 canonical form: lower-case hex, no leading zeros, the longest run
 * (leftmost on ties) of two or more zero groups written as `::`, and IPv4-mapped addresses as `::ffff:a.b.c.d`.
 */
export function formatIpv6(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new RangeError(`an IPv6 address has 16 bytes, got ${bytes.length}`);
  return formatIpv6At(bytes);
}

/**
 * Formats a socket's peer as `IP:port`. IPv6 addresses are bracketed (`[fd00::1]:443`); IPv4-mapped IPv6
 * addresses are written as the IPv4 peer they stand for (`10.0.0.1:443`), so one peer reached over an IPv4 and a
 * dual-stack IPv6 socket counts as one address.
 */
export function formatEndpoint(bytes: Uint8Array, port: number): string {
  if (bytes.length === 4) return `${formatIpv4(bytes)}:${port}`;
  if (isIpv4Mapped(bytes)) return `${formatIpv4(bytes.subarray(12))}:${port}`;
  return `[${formatIpv6(bytes)}]:${port}`;
}
