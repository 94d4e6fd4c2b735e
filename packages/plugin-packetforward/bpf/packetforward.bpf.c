// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * packetforward: counts packets and bytes that pass an interface's TC ingress and egress hooks.
 *
 * Two SCHED_CLS programs (one per direction) add to one per-CPU array, so the hot path takes no lock and shares
 * no cache line between CPUs. User space sums the per-CPU slots on an interval. The programs never change the
 * packet's fate: they return TC_ACT_UNSPEC (equal to TCX_NEXT), so the rest of the chain runs as before.
 *
 * Aggregated skbs (GRO on ingress, TSO/GSO on egress) stand for gso_segs wire packets; they are counted as that
 * many packets, and their bytes as the wire would carry them (the headers are repeated in every segment).
 */
#include "retina/common.h"

#define DIR_INGRESS 0
#define DIR_EGRESS 1

/* Value layout shared with src/decode.ts (ForwardCounters). */
struct pf_counters {
	__u64 packets;
	__u64 bytes;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct pf_counters);
} rts_pf_stats SEC(".maps");

#define ETH_P_8021Q_BE bpf_htons(0x8100)
#define ETH_P_8021AD_BE bpf_htons(0x88A8)
#define ETH_P_IP_BE bpf_htons(0x0800)
#define ETH_P_IPV6_BE bpf_htons(0x86DD)

/*
 * Length of the headers every segment of an aggregated skb repeats (L2 + L3 + L4), or 0 when the packet is not
 * plain Ethernet/L3 + IPv4/IPv6 (no extension headers) + TCP/UDP; the caller then counts the bytes as they are.
 * Only called for aggregated skbs, whose headers always sit in the linear area.
 */
static __always_inline __u32 segment_header_len(struct __sk_buff *skb)
{
	__u32 l3_off = 0;
	__u32 l4_off;
	__u8 l4_proto;
	__be16 proto = (__be16)skb->protocol;
	__u8 buf[20];

	/* Ethernet devices show the L2 header at TC; L3 devices (tun, wireguard, ipip) start at the IP header. */
	if (bpf_skb_load_bytes(skb, 12, buf, 2) == 0 && *(__be16 *)buf == proto) {
		l3_off = ETH_HLEN;
		if (proto == ETH_P_8021Q_BE || proto == ETH_P_8021AD_BE) {
			if (bpf_skb_load_bytes(skb, 16, buf, 2))
				return 0;
			proto = *(__be16 *)buf;
			l3_off += 4;
		}
	}

	if (proto == ETH_P_IP_BE) {
		if (bpf_skb_load_bytes(skb, l3_off, buf, 20))
			return 0;
		if ((buf[0] >> 4) != 4)
			return 0;
		l4_off = l3_off + (__u32)(buf[0] & 0x0f) * 4;
		l4_proto = buf[9];
	} else if (proto == ETH_P_IPV6_BE) {
		if (bpf_skb_load_bytes(skb, l3_off, buf, 8))
			return 0;
		if ((buf[0] >> 4) != 6)
			return 0;
		l4_off = l3_off + 40;
		l4_proto = buf[6];
	} else {
		return 0;
	}

	if (l4_proto == IPPROTO_UDP)
		return l4_off + 8;
	if (l4_proto != IPPROTO_TCP)
		return 0;
	if (bpf_skb_load_bytes(skb, l4_off + 12, buf, 1))
		return 0;
	return l4_off + (__u32)(buf[0] >> 4) * 4;
}

static __always_inline int count(struct __sk_buff *skb, __u32 dir)
{
	struct pf_counters *c = bpf_map_lookup_elem(&rts_pf_stats, &dir);
	__u32 segs = skb->gso_segs;
	__u64 bytes = skb->len;

	if (!c)
		return RETINA_TC_CONTINUE;
	if (segs > 1)
		bytes += (__u64)(segs - 1) * segment_header_len(skb);
	else
		segs = 1;
	/* A per-CPU slot per direction, and TC runs with bottom halves off, so no two updates of one slot interleave. */
	c->packets += segs;
	c->bytes += bytes;
	return RETINA_TC_CONTINUE;
}

SEC("tc")
int rts_pf_ingress(struct __sk_buff *skb)
{
	return count(skb, DIR_INGRESS);
}

SEC("tc")
int rts_pf_egress(struct __sk_buff *skb)
{
	return count(skb, DIR_EGRESS);
}

RETINA_LICENSE("Dual MIT/GPL");
