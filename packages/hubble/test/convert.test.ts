import { describe, expect, it } from 'vitest';
import { DropReasonDesc, FlowType, L7FlowType, TrafficDirection, Verdict } from '@retina-ts/core';
import { STRUCT_TYPE_URL, absoluteNodeName, hubbleLabel, hubbleTypes, toPbFlow } from '../src/index.js';
import type { ConvertOptions } from '../src/index.js';
import { dnsRequestFlow, tcpFlow } from './helpers.js';

const types = hubbleTypes();
const options: ConvertOptions = { nodeName: 'fallback-node', structType: types.struct };

describe('toPbFlow', () => {
  it('fills the fields the hubble CLI prints, with proto field names', () => {
    const pb = toPbFlow(tcpFlow(1, { uuid: 'u-1' }), options);
    expect(pb).toMatchObject({
      time: { seconds: 1_700_000_001, nanos: 0 },
      uuid: 'u-1',
      verdict: 1,
      Type: 1,
      node_name: 'node-a',
      IP: { source: '10.201.0.1', destination: '10.201.0.2', ipVersion: 1 },
      l4: { TCP: { destination_port: 80, flags: { SYN: true } } },
      source: {
        namespace: 'shop',
        pod_name: 'web-7c9f-abcde',
        labels: ['k8s:app=web'],
        workloads: [{ name: 'web', kind: 'Deployment' }],
      },
      traffic_direction: TrafficDirection.EGRESS,
      trace_observation_point: 3,
      event_type: { type: 4, sub_type: 3 },
      is_reply: { value: false },
      reply: false,
      Summary: 'TCP Flags: SYN',
    });
    expect(pb.extensions).toBeUndefined();
  });

  it('generates a UUID when the flow has none, and keeps nanosecond time', () => {
    const pb = toPbFlow(tcpFlow(0, { timeNs: 1_700_000_000_123_456_789n }), options);
    expect(pb.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(pb.time).toEqual({ seconds: 1_700_000_000, nanos: 123_456_789 });
  });

  it('maps Retina verdict DNS to FORWARDED and keeps RETRANSMISSION as its number', () => {
    expect(toPbFlow(tcpFlow(0, { verdict: Verdict.DNS }), options).verdict).toBe(1);
    expect(toPbFlow(tcpFlow(0, { verdict: Verdict.RETRANSMISSION }), options).verdict).toBe(15);
  });

  it('derives the event type when the flow has none', () => {
    const drop = toPbFlow(
      tcpFlow(0, {
        verdict: Verdict.DROPPED,
        dropReasonDesc: DropReasonDesc.POLICY_DENIED,
        eventType: undefined,
      }),
      options,
    );
    expect(drop.event_type).toEqual({ type: 1, sub_type: 133 });
    expect(drop.drop_reason_desc).toBe(133);
    expect(drop.drop_reason).toBe(133);
    const toEndpoint = toPbFlow(tcpFlow(0, { eventType: undefined, traceObservationPoint: 101 }), options);
    expect(toEndpoint.event_type).toEqual({ type: 4, sub_type: 0 });
    const l7 = toPbFlow(tcpFlow(0, { eventType: undefined, type: FlowType.L7 }), options);
    expect(l7.event_type).toEqual({ type: 129, sub_type: 0 });
  });

  it('uses the server node name when the flow has none, with the cluster prefix like Cilium', () => {
    expect(toPbFlow(tcpFlow(0, { nodeName: '' }), options).node_name).toBe('fallback-node');
    expect(toPbFlow(tcpFlow(0), { ...options, clusterName: 'prod' }).node_name).toBe('prod/node-a');
    expect(toPbFlow(tcpFlow(0), { ...options, clusterName: 'default' }).node_name).toBe('node-a');
    expect(absoluteNodeName('n1', '')).toBe('n1');
  });

  it('gives labels Hubble’s source prefix only when they have none', () => {
    expect(hubbleLabel('app=web')).toBe('k8s:app=web');
    expect(hubbleLabel('app.kubernetes.io/name=web')).toBe('k8s:app.kubernetes.io/name=web');
    expect(hubbleLabel('k8s:app=web')).toBe('k8s:app=web');
    expect(hubbleLabel('reserved:world')).toBe('reserved:world');
  });

  it('packs Retina extensions as a google.protobuf.Struct inside Any, with only the keys that are set', () => {
    const pb = toPbFlow(
      tcpFlow(0, {
        extensions: {
          bytes: 1500,
          tcpId: 0,
          numResponses: 0,
          dropReason: 'IPTABLE_RULE_DROP',
          dnsType: 'QUERY',
          previouslyObservedPackets: 3,
          previouslyObservedBytes: 0,
          previouslyObservedTcpFlags: { SYN: 2, ACK: 0 },
          sourceZone: 'zone-1',
          destinationZone: 'unknown',
        },
      }),
      options,
    );
    expect(pb.extensions?.type_url).toBe(STRUCT_TYPE_URL);
    const decoded = types.struct.toObject(types.struct.decode(pb.extensions?.value as Uint8Array)) as {
      fields: Record<string, Record<string, unknown>>;
    };
    expect(Object.keys(decoded.fields).sort()).toEqual(
      [
        'bytes',
        'destination_zone',
        'dns_type',
        'drop_reason',
        'previously_observed_packets',
        'previously_observed_tcp_flags',
        'source_zone',
      ].sort(),
    );
    expect(decoded.fields.bytes).toEqual({ numberValue: 1500 });
    expect(decoded.fields.drop_reason).toEqual({ stringValue: 'IPTABLE_RULE_DROP' });
    expect(decoded.fields.previously_observed_tcp_flags).toEqual({
      structValue: { fields: { SYN: { numberValue: 2 }, ACK: { numberValue: 0 } } },
    });
  });

  it('writes DNS records and summaries like Hubble', () => {
    const query = toPbFlow(
      dnsRequestFlow(0, 'example.com.', { l4: { udp: { sourcePort: 5353, destinationPort: 53 } } }),
      options,
    );
    expect(query.l7?.dns).toMatchObject({ query: 'example.com.', qtypes: ['A'] });
    expect(query.Summary).toBe('DNS Query example.com. A');
    const answer = toPbFlow(
      tcpFlow(0, {
        verdict: Verdict.DNS,
        isReply: true,
        l7: {
          type: L7FlowType.RESPONSE,
          dns: {
            query: 'example.com.',
            ips: ['93.184.216.34'],
            ttl: 30,
            rcode: 0,
            qtypes: ['A'],
            rrtypes: ['A'],
          },
        },
      }),
      options,
    );
    expect(answer.Summary).toBe('DNS Answer "93.184.216.34" RCode: No Error (Query example.com. A)');
    const udp = toPbFlow(tcpFlow(0, { l4: { udp: { sourcePort: 1, destinationPort: 2 } } }), options);
    expect(udp.Summary).toBe('UDP');
    const icmp = toPbFlow(tcpFlow(0, { l4: { icmpv4: { type: 3, code: 3 } } }), options);
    expect(icmp.Summary).toBe('ICMPv4 DestinationUnreachable(Port)');
    const drop = toPbFlow(
      tcpFlow(0, { verdict: Verdict.DROPPED, extensions: { dropReason: 'IPTABLE_RULE_DROP' } }),
      options,
    );
    expect(drop.Summary).toBe('Drop Reason: IPTABLE_RULE_DROP');
  });

  it('encodes with the package protos', () => {
    const pb = toPbFlow(tcpFlow(0), options);
    const bytes = types.flow.encode(pb).finish();
    const back = types.flow.toObject(types.flow.decode(bytes), { longs: Number }) as Record<string, unknown>;
    expect(back.node_name).toBe('node-a');
    expect(back.Summary).toBe('TCP Flags: SYN');
  });
});
