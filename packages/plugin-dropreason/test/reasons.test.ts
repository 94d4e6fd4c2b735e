import { DropReasonDesc } from '@retina-ts/core';
import { describe, expect, it } from 'vitest';
import type { BtfEnum } from '@retina-ts/bpf-runtime';
import {
  DropReasonCatalog,
  dropReasonDesc,
  RETINA_REASON_MAP,
  shortReasonName,
  UNKNOWN_DROP,
} from '../src/reasons.js';

function btfEnum(name: string, members: Array<[string, number]>): BtfEnum {
  return {
    name,
    typeId: 1,
    size: 4,
    signed: false,
    members: members.map(([n, v]) => ({ name: n, value: BigInt(v) })),
  };
}

/** The start and end of a 6.18 enum, plus a reason a future kernel might add. */
const reasons = btfEnum('skb_drop_reason', [
  ['SKB_NOT_DROPPED_YET', 0],
  ['SKB_CONSUMED', 1],
  ['SKB_DROP_REASON_NOT_SPECIFIED', 2],
  ['SKB_DROP_REASON_NO_SOCKET', 3],
  ['SKB_DROP_REASON_NETFILTER_DROP', 12],
  ['SKB_DROP_REASON_IP_RPFILTER', 16],
  ['SKB_DROP_REASON_RECURSION_LIMIT', 127],
  ['SKB_DROP_REASON_FUTURE_THING', 128],
  ['SKB_DROP_REASON_MAX', 129],
  ['SKB_DROP_REASON_SUBSYS_MASK', 0xffff0000],
]);
const subsys = btfEnum('skb_drop_reason_subsys', [
  ['SKB_DROP_REASON_SUBSYS_CORE', 0],
  ['SKB_DROP_REASON_SUBSYS_MAC80211_UNUSABLE', 1],
  ['SKB_DROP_REASON_SUBSYS_OPENVSWITCH', 2],
  ['SKB_DROP_REASON_SUBSYS_NUM', 3],
]);

describe('shortReasonName', () => {
  it('strips the kernel prefixes', () => {
    expect(shortReasonName('SKB_DROP_REASON_NO_SOCKET')).toBe('NO_SOCKET');
    expect(shortReasonName('SKB_CONSUMED')).toBe('CONSUMED');
    expect(shortReasonName('OVS_DROP_FLOW')).toBe('OVS_DROP_FLOW');
  });
});

describe('DropReasonCatalog', () => {
  const catalog = DropReasonCatalog.fromBtf(reasons, subsys);

  it('maps a netfilter drop to Retina IPTABLE_RULE_DROP', () => {
    expect(catalog.kernelName(12)).toBe('NETFILTER_DROP');
    expect(catalog.label(12)).toBe('IPTABLE_RULE_DROP');
  });

  it('keeps every other kernel reason under its own name, including ones newer than this package', () => {
    expect(catalog.label(3)).toBe('NO_SOCKET');
    expect(catalog.label(16)).toBe('IP_RPFILTER');
    expect(catalog.label(127)).toBe('RECURSION_LIMIT');
    expect(catalog.label(128)).toBe('FUTURE_THING');
  });

  it('leaves the sentinels out and calls unnamed values UNKNOWN_DROP', () => {
    expect(catalog.kernelName(129)).toBeUndefined();
    expect(catalog.label(129)).toBe(UNKNOWN_DROP);
    expect(catalog.label(0xffff0000)).toBe(UNKNOWN_DROP);
    expect(catalog.label(77)).toBe(UNKNOWN_DROP);
    expect(catalog.size).toBe(8);
  });

  it('treats not-dropped-yet, consumed and not-specified as normal frees, by name', () => {
    expect(catalog.normalFreeValues).toEqual([0, 1, 2]);
    expect([0, 1, 2, 3, 12].map((v) => catalog.isNormalFree(v))).toEqual([true, true, true, false, false]);
    const shifted = DropReasonCatalog.fromBtf(
      btfEnum('skb_drop_reason', [
        ['SKB_CONSUMED', 5],
        ['SKB_NOT_DROPPED_YET', 4],
        ['SKB_DROP_REASON_NOT_SPECIFIED', 6],
      ]),
    );
    expect(shifted.normalFreeValues).toEqual([4, 5, 6]);
  });

  it('falls back to the historical values when a normal-free name is missing', () => {
    const old = DropReasonCatalog.fromBtf(
      btfEnum('skb_drop_reason', [
        ['SKB_DROP_REASON_NOT_SPECIFIED', 0],
        ['SKB_DROP_REASON_NO_SOCKET', 1],
      ]),
    );
    // 5.17 had no SKB_CONSUMED or SKB_NOT_DROPPED_YET; NOT_SPECIFIED was 0.
    expect(old.normalFreeValues).toEqual([0, 1, 0]);
  });

  it('names subsystem reasons from module enums, else subsystem plus code', () => {
    const c = DropReasonCatalog.fromBtf(reasons, subsys);
    const ovs = (2 << 16) | 3;
    expect(c.needsSubsystemName(ovs)).toBe(true);
    expect(c.label(ovs)).toBe('OPENVSWITCH_3');
    c.addSubsystemNames([
      { name: 'OVS_DROP_EXPLICIT', value: BigInt(ovs) },
      { name: 'NOT_A_SUBSYS_VALUE', value: 3n },
    ]);
    expect(c.needsSubsystemName(ovs)).toBe(false);
    expect(c.label(ovs)).toBe('OVS_DROP_EXPLICIT');
    expect(c.label(3)).toBe('NO_SOCKET');
    expect(c.label((9 << 16) | 1)).toBe(UNKNOWN_DROP);
    expect(c.needsSubsystemName(3)).toBe(false);
  });
});

describe('dropReasonDesc', () => {
  it('gives Hubble codes for Retina values, unknown for the rest', () => {
    expect(dropReasonDesc('IPTABLE_RULE_DROP')).toBe(DropReasonDesc.POLICY_DENIED);
    expect(dropReasonDesc('IPTABLE_NAT_DROP')).toBe(DropReasonDesc.SNAT_NO_MAP_FOUND);
    expect(dropReasonDesc('CONNTRACK_ADD_DROP')).toBe(DropReasonDesc.UNKNOWN_CONNECTION_TRACKING_STATE);
    expect(dropReasonDesc('NO_SOCKET')).toBe(DropReasonDesc.DROP_REASON_UNKNOWN);
  });
});

/** Every drop reason of Linux 6.18's `enum skb_drop_reason` (prefix stripped, normal frees and sentinels left out). */
const LINUX_6_18_REASONS = [
  'NO_SOCKET', 'SOCKET_CLOSE', 'SOCKET_FILTER', 'SOCKET_RCVBUFF', 'UNIX_DISCONNECT', 'UNIX_SKIP_OOB',
  'PKT_TOO_SMALL', 'TCP_CSUM', 'UDP_CSUM', 'NETFILTER_DROP', 'OTHERHOST', 'IP_CSUM', 'IP_INHDR', 'IP_RPFILTER',
  'UNICAST_IN_L2_MULTICAST', 'XFRM_POLICY', 'IP_NOPROTO', 'PROTO_MEM', 'TCP_AUTH_HDR', 'TCP_MD5NOTFOUND',
  'TCP_MD5UNEXPECTED', 'TCP_MD5FAILURE', 'TCP_AONOTFOUND', 'TCP_AOUNEXPECTED', 'TCP_AOKEYNOTFOUND',
  'TCP_AOFAILURE', 'SOCKET_BACKLOG', 'TCP_FLAGS', 'TCP_ABORT_ON_DATA', 'TCP_ZEROWINDOW', 'TCP_OLD_DATA',
  'TCP_OVERWINDOW', 'TCP_OFOMERGE', 'TCP_RFC7323_PAWS', 'TCP_RFC7323_PAWS_ACK', 'TCP_RFC7323_TW_PAWS',
  'TCP_RFC7323_TSECR', 'TCP_LISTEN_OVERFLOW', 'TCP_OLD_SEQUENCE', 'TCP_INVALID_SEQUENCE',
  'TCP_INVALID_END_SEQUENCE', 'TCP_INVALID_ACK_SEQUENCE', 'TCP_RESET', 'TCP_INVALID_SYN', 'TCP_CLOSE',
  'TCP_FASTOPEN', 'TCP_OLD_ACK', 'TCP_TOO_OLD_ACK', 'TCP_ACK_UNSENT_DATA', 'TCP_OFO_QUEUE_PRUNE',
  'TCP_OFO_DROP', 'IP_OUTNOROUTES', 'BPF_CGROUP_EGRESS', 'IPV6DISABLED', 'NEIGH_CREATEFAIL', 'NEIGH_FAILED',
  'NEIGH_QUEUEFULL', 'NEIGH_DEAD', 'NEIGH_HH_FILLFAIL', 'TC_EGRESS', 'SECURITY_HOOK', 'QDISC_DROP',
  'QDISC_OVERLIMIT', 'QDISC_CONGESTED', 'CAKE_FLOOD', 'FQ_BAND_LIMIT', 'FQ_HORIZON_LIMIT', 'FQ_FLOW_LIMIT',
  'CPU_BACKLOG', 'XDP', 'TC_INGRESS', 'UNHANDLED_PROTO', 'SKB_CSUM', 'SKB_GSO_SEG', 'SKB_UCOPY_FAULT',
  'DEV_HDR', 'DEV_READY', 'FULL_RING', 'NOMEM', 'HDR_TRUNC', 'TAP_FILTER', 'TAP_TXFILTER', 'ICMP_CSUM',
  'INVALID_PROTO', 'IP_INADDRERRORS', 'IP_INNOROUTES', 'IP_LOCAL_SOURCE', 'IP_INVALID_SOURCE', 'IP_LOCALNET',
  'IP_INVALID_DEST', 'PKT_TOO_BIG', 'DUP_FRAG', 'FRAG_REASM_TIMEOUT', 'FRAG_TOO_FAR', 'TCP_MINTTL',
  'IPV6_BAD_EXTHDR', 'IPV6_TOO_MANY_EXTHDRS', 'IPV6_NDISC_FRAG', 'IPV6_NDISC_HOP_LIMIT', 'IPV6_NDISC_BAD_CODE',
  'IPV6_NDISC_BAD_OPTIONS', 'IPV6_NDISC_NS_OTHERHOST', 'QUEUE_PURGE', 'TC_COOKIE_ERROR', 'PACKET_SOCK_ERROR',
  'TC_CHAIN_NOTFOUND', 'TC_RECLASSIFY_LOOP', 'VXLAN_INVALID_HDR', 'VXLAN_VNI_NOT_FOUND', 'MAC_INVALID_SOURCE',
  'VXLAN_ENTRY_EXISTS', 'NO_TX_TARGET', 'IP_TUNNEL_ECN', 'TUNNEL_TXINFO', 'LOCAL_MAC', 'ARP_PVLAN_DISABLE',
  'MAC_IEEE_MAC_CONTROL', 'BRIDGE_INGRESS_STP_STATE', 'CAN_RX_INVALID_FRAME', 'CANFD_RX_INVALID_FRAME',
  'CANXL_RX_INVALID_FRAME', 'PFMEMALLOC', 'DUALPI2_STEP_DROP', 'PSP_INPUT', 'PSP_OUTPUT', 'RECURSION_LIMIT',
  'SKB_RX_HEADROOM',
];

describe('reasonNames: retina', () => {
  // Retina's value for each kernel reason that has one; written out here rather than read from the map under test.
  const expected: Record<string, string> = {
    NETFILTER_DROP: 'IPTABLE_RULE_DROP',
    TCP_CLOSE: 'TCP_CLOSE_BASIC',
    TCP_ABORT_ON_DATA: 'TCP_CLOSE_BASIC',
    TCP_LISTEN_OVERFLOW: 'TCP_ACCEPT_BASIC',
    TCP_REQQFULLDROP: 'TCP_ACCEPT_BASIC',
  };
  const all = [...new Set([...LINUX_6_18_REASONS, 'TCP_REQQFULLDROP'])];
  const catalog = DropReasonCatalog.fromBtf(
    btfEnum(
      'skb_drop_reason',
      [['SKB_NOT_DROPPED_YET', 0], ['SKB_CONSUMED', 1], ['SKB_DROP_REASON_NOT_SPECIFIED', 2]].concat(
        all.map((n, i) => [`SKB_DROP_REASON_${n}`, i + 3]),
      ) as Array<[string, number]>,
    ),
    subsys,
    'retina',
  );

  it.each(Object.entries(expected))('maps %s to %s', (kernel, retina) => {
    const value = all.indexOf(kernel) + 3;
    expect(catalog.kernelName(value)).toBe(kernel);
    expect(catalog.label(value)).toBe(retina);
  });

  it('maps exactly the listed reasons', () => {
    expect(RETINA_REASON_MAP).toEqual(expected);
  });

  it('labels every other Linux 6.18 reason UNKNOWN_DROP', () => {
    const others = all.filter((n) => !(n in expected));
    expect(others.length).toBeGreaterThan(100);
    for (const name of others) expect([name, catalog.label(all.indexOf(name) + 3)]).toEqual([name, UNKNOWN_DROP]);
  });

  it('labels unnamed values and subsystem reasons UNKNOWN_DROP, and only Retina values appear', () => {
    expect(catalog.naming).toBe('retina');
    expect(catalog.label(9999)).toBe(UNKNOWN_DROP);
    expect(catalog.label((2 << 16) | 3)).toBe(UNKNOWN_DROP);
    const retinaSet = new Set([
      'IPTABLE_RULE_DROP',
      'IPTABLE_NAT_DROP',
      'TCP_CONNECT_BASIC',
      'TCP_ACCEPT_BASIC',
      'TCP_CLOSE_BASIC',
      'CONNTRACK_ADD_DROP',
      UNKNOWN_DROP,
    ]);
    for (let v = 3; v < all.length + 3; v++) expect(retinaSet.has(catalog.label(v))).toBe(true);
  });

  it('keeps kernel names by default', () => {
    const kernel = DropReasonCatalog.fromBtf(reasons, subsys);
    expect(kernel.naming).toBe('kernel');
    expect(kernel.label(16)).toBe('IP_RPFILTER');
  });
});
