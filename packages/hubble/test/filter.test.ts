import { describe, expect, it } from 'vitest';
import { DropReasonDesc, TrafficDirection, Verdict, IpVersion } from '@retina-ts/core';
import {
  FilterError,
  compileFilterLists,
  compileFlowFilter,
  parseSelector,
  selectorMatches,
  parseLabel,
} from '../src/index.js';
import type { FlowFilterInput, PbFlow } from '../src/index.js';
import type { Flow } from '@retina-ts/core';
import { dnsRequestFlow, pbFlow, tcpFlow } from './helpers.js';

const pb = (overrides: Partial<Flow> = {}): PbFlow => pbFlow(tcpFlow(0, overrides));
const matches = (filter: FlowFilterInput, flow: PbFlow) => compileFlowFilter(filter)(flow);

const web = pb();
const dnsFlow = pbFlow(dnsRequestFlow(0, 'api.cilium.io.', { destinationNames: ['api.cilium.io'] }));
const drop = pb({
  verdict: Verdict.DROPPED,
  dropReasonDesc: DropReasonDesc.POLICY_DENIED,
  eventType: { type: 1, subType: 133 },
});
const v6 = pb({ ip: { source: 'fd00:20::1', destination: 'fd00:20::2', ipVersion: IpVersion.IPv6 } });

describe('compileFlowFilter', () => {
  it('matches pods by [namespace/]name-prefix, a bare value meaning namespace default', () => {
    expect(matches({ source_pod: ['shop/web-'] }, web)).toBe(true);
    expect(matches({ source_pod: ['shop/'] }, web)).toBe(true);
    expect(matches({ source_pod: ['shop/db'] }, web)).toBe(false);
    expect(matches({ source_pod: ['web'] }, web)).toBe(false); // means default/web
    expect(matches({ destination_pod: ['shop/db-0', 'x/y'] }, web)).toBe(true);
    expect(matches({ source_pod: ['shop/'] }, pb({ source: undefined }))).toBe(false);
    expect(() => compileFlowFilter({ source_pod: [''] })).toThrow(FilterError);
  });

  it('treats a namespace as the pod filter value "ns/" (how the CLI sends --namespace)', () => {
    const f = compileFilterLists([{ source_pod: ['shop/'] }, { destination_pod: ['shop/'] }], []);
    expect(f(web)).toBe(true);
    expect(f(pb({ source: { namespace: 'other' }, destination: { namespace: 'kube-system' } }))).toBe(false);
  });

  it.each<[FlowFilterInput, 'web' | 'v6', boolean]>([
    [{ source_ip: ['10.201.0.1'] }, 'web', true],
    [{ source_ip: ['10.201.0.0/16'] }, 'web', true],
    [{ destination_ip: ['10.201.0.1'] }, 'web', false],
    [{ source_ip: ['fd00:20::/64'] }, 'v6', true],
    [{ source_ip: ['fd00:20:0::1'] }, 'v6', true],
    [{ source_ip: ['fd00:21::/64'] }, 'v6', false],
    [{ source_label: ['app=web'] }, 'web', true],
    [{ source_label: ['k8s:app=web'] }, 'web', true],
    [{ source_label: ['reserved:app=web'] }, 'web', false],
    [{ source_label: ['app in (db, web)'] }, 'web', true],
    [{ source_label: ['app notin (web)'] }, 'web', false],
    [{ source_label: ['!tier'] }, 'web', true],
    [{ source_label: ['app'] }, 'web', true],
    [{ source_label: ['app!=web'] }, 'web', false],
    [{ destination_label: ['app=web', 'app=db'] }, 'web', true],
  ])('matches IPs exactly or by CIDR (IPv4 and IPv6) and label selectors against Hubble labels: %j on %s is %s', (filter, flow, expected) => {
    expect(matches(filter, { web, v6 }[flow])).toBe(expected);
  });

  it('rejects bad IPs and label selectors', () => {
    expect(() => compileFlowFilter({ source_ip: ['10.0.0.0/33'] })).toThrow(
      /source_ip: "10.0.0.0\/33" has an invalid prefix/,
    );
    expect(() => compileFlowFilter({ destination_ip: ['not-an-ip'] })).toThrow(/destination_ip/);
    expect(() => compileFlowFilter({ source_label: ['app in (a'] })).toThrow(/missing "\)"/);
  });

  const icmp4 = pb({ l4: { icmpv4: { type: 8, code: 0 } } });
  const icmp6 = pb({
    ip: { source: 'fd00:20::1', destination: 'fd00:20::2', ipVersion: IpVersion.IPv6 },
    l4: { icmpv6: { type: 128, code: 0 } },
  });
  const sctp = pb({ l4: { sctp: { sourcePort: 1, destinationPort: 2 } } });
  it.each([
    ['a TCP flow', web, ['tcp']],
    ['a DNS flow over UDP', dnsFlow, ['udp', 'dns']],
    ['an SCTP flow', sctp, ['sctp']],
    ['an ICMPv4 flow', icmp4, ['icmp', 'icmpv4']],
    ['an ICMPv6 flow', icmp6, ['icmp', 'icmpv6']],
  ] as const)('protocol: %s matches exactly %j', (_, flow, expected) => {
    const every = ['tcp', 'udp', 'sctp', 'icmp', 'icmpv4', 'icmpv6', 'vrrp', 'igmp', 'dns', 'http', 'kafka'];
    expect(every.filter((protocol) => matches({ protocol: [protocol] }, flow))).toEqual(expected);
  });

  it('matches namespaces, ports, protocols, verdicts, event types, directions and TCP flags', () => {
    expect(matches({ destination_port: ['80'] }, web)).toBe(true);
    expect(matches({ source_port: ['80'] }, web)).toBe(false);
    expect(() => compileFlowFilter({ source_port: ['http'] })).toThrow(/not a port number/);
    expect(matches({ protocol: ['TCP'] }, web)).toBe(true);
    expect(matches({ protocol: ['udp'] }, web)).toBe(false);
    expect(matches({ protocol: ['dns'] }, dnsFlow)).toBe(true);
    expect(matches({ protocol: ['udp'] }, dnsFlow)).toBe(true);
    expect(() => compileFlowFilter({ protocol: ['quic'] })).toThrow(/unknown protocol "quic"/);
    expect(matches({ verdict: [2] }, drop)).toBe(true);
    expect(matches({ verdict: [1] }, drop)).toBe(false);
    expect(matches({ drop_reason_desc: [133] }, drop)).toBe(true);
    expect(matches({ event_type: [{ type: 1 }] }, drop)).toBe(true);
    expect(matches({ event_type: [{ type: 4, match_sub_type: true, sub_type: 3 }] }, web)).toBe(true);
    expect(matches({ event_type: [{ type: 4, match_sub_type: true, sub_type: 0 }] }, web)).toBe(false);
    expect(matches({ traffic_direction: [TrafficDirection.EGRESS] }, web)).toBe(true);
    expect(matches({ traffic_direction: [TrafficDirection.INGRESS] }, web)).toBe(false);
    const synAck = pb({
      l4: { tcp: { sourcePort: 80, destinationPort: 40000, flags: { SYN: true, ACK: true } } },
    });
    expect(matches({ tcp_flags: [{ SYN: true }] }, synAck)).toBe(true);
    expect(matches({ tcp_flags: [{ SYN: true, ACK: true }] }, web)).toBe(false);
    expect(matches({ tcp_flags: [{ FIN: true }, { SYN: true }] }, web)).toBe(true);
  });

  it('matches DNS queries by regexp and FQDNs by pattern', () => {
    expect(matches({ dns_query: ['cilium\\.io'] }, dnsFlow)).toBe(true);
    expect(matches({ dns_query: ['^kube'] }, dnsFlow)).toBe(false);
    expect(matches({ dns_query: ['.*'] }, web)).toBe(false);
    expect(() => compileFlowFilter({ dns_query: ['(('] })).toThrow(/dns_query/);
    expect(matches({ destination_fqdn: ['*.cilium.io'] }, dnsFlow)).toBe(true);
    expect(matches({ destination_fqdn: ['API.CILIUM.IO.'] }, dnsFlow)).toBe(true);
    expect(matches({ destination_fqdn: ['*.example.com'] }, dnsFlow)).toBe(false);
    expect(() => compileFlowFilter({ source_fqdn: ['a..'] })).toThrow(/trailing dot/);
  });

  it('matches node names with optional cluster and wildcards', () => {
    expect(matches({ node_name: ['node-a'] }, web)).toBe(true);
    expect(matches({ node_name: ['node-*'] }, web)).toBe(true);
    expect(matches({ node_name: ['default/node-a'] }, web)).toBe(true);
    expect(matches({ node_name: ['prod/'] }, web)).toBe(false);
    expect(matches({ node_name: ['prod/'] }, pb({ nodeName: 'prod/node-a' }))).toBe(true);
    expect(() => compileFlowFilter({ node_name: ['a/b/c'] })).toThrow(/more than one/);
  });

  it('ANDs fields within a filter and ORs values within a field', () => {
    expect(matches({ source_pod: ['shop/web'], destination_port: ['80'], verdict: [1] }, web)).toBe(true);
    expect(matches({ source_pod: ['shop/web'], destination_port: ['443'] }, web)).toBe(false);
    expect(matches({ destination_port: ['443', '80'] }, web)).toBe(true);
  });

  it('matches workloads, identities, uuids, IP versions and reply', () => {
    expect(matches({ source_workload: [{ name: 'web' }] }, web)).toBe(true);
    expect(matches({ source_workload: [{ kind: 'StatefulSet' }] }, web)).toBe(false);
    expect(matches({ source_identity: [0] }, web)).toBe(true);
    expect(matches({ uuid: [web.uuid] }, web)).toBe(true);
    expect(matches({ ip_version: [2] }, v6)).toBe(true);
    expect(matches({ ip_version: [2] }, web)).toBe(false);
    expect(matches({ reply: [false] }, web)).toBe(true);
    expect(matches({ reply: [true] }, web)).toBe(false);
  });

  it('validates HTTP filters and matches nothing with them (flows carry no HTTP)', () => {
    expect(matches({ http_status_code: ['4+'] }, web)).toBe(false);
    expect(() => compileFlowFilter({ http_status_code: ['4xx'] })).toThrow(/invalid status code prefix/);
    expect(() => compileFlowFilter({ http_status_code: ['404'], event_type: [{ type: 4 }] })).toThrow(/l7/);
    expect(matches({ http_method: ['GET'] }, web)).toBe(false);
  });

  it('refuses CEL expressions as unimplemented', () => {
    try {
      compileFlowFilter({ experimental: { cel_expression: ['true'] } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(FilterError);
      expect((err as FilterError).kind).toBe('unimplemented');
    }
  });
});

describe('compileFilterLists', () => {
  it('passes a flow iff the allow-list is empty or matches, and the deny-list does not', () => {
    expect(compileFilterLists([], [])(web)).toBe(true);
    expect(compileFilterLists([{ verdict: [2] }], [])(web)).toBe(false);
    expect(compileFilterLists([{ verdict: [2] }, { verdict: [1] }], [])(web)).toBe(true);
    expect(compileFilterLists([{ verdict: [1] }], [{ destination_port: ['80'] }])(web)).toBe(false);
    expect(compileFilterLists(null, [{ destination_port: ['443'] }])(web)).toBe(true);
  });

  it('names the list and index of a bad filter', () => {
    expect(() => compileFilterLists([{}, { source_ip: ['x'] }], [])).toThrow(/^whitelist\[1\]\.source_ip/);
    expect(() => compileFilterLists([], [{ protocol: ['x'] }])).toThrow(/^blacklist\[0\]\.protocol/);
  });
});

describe('label selectors', () => {
  it('parses requirements and their sources', () => {
    expect(parseSelector('k8s:app=web, tier in (a,b),!x')).toEqual([
      { source: 'k8s', key: 'app', op: 'in', values: ['web'] },
      { source: 'any', key: 'tier', op: 'in', values: ['a', 'b'] },
      { source: 'any', key: 'x', op: 'notExists', values: [] },
    ]);
    expect(parseLabel('k8s:io.kubernetes.pod.namespace=shop')).toEqual({
      source: 'k8s',
      key: 'io.kubernetes.pod.namespace',
      value: 'shop',
    });
    expect(parseLabel('app=web')).toEqual({ source: 'unspec', key: 'app', value: 'web' });
  });

  it('supports numeric comparisons', () => {
    const labels = [parseLabel('k8s:replicas=3')];
    expect(selectorMatches(parseSelector('replicas>2'), labels)).toBe(true);
    expect(selectorMatches(parseSelector('replicas<3'), labels)).toBe(false);
    expect(() => parseSelector('replicas>x')).toThrow(/integer/);
  });

  it('rejects malformed selectors with the selector named', () => {
    expect(() => parseSelector('')).toThrow(/empty/);
    expect(() => parseSelector('a ~ b')).toThrow(/unknown operator/);
    expect(() => parseSelector('=x')).toThrow(/no key/);
  });
});
