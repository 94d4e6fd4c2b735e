// IP and MAC address text <-> bytes, as found in BPF map keys and ring-buffer records (network byte order).
import { isIPv4, isIPv6 } from 'node:net';

/** Dotted-quad text of the 4 bytes at `offset`. */
export function formatIpv4(buf: Uint8Array, offset = 0): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

/** Scratch for formatIpv6: formatting is synchronous, so one array serves every call without allocating. */
const groups = new Uint16Array(8);

/**
 * RFC 5952 text of the 16 bytes at `offset`: lower-case hex without leading zeros, the longest run (the first on a
 * tie) of two or more zero groups written `::`, and IPv4-mapped addresses as `::ffff:a.b.c.d`. The one IPv6
 * formatter of retina-ts (decoders of every plugin use it on their hot paths, hence no intermediate arrays).
 */
export function formatIpv6(buf: Uint8Array, offset = 0): string {
  for (let i = 0; i < 8; i++) groups[i] = ((buf[offset + 2 * i] ?? 0) << 8) | (buf[offset + 2 * i + 1] ?? 0);
  if (
    groups[0] === 0 &&
    groups[1] === 0 &&
    groups[2] === 0 &&
    groups[3] === 0 &&
    groups[4] === 0 &&
    groups[5] === 0xffff
  ) {
    return `::ffff:${formatIpv4(buf, offset + 12)}`;
  }
  let bestStart = -1;
  let bestLen = 1; // a single zero group is never compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  let text = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      text += '::';
      i += bestLen - 1;
      continue;
    }
    if (i > 0 && i !== bestStart + bestLen) text += ':';
    text += (groups[i] as number).toString(16);
  }
  return text;
}

/** Colon-separated lowercase text of the 6 bytes at `offset`. */
export function formatMac(buf: Uint8Array, offset = 0): string {
  const parts: string[] = [];
  for (let i = 0; i < 6; i++) parts.push((buf[offset + i] ?? 0).toString(16).padStart(2, '0'));
  return parts.join(':');
}

/** Writes the 4 bytes of an IPv4 address text at `offset`; throws on invalid text. */
export function writeIpv4(text: string, buf: Uint8Array, offset = 0): void {
  if (!isIPv4(text)) throw new TypeError(`'${text}' is not an IPv4 address`);
  const parts = text.split('.');
  for (let i = 0; i < 4; i++) buf[offset + i] = Number(parts[i]);
}

/** Writes the 16 bytes of an IPv6 address text (embedded IPv4 allowed) at `offset`; throws on invalid text. */
export function writeIpv6(text: string, buf: Uint8Array, offset = 0): void {
  if (!isIPv6(text)) throw new TypeError(`'${text}' is not an IPv6 address`);
  let body = text;
  const zone = body.indexOf('%');
  if (zone >= 0) body = body.slice(0, zone);
  const tailV4: number[] = [];
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    const v4 = body
      .slice(lastColon + 1)
      .split('.')
      .map(Number);
    tailV4.push(((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0));
    body = body.slice(0, lastColon + 1) + '0:0';
  }
  const [headText, tailText] = body.includes('::') ? body.split('::') : [body, undefined];
  const head = headText ? headText.split(':').map((h) => parseInt(h, 16)) : [];
  const tail =
    tailText !== undefined && tailText !== '' ? tailText.split(':').map((h) => parseInt(h, 16)) : [];
  const groups =
    tailText === undefined
      ? head
      : [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  if (tailV4.length === 2) {
    groups[6] = tailV4[0] ?? 0;
    groups[7] = tailV4[1] ?? 0;
  }
  for (let i = 0; i < 8; i++) {
    const g = groups[i] ?? 0;
    buf[offset + 2 * i] = g >> 8;
    buf[offset + 2 * i + 1] = g & 0xff;
  }
}

/** Writes the 6 bytes of a MAC address text (`aa:bb:cc:dd:ee:ff`) at `offset`; throws on invalid text. */
export function writeMac(text: string, buf: Uint8Array, offset = 0): void {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new TypeError(`'${text}' is not a MAC address`);
  }
  for (let i = 0; i < 6; i++) buf[offset + i] = parseInt(parts[i] ?? '0', 16);
}
