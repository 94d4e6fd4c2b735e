/** Builds the Flow record of one DNS message (what the FlowBus, the advanced metrics and Hubble receive). */
import {
  CiliumEventType,
  FlowType,
  flowIp,
  L7FlowType,
  TraceObservationPoint,
  TrafficDirection,
  Verdict,
  type Flow,
} from '@retina-ts/core';
import { IPPROTO_TCP, type DnsEventHeader, type DnsMessage } from './decode.js';
import { answerIps, flowQueryName } from './labels.js';

/** Where the flow came from, beyond the packet itself. */
export interface DnsFlowContext {
  nodeName: string;
  /** Added to the kernel's CLOCK_MONOTONIC timestamp to get Unix time in ns. */
  monoToEpochNs: bigint;
  /** Name of the interface the packet was seen on, when known. */
  interfaceName?: string;
  /** For a response matched to its request: the time between them in ns. */
  latencyNs?: number;
}

/**
 * The flow of one DNS message, shaped as Retina's dns plugin fills it: verdict DNS, type L7, a query as
 * TO_NETWORK / EGRESS and a response as FROM_NETWORK / INGRESS with is_reply set, the L7 DNS record (query with its
 * trailing dot, qtypes, rcode, answer addresses, CNAME targets, answer types, smallest TTL) and the extensions
 * `dns_type` and `num_responses` (ANCOUNT, only when above 0).
 */
export function dnsFlow(header: DnsEventHeader, message: DnsMessage, ctx: DnsFlowContext): Flow {
  const response = message.isResponse;
  const ports = { sourcePort: header.sourcePort, destinationPort: header.destinationPort };
  let ttl: number | undefined;
  const cnames: string[] = [];
  const rrtypes: string[] = [];
  for (const a of message.answers) {
    if (ttl === undefined || a.ttl < ttl) ttl = a.ttl;
    if (a.cname !== undefined) cnames.push(`${a.cname}.`);
    if (!rrtypes.includes(a.type)) rrtypes.push(a.type);
  }
  const flow: Flow = {
    timeNs: header.tsNs + ctx.monoToEpochNs,
    verdict: Verdict.DNS,
    type: FlowType.L7,
    nodeName: ctx.nodeName,
    ip: flowIp(header.source, header.destination, header.family),
    l4: header.protocol === IPPROTO_TCP ? { tcp: ports } : { udp: ports },
    l7: {
      type: response ? L7FlowType.RESPONSE : L7FlowType.REQUEST,
      dns: {
        query: flowQueryName(message.questions),
        ips: answerIps(message.answers),
        ttl: ttl ?? 0,
        cnames,
        rcode: message.rcode,
        qtypes: message.questions.map((q) => q.type),
        rrtypes,
      },
    },
    eventType: { type: CiliumEventType.L7, subType: 0 },
    trafficDirection: response ? TrafficDirection.INGRESS : TrafficDirection.EGRESS,
    traceObservationPoint: response ? TraceObservationPoint.FROM_NETWORK : TraceObservationPoint.TO_NETWORK,
    isReply: response,
    emitter: 'dns',
    extensions: {
      dnsType: response ? 'RESPONSE' : 'QUERY',
      ...(message.answerCount > 0 ? { numResponses: message.answerCount } : {}),
    },
  };
  if (ctx.latencyNs !== undefined && flow.l7) flow.l7.latencyNs = ctx.latencyNs;
  if (header.ifindex > 0) flow.interface = { index: header.ifindex, name: ctx.interfaceName ?? '' };
  return flow;
}
