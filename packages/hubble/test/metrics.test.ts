import { describe, expect, it } from 'vitest';
import { DropReasonDesc, FlowType, L7FlowType, TrafficDirection, Verdict, IpVersion } from '@retina-ts/core';
import type { Flow } from '@retina-ts/core';
import { MetricsConfigError, parseMetricsConfig, splitMetricsList } from '../src/index.js';
import type { HubbleMetrics } from '../src/index.js';
import { dnsRequestFlow, hubbleMetricsFor, pbFlow, tcpFlow } from './helpers.js';

const pb = (overrides: Partial<Flow> = {}) => pbFlow(tcpFlow(0, overrides));

const metricsFor = (specs: string[], openMetrics = false) => hubbleMetricsFor(specs, { openMetrics });

/** The sample lines of the exposition (no comments, no blank lines). */
async function samples(m: HubbleMetrics): Promise<string[]> {
  const { body } = await m.expose();
  return body.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}

const RETINA_CTX = 'sourceEgressContext=pod;destinationIngressContext=pod';
const egress = pb({ trafficDirection: TrafficDirection.EGRESS });
const ingress = pb({
  trafficDirection: TrafficDirection.INGRESS,
  isReply: true,
  l4: { tcp: { sourcePort: 80, destinationPort: 40000, flags: { SYN: true, ACK: true } } },
});
const dropped = pb({
  verdict: Verdict.DROPPED,
  dropReasonDesc: DropReasonDesc.POLICY_DENIED,
  eventType: { type: 1, subType: 133 },
  trafficDirection: TrafficDirection.INGRESS,
  isReply: undefined,
});
const dnsBase: Partial<Flow> = {
  verdict: Verdict.DNS,
  type: FlowType.L7,
  eventType: { type: 129, subType: 0 },
  l4: { udp: { sourcePort: 33000, destinationPort: 53 } },
  trafficDirection: TrafficDirection.EGRESS,
};
const dnsQuery = pbFlow(dnsRequestFlow(0, 'example.com.'));
const dnsAnswer = pb({
  ...dnsBase,
  isReply: true,
  l7: {
    type: L7FlowType.RESPONSE,
    dns: {
      query: 'example.com.',
      ips: ['93.184.216.34', '93.184.216.35'],
      ttl: 30,
      rcode: 0,
      qtypes: ['A'],
      rrtypes: ['A', 'CNAME'],
    },
  },
});
const nxdomain = pb({
  ...dnsBase,
  isReply: true,
  l7: {
    type: L7FlowType.RESPONSE,
    dns: { query: 'nope.example.', ips: [], ttl: 0, rcode: 3, qtypes: ['AAAA'], rrtypes: [] },
  },
});
const icmp6 = pb({
  ip: { source: 'fd00:20::1', destination: 'fd00:20::2', ipVersion: IpVersion.IPv6 },
  l4: { icmpv6: { type: 128, code: 0 } },
});

describe('hubble_* metrics', () => {
  it('flow: hubble_flows_processed_total with Retina’s directed pod context', async () => {
    const m = metricsFor([`flow:${RETINA_CTX}`]);
    for (const f of [egress, ingress, dropped, dnsQuery]) m.process(f);
    expect(await samples(m)).toEqual([
      'hubble_flows_processed_total{protocol="TCP",type="Trace",subtype="to-stack",verdict="FORWARDED",source="shop/web-7c9f-abcde",destination=""} 1',
      'hubble_flows_processed_total{protocol="TCP",type="Trace",subtype="to-stack",verdict="FORWARDED",source="",destination="shop/db-0"} 1',
      'hubble_flows_processed_total{protocol="TCP",type="Drop",subtype="",verdict="DROPPED",source="",destination="shop/db-0"} 1',
      'hubble_flows_processed_total{protocol="DNS",type="L7",subtype="DNS",verdict="FORWARDED",source="shop/web-7c9f-abcde",destination=""} 1',
    ]);
  });

  it('drop: hubble_drop_total with reason name and protocol', async () => {
    const m = metricsFor(['drop:sourceContext=namespace;destinationContext=pod-name']);
    m.process(egress);
    m.process(dropped);
    expect(await samples(m)).toEqual([
      'hubble_drop_total{source="shop",destination="db-0",reason="POLICY_DENIED",protocol="TCP"} 1',
    ]);
  });

  it('tcp: hubble_tcp_flags_total counts SYN, SYN-ACK, FIN and RST of forwarded flows', async () => {
    const m = metricsFor(['tcp']);
    m.process(egress);
    m.process(ingress);
    m.process(
      pb({ l4: { tcp: { sourcePort: 1, destinationPort: 2, flags: { FIN: true, RST: true, ACK: true } } } }),
    );
    m.process(dropped);
    expect(await samples(m)).toEqual([
      'hubble_tcp_flags_total{flag="SYN",family="IPv4"} 1',
      'hubble_tcp_flags_total{flag="SYN-ACK",family="IPv4"} 1',
      'hubble_tcp_flags_total{flag="FIN",family="IPv4"} 1',
      'hubble_tcp_flags_total{flag="RST",family="IPv4"} 1',
    ]);
  });

  it('dns: queries, responses and response types, with the query label', async () => {
    const m = metricsFor([`dns:query;${RETINA_CTX}`]);
    for (const f of [dnsQuery, dnsAnswer, nxdomain]) m.process(f);
    expect(await samples(m)).toEqual(
      [
        'hubble_dns_queries_total{source="shop/web-7c9f-abcde",rcode="",qtypes="A",ips_returned="0",query="example.com."} 1',
        'hubble_dns_responses_total{source="shop/web-7c9f-abcde",rcode="No Error",qtypes="A",ips_returned="2",query="example.com."} 1',
        'hubble_dns_responses_total{source="shop/web-7c9f-abcde",rcode="Non-Existent Domain",qtypes="AAAA",ips_returned="0",query="nope.example."} 1',
        'hubble_dns_response_types_total{source="shop/web-7c9f-abcde",type="A",qtypes="A",query="example.com."} 1',
        'hubble_dns_response_types_total{source="shop/web-7c9f-abcde",type="CNAME",qtypes="A",query="example.com."} 1',
      ].map((l) =>
        l.replace(/source="shop\/web-7c9f-abcde",/, 'source="shop/web-7c9f-abcde",destination="",'),
      ),
    );
  });

  it('dns: ignoreAAAA skips AAAA-only flows, and a dropped query counts as "Policy denied"', async () => {
    const m = metricsFor(['dns:ignoreAAAA']);
    m.process(nxdomain);
    m.process(
      pb({
        ...dnsBase,
        verdict: Verdict.DROPPED,
        l7: {
          type: L7FlowType.REQUEST,
          dns: { query: 'x.', ips: [], ttl: 0, rcode: 0, qtypes: ['A'], rrtypes: [] },
        },
      }),
    );
    expect(await samples(m)).toEqual([
      'hubble_dns_queries_total{rcode="Policy denied",qtypes="A",ips_returned="0"} 1',
    ]);
  });

  it('port-distribution: destination ports of forwarded non-reply flows only', async () => {
    const m = metricsFor(['port-distribution:labelsContext=source_namespace,traffic_direction']);
    m.process(egress);
    m.process(ingress);
    m.process(pb({ isReply: undefined }));
    m.process(icmp6);
    expect(await samples(m)).toEqual([
      'hubble_port_distribution_total{protocol="TCP",port="80",source_namespace="shop",traffic_direction="egress"} 1',
      'hubble_port_distribution_total{protocol="ICMPv6",port="0",source_namespace="shop",traffic_direction="egress"} 1',
    ]);
  });

  it('icmp: gopacket type names, family IPv4 for ICMPv6 as upstream does', async () => {
    const m = metricsFor(['icmp:sourceContext=ip|pod']);
    m.process(icmp6);
    m.process(pb({ l4: { icmpv4: { type: 3, code: 3 } } }));
    expect(await samples(m)).toEqual([
      'hubble_icmp_total{family="IPv4",type="EchoRequest",source="fd00:20::1"} 1',
      'hubble_icmp_total{family="IPv4",type="DestinationUnreachable(Port)",source="10.201.0.1"} 1',
    ]);
  });

  it('lost events by source, and context identifiers app, workload, dns, reserved-identity', async () => {
    const m = metricsFor(['flow:sourceContext=app;destinationContext=workload|dns|reserved-identity']);
    m.lost('hubble_ring_buffer', 3);
    m.lost('observer_events_queue', 1);
    m.process(pb({ destination: { labels: ['reserved:world'] }, destinationNames: [] }));
    expect(await samples(m)).toEqual([
      'hubble_flows_processed_total{protocol="TCP",type="Trace",subtype="to-stack",verdict="FORWARDED",source="web",destination="reserved:world"} 1',
      'hubble_lost_events_total{source="hubble_ring_buffer"} 3',
      'hubble_lost_events_total{source="observer_events_queue"} 1',
    ]);
  });

  it('exposes OpenMetrics when asked', async () => {
    const m = metricsFor(['flow'], true);
    m.process(egress);
    const { contentType, body } = await m.expose();
    expect(contentType).toMatch(/application\/openmetrics-text/);
    expect(body).toContain('hubble_flows_processed_total{protocol="TCP"');
  });
});

describe('metric specs', () => {
  it('parse Retina’s defaults', () => {
    const { handlers, warnings } = parseMetricsConfig(
      splitMetricsList(`flow:${RETINA_CTX} tcp:${RETINA_CTX}\n dns:query;${RETINA_CTX} drop:${RETINA_CTX}`),
    );
    expect(handlers.map((h) => h.name)).toEqual(['flow', 'tcp', 'dns', 'drop']);
    expect(handlers[2]?.query).toBe(true);
    expect(handlers[0]?.context.sourceEgress).toEqual(['pod']);
    expect(warnings).toEqual([]);
  });

  it('refuse unknown metrics, options and contexts; skip unsupported Hubble handlers with a warning', () => {
    expect(() => parseMetricsConfig(['bogus'])).toThrow(MetricsConfigError);
    expect(() => parseMetricsConfig(['flow:sourceContext=pods'])).toThrow(/unknown context "pods"/);
    expect(() => parseMetricsConfig(['flow:colour=red'])).toThrow(/unknown option "colour"/);
    expect(() => parseMetricsConfig(['flow:labelsContext=source_planet'])).toThrow(/invalid label/);
    expect(() => parseMetricsConfig(['flow', 'flow'])).toThrow(/configured twice/);
    const { handlers, warnings } = parseMetricsConfig(['httpV2:exemplars=true', 'icmp']);
    expect(handlers.map((h) => h.name)).toEqual(['icmp']);
    expect(warnings[0]).toMatch(/httpV2/);
  });
});
