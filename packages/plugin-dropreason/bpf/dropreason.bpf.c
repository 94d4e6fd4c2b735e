// SPDX-License-Identifier: MIT
/*
 * dropreason: counts packets the kernel drops, by the kernel's own drop reason.
 *
 * Hook: skb:kfree_skb, which the kernel fires for every freed skb that was not consumed normally, with an
 * `enum skb_drop_reason` argument (Linux 5.17+). Two programs attach to the same tracepoint; user space loads one:
 *   - rts_dr_btf  (tp_btf): typed arguments, no tracefs needed, cheapest.
 *   - rts_dr_tp   (classic tracepoint): fallback where tp_btf cannot attach.
 *
 * Every counted drop updates a per-CPU hash keyed by (reason, direction). When flow events are enabled, a drop
 * also becomes a ring-buffer record; repeated drops of the same flow within `event_interval_ns` are folded into
 * the next record of that flow, and a per-CPU budget caps records per second, so a drop storm cannot flood user
 * space. Records that could not be sent are counted in rts_dr_stats.
 */
#include "retina/kernel.h"

/*
 * The kernel-internal fields this program reads (sk_buff, net_device, sock, trace_entry) are the CO-RE definitions
 * of retina/kernel.h; libbpf finds each field by name in the running kernel's BTF and rewrites the offsets at load
 * time. Only what is particular to skb:kfree_skb is declared here.
 */
#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

/*
 * CO-RE matches an enum field only with an enum of the same name (an int would not match), so the kernel's enum is
 * declared here by name; its members come from the kernel's BTF in user space, never from this file.
 */
enum skb_drop_reason {
	RTS_SKB_DROP_REASON_ANY = 0,
};

/* Context of the classic skb:kfree_skb tracepoint; `reason` exists from Linux 5.17. */
struct trace_event_raw_kfree_skb {
	struct trace_entry ent;
	void *skbaddr;
	void *location;
	unsigned short protocol;
	enum skb_drop_reason reason;
};

#pragma clang attribute pop

#define ETH_P_IP_H 0x0800
#define ETH_P_IPV6_H 0x86DD
#define PROTO_TCP 6
#define PROTO_UDP 17
#define PROTO_ICMP 1
#define PROTO_ICMPV6 58
#define NO_HEADER ((__u16)~0U)

#define DIR_INGRESS 0
#define DIR_EGRESS 1

/* Indexes of rts_dr_stats. */
#define STAT_RINGBUF_FULL 0
#define STAT_RATE_LIMITED 1
#define STAT_METRICS_FULL 2
#define STAT_MAX 3

/* Load-time settings (user space writes them before load). */
/* Reasons that are normal frees, not drops: SKB_NOT_DROPPED_YET, SKB_CONSUMED, SKB_DROP_REASON_NOT_SPECIFIED. */
RETINA_CONST(__u32, skip_reason_a, 0);
RETINA_CONST(__u32, skip_reason_b, 1);
RETINA_CONST(__u32, skip_reason_c, 2);
/* Count only drops in this network namespace (inode number); 0 counts every namespace. */
RETINA_CONST(__u32, netns_filter, 0);
/* 1: send flow records through rts_dr_events. */
RETINA_CONST(__u32, emit_events, 0);
/* Minimum gap between two records of the same flow; drops in between are folded into the next record. */
RETINA_CONST(__u64, event_interval_ns, 0);
/* Records per CPU per second; 0 means no cap. */
RETINA_CONST(__u32, events_per_sec, 0);

struct metric_key {
	__u32 reason;
	__u32 dir;
};

struct metric_val {
	__u64 packets;
	__u64 bytes;
};

/* Ring-buffer record: 80 bytes, layout mirrored in src/decode.ts. */
struct drop_event {
	__u64 ts_mono_ns; /* CLOCK_MONOTONIC, as process.hrtime in Node */
	__u32 reason;
	__u32 skb_len;
	__u64 packets;
	__u64 bytes;
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport; /* host order; ICMP type for ICMP */
	__u16 dport; /* host order; ICMP code for ICMP */
	__u8 ip_version; /* 4, 6, or 0 when the skb had no readable IP header */
	__u8 l4proto;
	__u8 dir;
	__u8 pad;
	__u32 ifindex;
	__u32 netns;
};
RETINA_BTF_STRUCT(drop_event);

struct flow_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 ip_version;
	__u8 l4proto;
	__u8 dir;
	__u8 pad;
	__u32 reason;
	__u32 netns;
};

struct flow_val {
	__u64 last_sent_ns;
	__u64 pending_packets;
	__u64 pending_bytes;
};

struct rate_state {
	__u64 window_start_ns;
	__u64 sent;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct metric_key);
	__type(value, struct metric_val);
} rts_dr_metrics SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} rts_dr_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} rts_dr_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} rts_dr_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rate_state);
} rts_dr_rate SEC(".maps");

static __always_inline void bump_stat(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&rts_dr_stats, &idx);

	if (v)
		*v += 1;
}

static __always_inline __u32 skb_netns(struct sk_buff *skb)
{
	struct sock *sk = BPF_CORE_READ(skb, sk);
	struct net_device *dev;

	/* The socket's namespace is authoritative when there is one; early demux sets it on ingress too. */
	if (sk)
		return BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	dev = BPF_CORE_READ(skb, dev);
	if (dev)
		return BPF_CORE_READ(dev, nd_net.net, ns.inum);
	return 0;
}

/* Reads addresses and ports from the packet's own headers; leaves the key zeroed where they are unreadable. */
static __always_inline void read_tuple(struct sk_buff *skb, struct flow_key *k)
{
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	__u8 first = 0;
	__u32 l4off = 0;
	__u8 proto = 0;

	if (!head || nh == NO_HEADER)
		return;
	if (bpf_probe_read_kernel(&first, 1, head + nh))
		return;
	if ((first >> 4) == 4) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		__builtin_memcpy(k->saddr, &ip.saddr, 4);
		__builtin_memcpy(k->daddr, &ip.daddr, 4);
		k->ip_version = 4;
		proto = ip.protocol;
		/* Later fragments carry no L4 header. */
		if (bpf_ntohs(ip.frag_off) & 0x1fff)
			proto = 0;
		l4off = nh + (ip.ihl & 0xf) * 4;
	} else if ((first >> 4) == 6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return;
		__builtin_memcpy(k->saddr, &ip6.saddr, 16);
		__builtin_memcpy(k->daddr, &ip6.daddr, 16);
		k->ip_version = 6;
		proto = ip6.nexthdr;
		l4off = nh + sizeof(ip6);
	} else {
		return;
	}
	k->l4proto = proto;
	if (proto == PROTO_TCP || proto == PROTO_UDP) {
		__be16 ports[2];

		if (bpf_probe_read_kernel(ports, sizeof(ports), head + l4off) == 0) {
			k->sport = bpf_ntohs(ports[0]);
			k->dport = bpf_ntohs(ports[1]);
		}
	} else if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		__u8 tc[2];

		if (bpf_probe_read_kernel(tc, sizeof(tc), head + l4off) == 0) {
			k->sport = tc[0];
			k->dport = tc[1];
		}
	}
}

/* Per-CPU budget of records per second. Returns 1 when this record may be sent. */
static __always_inline int take_budget(__u64 now)
{
	__u32 zero = 0;
	struct rate_state *r;

	if (events_per_sec == 0)
		return 1;
	r = bpf_map_lookup_elem(&rts_dr_rate, &zero);
	if (!r)
		return 0;
	if (now - r->window_start_ns >= 1000000000ULL) {
		r->window_start_ns = now;
		r->sent = 0;
	}
	if (r->sent >= events_per_sec)
		return 0;
	r->sent += 1;
	return 1;
}

static __always_inline void send_event(struct sk_buff *skb, __u32 reason, __u32 dir, __u32 len, __u32 netns,
				       __u32 ifindex)
{
	struct flow_key k = {};
	struct flow_val *fv;
	struct drop_event *e;
	__u64 now = bpf_ktime_get_ns();
	__u64 packets = 1, bytes = len;

	read_tuple(skb, &k);
	k.dir = dir;
	k.reason = reason;
	k.netns = netns;

	if (event_interval_ns) {
		fv = bpf_map_lookup_elem(&rts_dr_flows, &k);
		if (fv) {
			if (now - fv->last_sent_ns < event_interval_ns) {
				__sync_fetch_and_add(&fv->pending_packets, 1);
				__sync_fetch_and_add(&fv->pending_bytes, len);
				return;
			}
			/* Take what was folded so far; subtracting what was read keeps concurrent additions. */
			__u64 pp = fv->pending_packets, pb = fv->pending_bytes;

			__sync_fetch_and_add(&fv->pending_packets, -pp);
			__sync_fetch_and_add(&fv->pending_bytes, -pb);
			packets += pp;
			bytes += pb;
			fv->last_sent_ns = now;
		} else {
			struct flow_val nv = { .last_sent_ns = now };

			/* An LRU map makes room by itself; a failure here only means another CPU inserted it first. */
			bpf_map_update_elem(&rts_dr_flows, &k, &nv, BPF_NOEXIST);
		}
	}

	if (!take_budget(now)) {
		bump_stat(STAT_RATE_LIMITED);
		return;
	}
	e = bpf_ringbuf_reserve(&rts_dr_events, sizeof(*e), 0);
	if (!e) {
		bump_stat(STAT_RINGBUF_FULL);
		return;
	}
	e->ts_mono_ns = now;
	e->reason = reason;
	e->skb_len = len;
	e->packets = packets;
	e->bytes = bytes;
	__builtin_memcpy(e->saddr, k.saddr, 16);
	__builtin_memcpy(e->daddr, k.daddr, 16);
	e->sport = k.sport;
	e->dport = k.dport;
	e->ip_version = k.ip_version;
	e->l4proto = k.l4proto;
	e->dir = dir;
	e->pad = 0;
	e->ifindex = ifindex;
	e->netns = netns;
	bpf_ringbuf_submit(e, 0);
}

static __always_inline int on_drop(struct sk_buff *skb, __u32 reason)
{
	struct metric_key key = {};
	struct metric_val *val;
	__u32 netns = 0, dir, len, iif;

	if (!skb || reason == skip_reason_a || reason == skip_reason_b || reason == skip_reason_c)
		return 0;
	if (netns_filter || emit_events) {
		netns = skb_netns(skb);
		if (netns_filter && netns != netns_filter)
			return 0;
	}
	/* skb_iif is set when a device received the packet; locally generated packets never had one. */
	iif = BPF_CORE_READ(skb, skb_iif);
	dir = iif ? DIR_INGRESS : DIR_EGRESS;
	len = BPF_CORE_READ(skb, len);

	key.reason = reason;
	key.dir = dir;
	val = bpf_map_lookup_elem(&rts_dr_metrics, &key);
	if (!val) {
		struct metric_val zero = {};

		if (bpf_map_update_elem(&rts_dr_metrics, &key, &zero, BPF_NOEXIST) &&
		    !bpf_map_lookup_elem(&rts_dr_metrics, &key)) {
			bump_stat(STAT_METRICS_FULL);
			return 0;
		}
		val = bpf_map_lookup_elem(&rts_dr_metrics, &key);
	}
	if (val) {
		/* Per-CPU slot, and the kernel never nests this program on one CPU: plain adds are exact. */
		val->packets += 1;
		val->bytes += len;
	}

	if (emit_events) {
		if (!iif) {
			struct net_device *dev = BPF_CORE_READ(skb, dev);

			iif = dev ? BPF_CORE_READ(dev, ifindex) : 0;
		}
		send_event(skb, reason, dir, len, netns, iif);
	}
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(rts_dr_btf, struct sk_buff *skb, void *location, unsigned int reason)
{
	return on_drop(skb, reason);
}

SEC("tracepoint/skb/kfree_skb")
int rts_dr_tp(struct trace_event_raw_kfree_skb *ctx)
{
	__u32 reason = 0;

	if (bpf_core_field_exists(ctx->reason))
		reason = (__u32)BPF_CORE_READ(ctx, reason);
	return on_drop((struct sk_buff *)BPF_CORE_READ(ctx, skbaddr), reason);
}

/* GPL-compatible: bpf_probe_read_kernel is a GPL-only helper. */
RETINA_LICENSE("Dual MIT/GPL");
