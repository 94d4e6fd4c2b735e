import { DropReasonDesc } from '@retina-ts/core';
import { describe, expect, it } from 'vitest';
import type { BtfEnum } from '../src/btf.js';
import { DropReasonCatalog, dropReasonDesc, shortReasonName, UNKNOWN_DROP } from '../src/reasons.js';

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
