/**
 * Display names Hubble derives from flow fields: trace observation points, the protocol label, ICMP type-codes (as
 * gopacket prints them), DNS return codes and the one-line flow summary. All pure.
 */
import type { PbFlow, PbLayer4, PbTcpFlags } from './wire.js';
import { Wire } from './wire.js';

/** Cilium trace sub types (event_type.sub_type of trace events) by number, as Hubble names them. */
export const TRACE_POINT_NAMES: readonly string[] = [
  'to-endpoint',
  'to-proxy',
  'to-host',
  'to-stack',
  'to-overlay',
  'from-endpoint',
  'from-proxy',
  'from-host',
  'from-stack',
  'from-overlay',
  'from-network',
  'to-network',
  'from-crypto',
  'to-crypto',
];

/** flow.TraceObservationPoint number → Cilium trace sub type (they differ only for TO_ENDPOINT = 101 → 0). */
export function traceSubTypeOfPoint(point: number): number {
  if (point === 101) return 0;
  return point >= 1 && point <= 13 ? point : 0;
}

/** The `protocol` label of Hubble metrics: L7 protocol for L7 events, L4 protocol for packet events. */
export function flowProtocol(flow: PbFlow): string {
  const type = flow.event_type?.type ?? 0;
  if (type === Wire.eventType.L7) {
    if (flow.l7?.dns) return 'DNS';
    return 'Unknown L7';
  }
  if (
    type === Wire.eventType.DROP ||
    type === Wire.eventType.TRACE ||
    type === Wire.eventType.POLICY_VERDICT ||
    type === Wire.eventType.CAPTURE
  ) {
    return l4ProtocolName(flow.l4) ?? 'Unknown L4';
  }
  return 'Unknown flow';
}

/** Name of the Layer4 member that is set (`TCP`, `UDP`, `ICMPv4`, ...), if any. */
export function l4ProtocolName(l4: PbLayer4 | undefined): string | undefined {
  if (!l4) return undefined;
  if (l4.TCP) return 'TCP';
  if (l4.UDP) return 'UDP';
  if (l4.ICMPv4) return 'ICMPv4';
  if (l4.ICMPv6) return 'ICMPv6';
  if (l4.SCTP) return 'SCTP';
  if (l4.VRRP) return 'VRRP';
  if (l4.IGMP) return 'IGMP';
  return undefined;
}

interface TypeCodeNames {
  type: string;
  codes?: Record<number, string>;
}

const ICMPV4_NAMES: Record<number, TypeCodeNames> = {
  0: { type: 'EchoReply' },
  3: {
    type: 'DestinationUnreachable',
    codes: {
      0: 'Net',
      1: 'Host',
      2: 'Protocol',
      3: 'Port',
      4: 'FragmentationNeeded',
      5: 'SourceRoutingFailed',
      6: 'NetUnknown',
      7: 'HostUnknown',
      8: 'SourceIsolated',
      9: 'NetAdminProhibited',
      10: 'HostAdminProhibited',
      11: 'NetTOS',
      12: 'HostTOS',
      13: 'CommAdminProhibited',
      14: 'HostPrecedence',
      15: 'PrecedenceCutoff',
    },
  },
  4: { type: 'SourceQuench' },
  5: { type: 'Redirect', codes: { 0: 'Net', 1: 'Host', 2: 'TOS+Net', 3: 'TOS+Host' } },
  8: { type: 'EchoRequest' },
  9: { type: 'RouterAdvertisement' },
  10: { type: 'RouterSolicitation' },
  11: { type: 'TimeExceeded', codes: { 0: 'TTLExceeded', 1: 'FragmentReassemblyTimeExceeded' } },
  12: { type: 'ParameterProblem', codes: { 0: 'PointerIndicatesError', 1: 'MissingOption', 2: 'BadLength' } },
  13: { type: 'TimestampRequest' },
  14: { type: 'TimestampReply' },
  15: { type: 'InfoRequest' },
  16: { type: 'InfoReply' },
  17: { type: 'AddressMaskRequest' },
  18: { type: 'AddressMaskReply' },
};

const ICMPV6_NAMES: Record<number, TypeCodeNames> = {
  1: {
    type: 'DestinationUnreachable',
    codes: {
      0: 'NoRouteToDst',
      1: 'AdminProhibited',
      2: 'BeyondScopeOfSrc',
      3: 'AddressUnreachable',
      4: 'PortUnreachable',
      5: 'SrcAddressFailedPolicy',
      6: 'RejectRouteToDst',
    },
  },
  2: { type: 'PacketTooBig' },
  3: { type: 'TimeExceeded', codes: { 0: 'HopLimitExceeded', 1: 'FragmentReassemblyTimeExceeded' } },
  4: {
    type: 'ParameterProblem',
    codes: { 0: 'ErroneousHeaderField', 1: 'UnrecognizedNextHeader', 2: 'UnrecognizedIPv6Option' },
  },
  128: { type: 'EchoRequest' },
  129: { type: 'EchoReply' },
  133: { type: 'RouterSolicitation' },
  134: { type: 'RouterAdvertisement' },
  135: { type: 'NeighborSolicitation' },
  136: { type: 'NeighborAdvertisement' },
  137: { type: 'Redirect' },
};

function typeCodeName(table: Record<number, TypeCodeNames>, type: number, code: number): string {
  const info = table[type];
  if (!info) return `${type}(${code})`;
  if (!info.codes) return code === 0 ? info.type : `${info.type}(Code: ${code})`;
  const codeName = info.codes[code];
  return codeName === undefined ? `${info.type}(Code: ${code})` : `${info.type}(${codeName})`;
}

/** ICMPv4 type-code as Hubble's `icmp` metric labels it (`EchoRequest`, `DestinationUnreachable(Port)`, ...). */
export function icmpv4TypeName(type: number, code: number): string {
  return typeCodeName(ICMPV4_NAMES, type, code);
}

/** ICMPv6 type-code as Hubble's `icmp` metric labels it. */
export function icmpv6TypeName(type: number, code: number): string {
  return typeCodeName(ICMPV6_NAMES, type, code);
}

const DNS_RCODE_NAMES: Record<number, string> = {
  0: 'No Error',
  1: 'Format Error',
  2: 'Server Failure',
  3: 'Non-Existent Domain',
  4: 'Not Implemented',
  5: 'Query Refused',
  6: 'Name Exists when it should not',
  7: 'RR Set Exists when it should not',
  8: 'RR Set that should exist does not',
  9: 'Not Authorized',
  10: 'Name not contained in zone',
  11: 'DSO-TYPE Not Implemented',
  16: 'Bad OPT Version',
  17: 'Key not recognized',
  18: 'Signature out of time window',
  19: 'Bad TKEY Mode',
  20: 'Duplicate key name',
  21: 'Algorithm not supported',
  22: 'Bad Truncation',
  23: 'Bad/missing Server Cookie',
};

/** DNS response code text as Hubble's `dns` metric labels it (empty for codes it does not name). */
export function dnsRcodeName(rcode: number): string {
  return DNS_RCODE_NAMES[rcode] ?? '';
}

const TCP_FLAG_ORDER: readonly (keyof PbTcpFlags)[] = [
  'FIN',
  'SYN',
  'RST',
  'PSH',
  'ACK',
  'URG',
  'ECE',
  'CWR',
  'NS',
];

/** `SYN, ACK`-style list of the flags that are set. */
export function tcpFlagList(flags: PbTcpFlags | undefined): string {
  if (!flags) return '';
  return TCP_FLAG_ORDER.filter((f) => flags[f]).join(', ');
}

/**
 * The `Summary` line the hubble CLI prints in parentheses: `TCP Flags: SYN, ACK`, `UDP`, `ICMPv4 EchoRequest`,
 * a DNS query or answer, or the Retina drop reason of a drop.
 */
export function flowSummary(flow: PbFlow, retinaDropReason?: string): string {
  if (flow.verdict === Wire.verdict.DROPPED && retinaDropReason) return `Drop Reason: ${retinaDropReason}`;
  const dns = flow.l7?.dns;
  if (dns) {
    const qtypes = dns.qtypes.join(',');
    if (flow.is_reply?.value) {
      const answer = dns.ips.length > 0 ? ` ${dns.ips.map((ip) => `"${ip}"`).join(',')}` : '';
      const rcode = dnsRcodeName(dns.rcode) || `RCode ${dns.rcode}`;
      return `DNS Answer${answer} RCode: ${rcode} (Query ${dns.query} ${qtypes})`.trimEnd();
    }
    return `DNS Query ${dns.query} ${qtypes}`.trimEnd();
  }
  const l4 = flow.l4;
  if (!l4) return '';
  if (l4.TCP) {
    const flags = tcpFlagList(l4.TCP.flags);
    return flags ? `TCP Flags: ${flags}` : 'TCP';
  }
  if (l4.UDP) return 'UDP';
  if (l4.SCTP) return 'SCTP';
  if (l4.ICMPv4) return `ICMPv4 ${icmpv4TypeName(l4.ICMPv4.type, l4.ICMPv4.code)}`;
  if (l4.ICMPv6) return `ICMPv6 ${icmpv6TypeName(l4.ICMPv6.type, l4.ICMPv6.code)}`;
  return l4ProtocolName(l4) ?? '';
}
