/**
 * Test fixtures: DNS messages (encoded with dns-packet), ring-buffer records as the kernel program writes them,
 * and whole frames (Ethernet, IPv4/IPv6, UDP/TCP) for BPF_PROG_TEST_RUN.
 */
import dnsPacket from 'dns-packet';
import { isIPv4 } from 'node:net';
import { writeIpv4, writeIpv6 } from '@retina-ts/bpf-runtime';
import { DNS_EVENT_HEADER_SIZE, DNS_EVENT_LAYOUT } from '../src/decode.js';

/** A query for `name` of `type`. */
export function query(name: string, type: dnsPacket.RecordType = 'A', id = 0x1234): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
  });
}

/** A response to a query for `name`, with `rcode` (0..15) and answers. */
export function response(
  name: string,
  type: dnsPacket.RecordType,
  answers: dnsPacket.Answer[],
  options: { id?: number; rcode?: number } = {},
): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: options.id ?? 0x1234,
    flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (options.rcode ?? 0),
    questions: [{ type, name, class: 'IN' }],
    answers,
  });
}

/** An A answer. */
export function a(name: string, ip: string, ttl = 60): dnsPacket.Answer {
  return { type: 'A', name, ttl, class: 'IN', data: ip };
}

/** An AAAA answer. */
export function aaaa(name: string, ip: string, ttl = 60): dnsPacket.Answer {
  return { type: 'AAAA', name, ttl, class: 'IN', data: ip };
}

/** A CNAME answer. */
export function cname(name: string, target: string, ttl = 60): dnsPacket.Answer {
  return { type: 'CNAME', name, ttl, class: 'IN', data: target };
}

/** The client and the DNS server the builders below default to. */
export const CLIENT_IP = '10.1.0.2';
export const SERVER_IP = '10.1.0.53';

/** A query's addresses and ports, as the builders take them and a record header gives them back. */
export const QUERY_TUPLE = {
  source: CLIENT_IP,
  destination: SERVER_IP,
  sourcePort: 40001,
  destinationPort: 53,
} as const;

/** Fields of a synthetic ring-buffer record. */
export interface RecordFields {
  tsNs?: bigint;
  source?: string;
  destination?: string;
  sourcePort?: number;
  destinationPort?: number;
  protocol?: number;
  ifindex?: number;
  pktLen?: number;
  /** Message length on the wire (default: the message length). */
  msgLen?: number;
  /** Bytes of the message put in the record (default: all, up to 2048). */
  capLen?: number;
  pktType?: number;
}

/** A record as bpf/dns.bpf.c writes it: the 64-byte header, then `capLen` bytes of `message`. */
export function record(message: Buffer, f: RecordFields = {}): Buffer {
  const L = DNS_EVENT_LAYOUT;
  const capLen = f.capLen ?? Math.min(message.length, 2048);
  const buf = Buffer.alloc(DNS_EVENT_HEADER_SIZE + capLen);
  const source = f.source ?? CLIENT_IP;
  const destination = f.destination ?? SERVER_IP;
  const v4 = isIPv4(source);
  buf.writeBigUInt64LE(f.tsNs ?? 1_000_000_000n, L.tsNs);
  if (v4) {
    writeIpv4(source, buf, L.saddr);
    writeIpv4(destination, buf, L.daddr);
  } else {
    writeIpv6(source, buf, L.saddr);
    writeIpv6(destination, buf, L.daddr);
  }
  buf.writeUInt16LE(f.sourcePort ?? 40000, L.sport);
  buf.writeUInt16LE(f.destinationPort ?? 53, L.dport);
  buf.writeUInt32LE(f.ifindex ?? 7, L.ifindex);
  buf.writeUInt32LE(f.pktLen ?? message.length + 42, L.pktLen);
  buf.writeUInt16LE(f.msgLen ?? message.length, L.msgLen);
  buf.writeUInt16LE(capLen, L.capLen);
  buf[L.family] = v4 ? 4 : 6;
  buf[L.proto] = f.protocol ?? 17;
  buf[L.pktType] = f.pktType ?? 0;
  message.copy(buf, DNS_EVENT_HEADER_SIZE, 0, capLen);
  return buf;
}

/** Concatenates records the way a RecordBatch carries them (8-byte aligned offsets). */
export function batch(records: readonly Buffer[]): {
  count: number;
  buffer: Buffer;
  offsets: Uint32Array;
  lengths: Uint32Array;
} {
  const offsets = new Uint32Array(records.length);
  const lengths = new Uint32Array(records.length);
  let size = 0;
  records.forEach((r, i) => {
    offsets[i] = size;
    lengths[i] = r.length;
    size += Math.ceil(r.length / 8) * 8;
  });
  const buffer = Buffer.alloc(size);
  records.forEach((r, i) => r.copy(buffer, offsets[i]));
  return { count: records.length, buffer, offsets, lengths };
}

/** Addressing of a synthetic frame. */
export interface FrameFields {
  source?: string;
  destination?: string;
  sourcePort?: number;
  destinationPort?: number;
  /** 17 (UDP, default) or 6 (TCP). */
  protocol?: number;
  /** TCP only: put the 2-byte length prefix before the message (default true). */
  tcpLengthPrefix?: boolean;
  /** IPv6 only: extension headers to insert (next-header numbers: 0 hop-by-hop, 60 destination options). */
  ipv6Extensions?: number[];
  /** IPv4 fragment offset in 8-byte units (non-zero makes a later fragment). */
  fragmentOffset?: number;
}

/** An Ethernet frame carrying `payload` (a DNS message) over UDP or TCP, IPv4 or IPv6. */
export function frame(payload: Buffer, f: FrameFields = {}): Buffer {
  const source = f.source ?? CLIENT_IP;
  const destination = f.destination ?? SERVER_IP;
  const v4 = isIPv4(source);
  const protocol = f.protocol ?? 17;
  let l4: Buffer;
  if (protocol === 17) {
    l4 = Buffer.alloc(8 + payload.length);
    l4.writeUInt16BE(f.sourcePort ?? 40000, 0);
    l4.writeUInt16BE(f.destinationPort ?? 53, 2);
    l4.writeUInt16BE(8 + payload.length, 4);
    payload.copy(l4, 8);
  } else {
    const body =
      f.tcpLengthPrefix === false
        ? payload
        : Buffer.concat([Buffer.from([payload.length >> 8, payload.length & 0xff]), payload]);
    l4 = Buffer.alloc(20 + body.length);
    l4.writeUInt16BE(f.sourcePort ?? 40000, 0);
    l4.writeUInt16BE(f.destinationPort ?? 53, 2);
    l4.writeUInt32BE(1, 4);
    l4.writeUInt32BE(1, 8);
    l4[12] = 5 << 4;
    l4[13] = 0x18; // PSH, ACK
    l4.writeUInt16BE(65535, 14);
    body.copy(l4, 20);
  }
  let l3: Buffer;
  if (v4) {
    l3 = Buffer.alloc(20);
    l3[0] = 0x45;
    l3.writeUInt16BE(20 + l4.length, 2);
    l3.writeUInt16BE((f.fragmentOffset ?? 0) & 0x1fff, 6);
    l3[8] = 64;
    l3[9] = protocol;
    writeIpv4(source, l3, 12);
    writeIpv4(destination, l3, 16);
  } else {
    const exts = f.ipv6Extensions ?? [];
    const extBytes = Buffer.alloc(exts.length * 8);
    exts.forEach((_, i) => {
      extBytes[i * 8] = i + 1 < exts.length ? (exts[i + 1] as number) : protocol;
      extBytes[i * 8 + 1] = 0; // (0 + 1) * 8 bytes
    });
    l3 = Buffer.alloc(40);
    l3[0] = 0x60;
    l3.writeUInt16BE(extBytes.length + l4.length, 4);
    l3[6] = exts.length > 0 ? (exts[0] as number) : protocol;
    l3[7] = 64;
    writeIpv6(source, l3, 8);
    writeIpv6(destination, l3, 24);
    l3 = Buffer.concat([l3, extBytes]);
  }
  const ethertype = v4 ? 0x0800 : 0x86dd;
  const eth = Buffer.alloc(14);
  Buffer.from([0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02]).copy(eth, 0);
  eth.writeUInt16BE(ethertype, 12);
  return Buffer.concat([eth, l3, l4]);
}
