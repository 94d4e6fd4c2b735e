/**
 * What each plugin's flows look like on the Hubble API, against Retina's own flow utilities: observation point,
 * event type and sub type (with the name `hubble observe` prints for it), verdict, traffic direction, is_reply and
 * drop reason. Each row runs a plugin's real flow builder and the Hubble conversion.
 */
import { describe, expect, it } from 'vitest';
import { TrafficDirection, type Flow } from '@retina-ts/core';
import { STRUCT_TYPE_URL, TRACE_POINT_NAMES, hubbleTypes, toPbFlow } from '@retina-ts/hubble';
import { eventToFlow as packetFlow, ObservationPoint, type PacketEvent } from '@retina-ts/plugin-packetparser';
import { retransFlow } from '@retina-ts/plugin-tcpretrans';
import { dnsFlow } from '@retina-ts/plugin-dns';
import { DropReasonCatalog, eventToFlow as dropFlow, type DropEvent } from '@retina-ts/plugin-dropreason';

const NODE = 'node-fields';

function packet(observationPoint: number, trafficDirection: TrafficDirection, isReply: boolean): Flow {
  const ev: PacketEvent = {
    tNs: 1n,
    family: 4,
    source: '10.250.0.1',
    destination: '10.250.0.2',
    sourcePort: 40000,
    destinationPort: 80,
    proto: 6,
    bytes: 60,
    seq: 1,
    ack: 0,
    tsval: 0,
    tsecr: 0,
    observationPoint,
    trafficDirection,
    flags: 0x02,
    isReply,
    previouslyObservedPackets: 0,
    previouslyObservedBytes: 0,
    previouslyObservedFlags: [],
    conntrack: { bytesTx: 0, bytesRx: 0, packetsTx: 0, packetsRx: 0 },
  };
  return packetFlow(ev, { nodeName: NODE, epochOffsetNs: 0n });
}

function retrans(): Flow {
  const last = {
    monotonicNs: 1n,
    ipVersion: 4 as const,
    source: '10.250.0.1',
    destination: '10.250.0.2',
    sourcePort: 40000,
    destinationPort: 80,
    state: 'SYN_SENT',
    tcpFlags: 0x02,
    segments: 1,
  };
  return retransFlow({ last, count: 1 }, { nodeName: NODE, epochOffsetNs: 0n });
}

function dns(response: boolean): Flow {
  const header = {
    tsNs: 1n,
    family: 4 as const,
    source: response ? '10.250.0.53' : '10.250.0.1',
    destination: response ? '10.250.0.1' : '10.250.0.53',
    sourcePort: response ? 53 : 40000,
    destinationPort: response ? 40000 : 53,
    protocol: 17,
    ifindex: 1,
    packetLength: 80,
    messageLength: 40,
    capturedLength: 40,
    pktType: 0,
  };
  const message = {
    id: 7,
    isResponse: response,
    opcode: 0,
    rcode: 0,
    questions: [{ name: 'a.test', type: 'A' }],
    answerCount: response ? 1 : 0,
    answers: response ? [{ name: 'a.test', type: 'A', ttl: 30, ip: '10.250.0.9' }] : [],
    answersComplete: true,
  };
  return dnsFlow(header, message, { nodeName: NODE, monoToEpochNs: 0n });
}

const catalog = DropReasonCatalog.fromBtf({
  name: 'skb_drop_reason',
  typeId: 1,
  size: 4,
  signed: false,
  members: [
    ['SKB_NOT_DROPPED_YET', 0],
    ['SKB_CONSUMED', 1],
    ['SKB_DROP_REASON_NOT_SPECIFIED', 2],
    ['SKB_DROP_REASON_NO_SOCKET', 3],
    ['SKB_DROP_REASON_NETFILTER_DROP', 12],
  ].map(([name, v]) => ({ name: name as string, value: BigInt(v as number) })),
});

function drop(reason: number, dir: number): Flow {
  const e: DropEvent = {
    tsMonoNs: 1n,
    reason,
    skbLen: 60,
    packets: 1,
    bytes: 60,
    source: '10.250.0.1',
    destination: '10.250.0.2',
    sport: 40000,
    dport: 80,
    ipVersion: 4,
    l4proto: 6,
    dir,
    ifindex: 1,
    netns: 1,
  };
  return dropFlow(e, { catalog, nodeName: NODE, monoToEpochNs: 0n });
}

const structType = hubbleTypes().struct;

/** The fields a Hubble client reads, with the trace point name `hubble observe` prints for trace events. */
function seen(flow: Flow): Record<string, unknown> {
  const pb = toPbFlow(flow, { nodeName: NODE, structType });
  const type = pb.event_type?.type;
  const sub = pb.event_type?.sub_type ?? 0;
  return {
    point: pb.trace_observation_point ?? 0,
    type,
    sub,
    ...(type === 4 ? { printed: TRACE_POINT_NAMES[sub] } : {}),
    verdict: pb.verdict,
    direction: pb.traffic_direction,
    reply: pb.is_reply?.value,
    ...(pb.drop_reason_desc !== undefined ? { dropReason: pb.drop_reason_desc } : {}),
  };
}

// Numbers as flow.proto and Cilium's monitor API define them. Observation points: TO_STACK 3, TO_ENDPOINT 101,
// FROM_NETWORK 10, TO_NETWORK 11. Event types: DROP 1, TRACE 4, L7 129. Verdicts: FORWARDED 1, DROPPED 2,
// RETRANSMISSION 15 (Retina's). Directions: INGRESS 1, EGRESS 2. Drop reasons: POLICY_DENIED 133,
// DROP_REASON_UNKNOWN 0.
const ROWS: Array<[string, () => Flow, Record<string, unknown>]> = [
  [
    'packetparser FROM_ENDPOINT (leaving a pod) → TO_STACK / to-stack',
    () => packet(ObservationPoint.FROM_ENDPOINT, TrafficDirection.EGRESS, false),
    { point: 3, type: 4, sub: 3, printed: 'to-stack', verdict: 1, direction: 2, reply: false },
  ],
  [
    'packetparser TO_ENDPOINT (entering a pod) → TO_ENDPOINT / to-endpoint (TraceToLxc)',
    () => packet(ObservationPoint.TO_ENDPOINT, TrafficDirection.EGRESS, false),
    { point: 101, type: 4, sub: 0, printed: 'to-endpoint', verdict: 1, direction: 2, reply: false },
  ],
  [
    'packetparser FROM_NETWORK → FROM_NETWORK / from-network',
    () => packet(ObservationPoint.FROM_NETWORK, TrafficDirection.INGRESS, false),
    { point: 10, type: 4, sub: 10, printed: 'from-network', verdict: 1, direction: 1, reply: false },
  ],
  [
    'packetparser TO_NETWORK, a reply of an ingress connection → TO_NETWORK / to-network, direction kept',
    () => packet(ObservationPoint.TO_NETWORK, TrafficDirection.INGRESS, true),
    { point: 11, type: 4, sub: 11, printed: 'to-network', verdict: 1, direction: 1, reply: true },
  ],
  [
    'tcpretrans → TO_STACK / to-stack, RETRANSMISSION, EGRESS',
    retrans,
    { point: 3, type: 4, sub: 3, printed: 'to-stack', verdict: 15, direction: 2, reply: false },
  ],
  [
    'dns query → L7, TO_NETWORK, EGRESS, not a reply',
    () => dns(false),
    { point: 11, type: 129, sub: 0, verdict: 1, direction: 2, reply: false },
  ],
  [
    'dns response → L7, FROM_NETWORK, INGRESS, reply',
    () => dns(true),
    { point: 10, type: 129, sub: 0, verdict: 1, direction: 1, reply: true },
  ],
  [
    'dropreason netfilter drop (IPTABLE_RULE_DROP) on ingress → DROP / POLICY_DENIED',
    () => drop(12, 0),
    { point: 10, type: 1, sub: 133, verdict: 2, direction: 1, reply: undefined, dropReason: 133 },
  ],
  [
    'dropreason NO_SOCKET on egress → DROP / DROP_REASON_UNKNOWN',
    () => drop(3, 1),
    { point: 11, type: 1, sub: 0, verdict: 2, direction: 2, reply: undefined, dropReason: 0 },
  ],
];

describe('flow fields as Retina sets them', () => {
  it.each(ROWS)('%s', (_name, make, expected) => {
    expect(seen(make())).toEqual(expected);
  });

  it('names every Cilium trace sub type as Hubble prints it', () => {
    expect(TRACE_POINT_NAMES.slice(0, 4)).toEqual(['to-endpoint', 'to-proxy', 'to-host', 'to-stack']);
    expect(TRACE_POINT_NAMES[10]).toBe('from-network');
    expect(TRACE_POINT_NAMES[11]).toBe('to-network');
  });

  it('keeps Retina\'s extension keys in a google.protobuf.Struct', () => {
    const pb = toPbFlow(drop(12, 0), { nodeName: NODE, structType });
    expect(pb.extensions?.type_url).toBe(STRUCT_TYPE_URL);
    const ext = structType.toObject(structType.decode(pb.extensions!.value), { json: true }) as {
      fields: Record<string, Record<string, unknown>>;
    };
    expect(ext.fields['drop_reason']).toEqual({ stringValue: 'IPTABLE_RULE_DROP' });
    expect(ext.fields['bytes']).toEqual({ numberValue: 60 });
  });
});
