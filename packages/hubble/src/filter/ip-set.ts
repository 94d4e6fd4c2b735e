/**
 * A set of IP addresses and CIDR prefixes with lookups that do not grow with the number of entries: every entry is
 * stored as its masked network key in a hash set per prefix length, so a lookup costs one hash probe per distinct
 * prefix length present (at most 33 for IPv4, 129 for IPv6), however many thousand addresses a filter names.
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { FilterError } from './errors.js';

type Family = 4 | 6;

interface FamilyTable {
  /** Prefix lengths present, longest first (an exact address is a full-length prefix). */
  lengths: number[];
  byLength: Map<number, Set<string>>;
}

/** Network key of the first `bits` bits of an address's bytes (the rest are masked off). */
function networkKey(bytes: readonly number[], bits: number): string {
  let key = '';
  const whole = bits >> 3;
  for (let i = 0; i < whole; i++) key += String.fromCharCode(bytes[i] as number);
  const rest = bits & 7;
  if (rest) key += String.fromCharCode((bytes[whole] as number) & (0xff << (8 - rest)) & 0xff);
  return key;
}

function bytesOf(address: string): number[] {
  return ipaddr.parse(address).toByteArray();
}

/** Addresses and CIDRs of one filter field. */
export class IpPrefixSet {
  readonly #tables: Record<Family, FamilyTable> = {
    4: { lengths: [], byLength: new Map() },
    6: { lengths: [], byLength: new Map() },
  };

  /** Parses `values` (addresses or CIDRs, IPv4 or IPv6); throws FilterError naming `field` and the bad value. */
  constructor(values: readonly string[], field: string) {
    for (const raw of values) this.#add(raw, field);
    for (const t of Object.values(this.#tables)) t.lengths = [...t.byLength.keys()].sort((a, b) => b - a);
  }

  #add(raw: string, field: string): void {
    const value = raw.trim();
    const slash = value.indexOf('/');
    const address = slash < 0 ? value : value.slice(0, slash);
    // node's isIP is strict (no shorthand or octal IPv4 forms), as Go's netip parser is.
    const family = isIP(address);
    if (family === 0) {
      throw new FilterError(
        `${field}: ${JSON.stringify(raw)} is not an IP address or CIDR (examples: 10.0.0.1, 10.0.0.0/8, fd00::/64)`,
      );
    }
    const max = family === 4 ? 32 : 128;
    let bits = max;
    if (slash >= 0) {
      const prefixText = value.slice(slash + 1);
      bits = Number(prefixText);
      if (!/^\d{1,3}$/.test(prefixText) || bits > max) {
        throw new FilterError(`${field}: ${JSON.stringify(raw)} has an invalid prefix length`);
      }
    }
    const table = this.#tables[family as Family];
    let set = table.byLength.get(bits);
    if (!set) table.byLength.set(bits, (set = new Set()));
    set.add(networkKey(bytesOf(address), bits));
  }

  /** Whether `ip` (as flows carry it) is one of the addresses or inside one of the prefixes. */
  has(ip: string | undefined): boolean {
    if (!ip) return false;
    const family = isIP(ip);
    if (family === 0) return false;
    const table = this.#tables[family as Family];
    if (table.lengths.length === 0) return false;
    const bytes = bytesOf(ip);
    for (const bits of table.lengths) {
      if ((table.byLength.get(bits) as Set<string>).has(networkKey(bytes, bits))) return true;
    }
    return false;
  }
}
