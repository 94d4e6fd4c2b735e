// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tcpretrans: observes every TCP retransmission through the tcp:tcp_retransmit_skb tracepoint (as tp_btf, so no
 * tracefs is needed and the attachment is a BPF link that dies with its file descriptor).
 *
 * Every retransmission is counted in a per-CPU array, which is exact whatever happens to events. When events are
 * enabled, a record with the connection's addresses, ports, state and the segment's TCP flags goes to a ring
 * buffer. A per-CPU rate limit keeps a retransmission storm from flooding user space; what it holds back, and what
 * a full ring buffer refuses, is counted so user space can report it.
 *
 * tp_btf reads the tracepoint's arguments (sk, skb) rather than its trace-event record. Since 6.17 the tracepoint
 * also fires for attempts that failed, with a third argument `err`; those sent nothing and are skipped, so the
 * count means the same on every kernel: segments actually retransmitted.
 */
#include "retina/kernel.h"

#define AF_INET 2
#define AF_INET6 10

/* Load-time settings (set by user space before load). */
RETINA_CONST(bool, emit_events, false);
/* Events per second per CPU; 0 means no limit. */
RETINA_CONST(__u32, max_events_per_sec, 0);
/* Inode of the only network namespace to observe; 0 means all of them. */
RETINA_CONST(__u32, netns_inode, 0);

/*
 * CO-RE views of the kernel structs this program reads beyond retina/kernel.h. The `___rts` suffix keeps them
 * apart from that header's types; libbpf ignores it when it matches them against the running kernel's BTF.
 */
struct sk_buff___rts {
	char cb[48];
} __attribute__((preserve_access_index));

struct tcp_skb_cb___rts {
	union {
		__u32 tcp_tw_isn;
		struct {
			__u16 tcp_gso_segs;
			__u16 tcp_gso_size;
		};
	};
	__u16 tcp_flags; /* u8 before AccECN; read with the width-agnostic bitfield reader */
} __attribute__((preserve_access_index));

/* sk->__sk_common.skc_net.net->ns.inum: the socket's network namespace. */
struct net___rts {
	struct {
		unsigned int inum;
	} ns;
} __attribute__((preserve_access_index));

struct sock___rts {
	struct {
		struct {
			struct net___rts *net;
		} skc_net;
	} __sk_common;
} __attribute__((preserve_access_index));

/* Record layout shared with src/decode.ts (decodeRetransEvent); 56 bytes. */
struct tr_event {
	__u64 ts_ns;       /* CLOCK_MONOTONIC */
	__u8 saddr[16];    /* IPv4 in the first 4 bytes; network order */
	__u8 daddr[16];
	__u16 sport;       /* host order */
	__u16 dport;       /* host order */
	__u16 segs;        /* segments retransmitted (a TSO skb carries several) */
	__u16 tcp_flags;   /* FIN 0x01 ... CWR 0x80, AE (formerly NS) 0x100 */
	__u8 family;       /* AF_INET or AF_INET6 */
	__u8 state;        /* sk_state, TCP_ESTABLISHED = 1 ... */
	__u8 _pad[6];
};
RETINA_BTF_STRUCT(tr_event);

/* Counter layout shared with src/decode.ts (sumRetransStats). */
struct tr_stats {
	__u64 retransmits;     /* segments retransmitted, as the kernel's RetransSegs counts them */
	__u64 events_lost;     /* ring buffer full */
	__u64 events_limited;  /* held back by the rate limit */
};

struct tr_rate {
	__u64 window_start_ns;
	__u64 count;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tr_stats);
} rts_tr_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tr_rate);
} rts_tr_rate SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} rts_tr_events SEC(".maps");

#define NSEC_PER_SEC 1000000000ULL

/*
 * The 6.17 change that added `err` to the tracepoint also gave it its own trace-event record with an `err`
 * field; that field's presence in the running kernel's BTF tells whether the third argument exists.
 */
struct trace_event_raw_tcp_retransmit_skb___err {
	int err;
} __attribute__((preserve_access_index));

/* True when this CPU may send one more event in the current one-second window. */
static __always_inline bool rate_allows(__u64 now)
{
	__u32 zero = 0;
	struct tr_rate *r;

	if (max_events_per_sec == 0)
		return true;
	r = bpf_map_lookup_elem(&rts_tr_rate, &zero);
	if (!r)
		return false;
	if (now - r->window_start_ns >= NSEC_PER_SEC) {
		r->window_start_ns = now;
		r->count = 0;
	}
	if (r->count >= max_events_per_sec)
		return false;
	r->count++;
	return true;
}

SEC("tp_btf/tcp_retransmit_skb")
int BPF_PROG(rts_tr_retrans, const struct sock *sk, const struct sk_buff *skb)
{
	__u32 zero = 0;
	struct tr_stats *st;
	struct tr_event *e;
	struct tcp_skb_cb___rts *tcb;
	__u64 now;
	__u16 family, segs;

	/* The verifier drops this branch on kernels without the argument, so ctx[2] is never read there. */
	if (bpf_core_field_exists(struct trace_event_raw_tcp_retransmit_skb___err, err) && (int)ctx[2] != 0)
		return 0;

	if (netns_inode != 0 && BPF_CORE_READ((struct sock___rts *)sk, __sk_common.skc_net.net, ns.inum) != netns_inode)
		return 0;

	st = bpf_map_lookup_elem(&rts_tr_stats, &zero);
	if (!st)
		return 0;
	/* The segment count and flags live in the TCP control block inside skb->cb. */
	tcb = (struct tcp_skb_cb___rts *)&((struct sk_buff___rts *)skb)->cb[0];
	segs = BPF_CORE_READ(tcb, tcp_gso_segs);
	if (segs == 0)
		segs = 1;
	st->retransmits += segs;
	if (!emit_events)
		return 0;

	now = bpf_ktime_get_ns();
	if (!rate_allows(now)) {
		st->events_limited++;
		return 0;
	}
	e = bpf_ringbuf_reserve(&rts_tr_events, sizeof(*e), 0);
	if (!e) {
		st->events_lost++;
		return 0;
	}

	family = BPF_CORE_READ(sk, __sk_common.skc_family);
	e->ts_ns = now;
	e->family = (__u8)family;
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	e->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	e->segs = segs;
	/* tcp_flags grew from u8 to u16 (for AE) in 6.x; the bitfield reader copes with either width. */
	e->tcp_flags = (__u16)BPF_CORE_READ_BITFIELD_PROBED(tcb, tcp_flags);
	__builtin_memset(e->saddr, 0, sizeof(e->saddr));
	__builtin_memset(e->daddr, 0, sizeof(e->daddr));
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));
	/* Explicit sizes: BPF_CORE_READ_INTO would take sizeof(*dst), one byte of these arrays. */
	if (family == AF_INET) {
		bpf_core_read(e->saddr, 4, &sk->__sk_common.skc_rcv_saddr);
		bpf_core_read(e->daddr, 4, &sk->__sk_common.skc_daddr);
	} else if (family == AF_INET6) {
		bpf_core_read(e->saddr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
		bpf_core_read(e->daddr, 16, &sk->__sk_common.skc_v6_daddr);
	}
	bpf_ringbuf_submit(e, 0);
	return 0;
}

RETINA_LICENSE("Dual MIT/GPL");
