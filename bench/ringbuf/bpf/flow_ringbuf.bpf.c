/* SPDX-License-Identifier: MIT */
/*
 * Producer of the ring-buffer benchmark: a TC program that turns the packet it runs on into one 64-byte
 * flow-shaped record. BPF_PROG_TEST_RUN drives it (`repeat` runs per call), so the producer is the real kernel
 * path of an observability program: parse Ethernet/IPv4/TCP, reserve, fill, submit.
 */
#include "retina/common.h"

RETINA_LICENSE("Dual MIT/GPL");

/* Size of `flows` is set by the benchmark before load (setMapMaxEntries). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 * 1024 * 1024);
} flows SEC(".maps");

/* Same records through a perf event array, for the PerfBufferReader figures. */
struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} flows_perf SEC(".maps");

enum stat_slot {
	STAT_PRODUCED = 0, /* records submitted */
	STAT_LOST = 1,     /* records the ring had no room for */
	STAT_MAX = 2,
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

/* The record: 64 bytes, mirrored by the consumers (consumer.c, node-consumer.mjs). */
struct flow_record {
	__u64 ts_ns;
	__u64 seq;
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 direction;
	__u8 tcp_flags;
	__u8 verdict;
	__u32 bytes;
	__u32 packets;
	__u32 ifindex;
	__u32 mark;
	__u32 hash;
	__u32 drop_reason;
	__u64 cookie;
};

_Static_assert(sizeof(struct flow_record) == 64, "flow_record must stay 64 bytes");

/* Per-CPU sequence: the producer runs on one CPU, and a per-CPU counter costs no atomic operation. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} seqs SEC(".maps");

static __always_inline void count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &slot);
	if (v)
		*v += 1;
}

static __always_inline int fill(struct __sk_buff *skb, struct flow_record *r)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = RETINA_PKT_PTR(struct ethhdr, data, data_end, 0);
	if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	struct iphdr *ip = RETINA_PKT_PTR(struct iphdr, data, data_end, sizeof(*eth));
	if (!ip || ip->ihl != 5 || ip->protocol != IPPROTO_TCP)
		return -1;
	struct tcphdr *tcp = RETINA_PKT_PTR(struct tcphdr, data, data_end, sizeof(*eth) + sizeof(*ip));
	if (!tcp)
		return -1;
	__u32 zero = 0;
	__u64 *seq = bpf_map_lookup_elem(&seqs, &zero);
	if (!seq)
		return -1;
	r->ts_ns = bpf_ktime_get_ns();
	r->seq = (*seq)++;
	r->saddr = ip->saddr;
	r->daddr = ip->daddr;
	r->sport = tcp->source;
	r->dport = tcp->dest;
	r->proto = ip->protocol;
	r->direction = 1;
	r->tcp_flags = ((__u8 *)tcp)[13];
	r->verdict = 1;
	r->bytes = skb->len;
	r->packets = 1;
	r->ifindex = skb->ifindex;
	r->mark = skb->mark;
	r->hash = skb->hash;
	r->drop_reason = 0;
	r->cookie = ((__u64)bpf_ntohl(ip->saddr) << 32) | bpf_ntohl(ip->daddr);
	return 0;
}

SEC("tc")
int flow_ringbuf(struct __sk_buff *skb)
{
	struct flow_record *r = bpf_ringbuf_reserve(&flows, sizeof(*r), 0);
	if (!r) {
		count(STAT_LOST);
		return RETINA_TC_CONTINUE;
	}
	if (fill(skb, r) < 0) {
		bpf_ringbuf_discard(r, 0);
		return RETINA_TC_CONTINUE;
	}
	bpf_ringbuf_submit(r, 0);
	count(STAT_PRODUCED);
	return RETINA_TC_CONTINUE;
}

SEC("tc")
int flow_perf(struct __sk_buff *skb)
{
	struct flow_record r;
	if (fill(skb, &r) < 0)
		return RETINA_TC_CONTINUE;
	if (bpf_perf_event_output(skb, &flows_perf, BPF_F_CURRENT_CPU, &r, sizeof(r)) < 0)
		count(STAT_LOST);
	else
		count(STAT_PRODUCED);
	return RETINA_TC_CONTINUE;
}
