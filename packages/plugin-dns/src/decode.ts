/**
 * Decoding of what the kernel sends: the ring-buffer record header (layout of `struct rts_dns_event` in
 * bpf/dns.bpf.c) and the DNS message prefix that follows it, parsed with dns-packet. Pure functions, no I/O.
 */
import dnsPacket from 'dns-packet';
import dnsTypes from 'dns-packet/types.js';
import { defineStruct, formatIpv4, formatIpv6 } from '@retina-ts/bpf-runtime';

/**
 * `struct rts_dns_event` of bpf/dns.bpf.c (the header of a ring-buffer record), field for field with the C names:
 * the one declaration the decoder takes its offsets from. test/layout.test.ts checks it against the compiled
 * object's BTF.
 */
export const RTS_DNS_EVENT = defineStruct({
  ts_ns: 'u64',
  saddr: { bytes: 16 },
  daddr: { bytes: 16 },
  sport: 'u16',
  dport: 'u16',
  ifindex: 'u32',
  pkt_len: 'u32',
  msg_len: 'u16',
  cap_len: 'u16',
  family: 'u8',
  proto: 'u8',
  pkt_type: 'u8',
  _pad: { bytes: 5 },
});

/** Size of `struct rts_dns_event`; the DNS message bytes start here. */
export const DNS_EVENT_HEADER_SIZE = RTS_DNS_EVENT.size;

const H = RTS_DNS_EVENT.offsets;
/** Byte offsets of `struct rts_dns_event` fields (little-endian host order unless noted), from RTS_DNS_EVENT. */
export const DNS_EVENT_LAYOUT = {
  tsNs: H.ts_ns,
  saddr: H.saddr,
  daddr: H.daddr,
  sport: H.sport,
  dport: H.dport,
  ifindex: H.ifindex,
  pktLen: H.pkt_len,
  msgLen: H.msg_len,
  capLen: H.cap_len,
  family: H.family,
  proto: H.proto,
  pktType: H.pkt_type,
} as const;

/** A dns-packet codec: `decode.bytes` holds the bytes the last decode consumed. */
interface Codec<T> {
  decode: ((buf: Buffer, offset?: number) => T) & { bytes: number };
}

/**
 * dns-packet's section and record-data codecs. They are part of its public module (its README documents them) but
 * missing from @types/dns-packet, hence this typed view.
 */
const codecs = dnsPacket as unknown as {
  name: Codec<string>;
  question: Codec<{ name: string; type: string; class: string }>;
  a: Codec<string>;
  aaaa: Codec<string>;
  cname: Codec<string>;
};
for (const codec of ['name', 'question', 'a', 'aaaa', 'cname'] as const) {
  if (typeof codecs[codec]?.decode !== 'function') {
    throw new Error(
      `dns-packet has no ${codec}.decode(); install dns-packet 5.x (found an incompatible version)`,
    );
  }
}

const RR_A = 1;
const RR_CNAME = 5;
const RR_AAAA = 28;

/** Largest DNS prefix the kernel program can copy (DNS_MAX_CAPTURE in bpf/dns.bpf.c). */
export const DNS_MAX_CAPTURE = 2048;

/** Length of the fixed DNS header. */
export const DNS_HEADER_SIZE = 12;

export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;

/** Values of `pkt_type` (linux/if_packet.h). */
export const PacketType = {
  HOST: 0,
  BROADCAST: 1,
  MULTICAST: 2,
  OTHERHOST: 3,
  OUTGOING: 4,
} as const;

/** The fixed part of one kernel record, decoded. */
export interface DnsEventHeader {
  /** bpf_ktime_get_ns() when the packet was seen (CLOCK_MONOTONIC). */
  tsNs: bigint;
  family: 4 | 6;
  source: string;
  destination: string;
  sourcePort: number;
  destinationPort: number;
  /** 6 (TCP) or 17 (UDP). */
  protocol: number;
  ifindex: number;
  /** Packet length at the tap: with the link-layer header where the device has one. */
  packetLength: number;
  /** DNS message length on the wire (UDP payload, or the TCP length prefix). */
  messageLength: number;
  /** Bytes of the message present in the record. */
  capturedLength: number;
  pktType: number;
}

/** Why a record or message could not be used. These are the values of the parse-error metric's `reason` label. */
export type ParseErrorReason = 'record' | 'header' | 'question' | 'truncated' | 'answer';

/** Every ParseErrorReason, in the order the README lists them. */
export const PARSE_ERROR_REASONS: readonly ParseErrorReason[] = [
  'record',
  'header',
  'question',
  'truncated',
  'answer',
];

/** A record or message that could not be decoded, with a reason for the metric and a detail for logs. */
export class DnsDecodeError extends Error {
  override name = 'DnsDecodeError';
  constructor(
    readonly reason: ParseErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Decodes the record header at `offset` of `buf` (whose record is `length` bytes) and checks it against the record
 * length. Throws DnsDecodeError('record') for records the kernel program cannot have written.
 */
export function decodeEventHeader(buf: Buffer, offset: number, length: number): DnsEventHeader {
  if (length < DNS_EVENT_HEADER_SIZE || offset + length > buf.length) {
    throw new DnsDecodeError(
      'record',
      `record of ${length} bytes is shorter than its ${DNS_EVENT_HEADER_SIZE}-byte header`,
    );
  }
  const L = DNS_EVENT_LAYOUT;
  const family = buf[offset + L.family];
  if (family !== 4 && family !== 6) {
    throw new DnsDecodeError('record', `record has address family ${String(family)} (expected 4 or 6)`);
  }
  const protocol = buf[offset + L.proto] as number;
  if (protocol !== IPPROTO_TCP && protocol !== IPPROTO_UDP) {
    throw new DnsDecodeError('record', `record has IP protocol ${protocol} (expected 6 or 17)`);
  }
  const capturedLength = buf.readUInt16LE(offset + L.capLen);
  const messageLength = buf.readUInt16LE(offset + L.msgLen);
  if (
    capturedLength > length - DNS_EVENT_HEADER_SIZE ||
    capturedLength > messageLength ||
    capturedLength > DNS_MAX_CAPTURE
  ) {
    throw new DnsDecodeError(
      'record',
      `record claims ${capturedLength} captured bytes of a ${messageLength}-byte message but carries ${length - DNS_EVENT_HEADER_SIZE}`,
    );
  }
  return {
    tsNs: buf.readBigUInt64LE(offset + L.tsNs),
    family,
    source: family === 4 ? formatIpv4(buf, offset + L.saddr) : formatIpv6(buf, offset + L.saddr),
    destination: family === 4 ? formatIpv4(buf, offset + L.daddr) : formatIpv6(buf, offset + L.daddr),
    sourcePort: buf.readUInt16LE(offset + L.sport),
    destinationPort: buf.readUInt16LE(offset + L.dport),
    protocol,
    ifindex: buf.readUInt32LE(offset + L.ifindex),
    packetLength: buf.readUInt32LE(offset + L.pktLen),
    messageLength,
    capturedLength,
    pktType: buf[offset + L.pktType] as number,
  };
}

/** One question of a DNS message. */
export interface DnsQuestion {
  /** Name as dns-packet presents it: labels joined by `.`, no trailing dot; the root is `.`. */
  name: string;
  /** Type mnemonic (`A`, `AAAA`, ...; `TYPE<n>` for types without one). */
  type: string;
}

/** One answer record. */
export interface DnsAnswer {
  name: string;
  type: string;
  ttl: number;
  /** The address, for A and AAAA records. */
  ip?: string;
  /** The target, for CNAME records. */
  cname?: string;
}

/** A decoded DNS message (or the prefix of one that the kernel copied). */
export interface DnsMessage {
  id: number;
  isResponse: boolean;
  /** The 4-bit OPCODE. */
  opcode: number;
  /** The 4-bit RCODE of the header. */
  rcode: number;
  questions: DnsQuestion[];
  /** ANCOUNT from the header: how many answers the message has, whether or not all were captured. */
  answerCount: number;
  /** The answers decoded from the captured bytes, in wire order. */
  answers: DnsAnswer[];
  /** False when the capture ended before the last answer. */
  answersComplete: boolean;
}

/** Presentation form of a record type: dns-packet's mnemonic, or RFC 3597's `TYPE<n>` where it has none. */
export function typeName(type: string): string {
  return type.startsWith('UNKNOWN_') ? `TYPE${type.slice('UNKNOWN_'.length)}` : type;
}

/** Message of an error thrown by dns-packet (or anything else), for DnsDecodeError details. */
function why(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Parses the first `msg.length` bytes of a DNS message whose full length on the wire is `wireLength`. When the
 * capture holds less than the whole message, answers are decoded as far as the capture goes; the header and
 * question must be complete. Throws DnsDecodeError with the section that failed.
 */
export function parseDnsMessage(msg: Buffer, wireLength: number = msg.length): DnsMessage {
  if (msg.length < DNS_HEADER_SIZE) {
    throw new DnsDecodeError(
      'header',
      `message has ${msg.length} bytes, fewer than the ${DNS_HEADER_SIZE}-byte DNS header`,
    );
  }
  const captureCut = msg.length < wireLength;
  const flags = msg.readUInt16BE(2);
  const qdcount = msg.readUInt16BE(4);
  const ancount = msg.readUInt16BE(6);
  // Each question takes at least 5 bytes; a count the message cannot hold is garbage, not a long message.
  if (qdcount * 5 > wireLength - DNS_HEADER_SIZE) {
    throw new DnsDecodeError('header', `header claims ${qdcount} questions in a ${wireLength}-byte message`);
  }
  const message: DnsMessage = {
    id: msg.readUInt16BE(0),
    isResponse: (flags & 0x8000) !== 0,
    opcode: (flags >> 11) & 0xf,
    rcode: flags & 0xf,
    questions: [],
    answerCount: ancount,
    answers: [],
    answersComplete: true,
  };

  let offset = DNS_HEADER_SIZE;
  for (let i = 0; i < qdcount; i++) {
    let q: { name: string; type: string };
    try {
      q = codecs.question.decode(msg, offset);
    } catch (err) {
      if (captureCut) {
        throw new DnsDecodeError(
          'truncated',
          `question ${i + 1} does not fit in the ${msg.length} captured bytes`,
        );
      }
      throw new DnsDecodeError('question', `question ${i + 1} at byte ${offset}: ${why(err)}`);
    }
    offset += codecs.question.decode.bytes;
    if (offset > msg.length) {
      if (captureCut) {
        throw new DnsDecodeError(
          'truncated',
          `question ${i + 1} does not fit in the ${msg.length} captured bytes`,
        );
      }
      throw new DnsDecodeError('question', `question ${i + 1} runs past the end of the message`);
    }
    message.questions.push({ name: q.name, type: typeName(q.type) });
  }

  for (let i = 0; i < ancount; i++) {
    let answer: DnsAnswer;
    try {
      [answer, offset] = decodeAnswer(msg, offset);
    } catch (err) {
      if (captureCut) {
        message.answersComplete = false;
        break;
      }
      throw new DnsDecodeError('answer', `answer ${i + 1} of ${ancount} at byte ${offset}: ${why(err)}`);
    }
    message.answers.push(answer);
  }
  return message;
}

/**
 * Decodes the resource record at `offset`; returns it and the offset where it ends. The owner name and the record
 * data (A, AAAA, CNAME) are decoded by dns-packet; type, TTL and RDLENGTH are fixed-width fields read here, so every
 * record is bounded by its RDLENGTH, and the data of other types (not needed for metrics or flows) is skipped unread.
 */
function decodeAnswer(msg: Buffer, offset: number): [DnsAnswer, number] {
  const name = codecs.name.decode(msg, offset);
  const fixed = offset + codecs.name.decode.bytes;
  if (fixed + 10 > msg.length) throw new RangeError('record header runs past the end of the message');
  const type = msg.readUInt16BE(fixed);
  const ttl = msg.readUInt32BE(fixed + 4);
  const rdlength = msg.readUInt16BE(fixed + 8);
  const end = fixed + 10 + rdlength;
  if (end > msg.length)
    throw new RangeError(`record data (${rdlength} bytes) runs past the end of the message`);
  const answer: DnsAnswer = { name, type: typeName(dnsTypes.toString(type)), ttl };
  if (type === RR_A || type === RR_AAAA) {
    const size = type === RR_A ? 4 : 16;
    if (rdlength !== size)
      throw new RangeError(`${answer.type} record has RDLENGTH ${rdlength}, not ${size}`);
    answer.ip = (type === RR_A ? codecs.a : codecs.aaaa).decode(msg, fixed + 8);
  } else if (type === RR_CNAME) {
    answer.cname = codecs.cname.decode(msg, fixed + 8);
    if (codecs.cname.decode.bytes !== rdlength + 2) {
      throw new RangeError(
        `CNAME target takes ${codecs.cname.decode.bytes - 2} bytes, but RDLENGTH says ${rdlength}`,
      );
    }
  }
  return [answer, end];
}

/**
 * Decodes one ring-buffer record (header and DNS message) at `offset` of `buf`. Throws DnsDecodeError naming the
 * part that failed.
 */
export function decodeDnsRecord(
  buf: Buffer,
  offset: number,
  length: number,
): { header: DnsEventHeader; message: DnsMessage } {
  const header = decodeEventHeader(buf, offset, length);
  const start = offset + DNS_EVENT_HEADER_SIZE;
  const message = parseDnsMessage(buf.subarray(start, start + header.capturedLength), header.messageLength);
  return { header, message };
}
