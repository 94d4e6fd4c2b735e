// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * packetparser: one flow event per TCP/UDP packet (low aggregation) or per connection report (high aggregation),
 * seen at the TC hooks of pod veths (host side) and of the node's interface. IPv4 and IPv6.
 *
 * Every packet goes through a small connection tracker (LRU hash, keyed by the 5-tuple of whoever opened the
 * connection). It tells replies from requests, keeps the direction of the connection, totals bytes and packets
 * per direction, and, at high aggregation, decides when a connection is worth a report: on its first packet, on
 * control flags, on teardown and expiry, and at most once per report interval otherwise, carrying the counters
 * accumulated since the previous report.
 *
 * Events go to user space through a ring buffer; a reservation that fails is counted in rts_pp_stats so the loss
 * is visible. All programs return TC_ACT_UNSPEC (TCX_NEXT): the packet's fate never changes.
 *
 * Wakeups of the reader are batched: an event is submitted without waking it, and a BPF timer wakes it once
 * WAKEUP_INTERVAL_NS after the first such event (or at once when the ring is filling). At a few thousand events
 * per second a wakeup per event cost more than the events themselves (a context switch on the CPU the traffic
 * runs on, and a JavaScript turn for a batch of one); now the reader wakes at most every interval under light load.
 */
#include "retina/common.h"

/* Observation points (the hook a program sits on), shared with src/decode.ts. */
#define OBS_FROM_ENDPOINT 0
#define OBS_TO_ENDPOINT 1
#define OBS_FROM_NETWORK 2
#define OBS_TO_NETWORK 3

/* flow.TrafficDirection values. */
#define DIR_UNKNOWN 0
#define DIR_INGRESS 1
#define DIR_EGRESS 2

/* TCP flag bits as they sit in byte 13 of the TCP header. */
#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10
#define F_URG 0x20
#define F_ECE 0x40
#define F_CWR 0x80
/* Flags reported for UDP (Retina's convention: a UDP event carries flags = 1). */
#define F_UDP 0x01

#define NSEC 1000000000ULL
#define CT_LIFETIME_TCP (360 * NSEC)
#define CT_LIFETIME_TCP_SYN (60 * NSEC)
#define CT_LIFETIME_TIME_WAIT (30 * NSEC)
#define CT_LIFETIME_NON_TCP (60 * NSEC)

#define NUM_FLAGS 9 /* SYN ACK FIN RST PSH URG ECE CWR NS, the order of previously_observed_tcp_flags */

/* Load-time settings (BpfObject.setConstant). */
RETINA_CONST(__u8, bypass_ioi, 0);          /* 1: report every address, not only the IPs of interest */
RETINA_CONST(__u8, aggregation_high, 0);    /* 1: report connections, not packets */
RETINA_CONST(__u32, sampling_rate, 1);      /* N: a new flag or connection is reported with chance 1/N */
RETINA_CONST(__u64, report_interval_ns, 30 * NSEC);

/* An address: IPv4 in the first 4 bytes and the rest zero, or a whole IPv6 address. */
struct pp_addr {
	__u8 b[16];
};

/* Connection key: the 5-tuple in the orientation of the connection's opener. Layout shared with decode.ts. */
struct ct_key {
	struct pp_addr src;
	struct pp_addr dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u8 pad[2];
};

/* Per-direction state: 0 = the opener's direction (tx), 1 = the replies (rx). */
struct ct_dir {
	__u64 last_report_ns;
	__u32 bytes_since_report;
	__u32 packets_since_report;
	__u32 flags_since_report[NUM_FLAGS];
	__u8 flags_seen;
	__u8 pad[3];
	__u64 bytes_total;
	__u64 packets_total;
};

struct ct_entry {
	__u64 eviction_ns;
	struct ct_dir dir[2];
	__u8 traffic_direction;
	__u8 direction_unknown;
	__u8 pad[6];
};

/* The event record. Layout shared with src/decode.ts (EVENT_SIZE and the offsets there). */
struct pp_event {
	__u64 t_ns;                      /* 0: bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	struct pp_addr src;              /* 8 */
	struct pp_addr dst;              /* 24 */
	__be16 sport;                    /* 40 */
	__be16 dport;                    /* 42 */
	__u32 bytes;                     /* 44: skb->len */
	__u32 seq;                       /* 48: host order */
	__u32 ack;                       /* 52 */
	__u32 tsval;                     /* 56: TCP timestamp option, host order */
	__u32 tsecr;                     /* 60 */
	__u8 obs;                        /* 64 */
	__u8 traffic_direction;          /* 65 */
	__u8 proto;                      /* 66 */
	__u8 family;                     /* 67: 4 or 6 */
	__u16 flags;                     /* 68 */
	__u8 is_reply;                   /* 70 */
	__u8 pad;                        /* 71 */
	__u32 prev_packets;              /* 72 */
	__u32 prev_bytes;                /* 76 */
	__u32 prev_flags[NUM_FLAGS];     /* 80 */
	__u32 sample_rate;               /* 116: cpuBudget sampling in effect (1 in N); 1: not sampled */
	__u64 ct_bytes_tx;               /* 120 */
	__u64 ct_bytes_rx;               /* 128 */
	__u64 ct_packets_tx;             /* 136 */
	__u64 ct_packets_rx;             /* 144 */
};                                   /* 152 */

_Static_assert(sizeof(struct pp_event) == 152, "pp_event layout is shared with src/decode.ts");
RETINA_BTF_STRUCT(pp_event);
_Static_assert(sizeof(struct ct_key) == 40, "ct_key layout is shared with src/decode.ts");
_Static_assert(sizeof(struct ct_entry) == 160, "ct_entry layout is shared with src/decode.ts");

/* Longest an event waits in the ring before the reader is woken (the latency batching adds). */
#define WAKEUP_INTERVAL_NS (5 * 1000 * 1000ULL)
/* CLOCK_MONOTONIC, for bpf_timer_init. */
#define PP_CLOCK_MONOTONIC 1

/* Indexes of rts_pp_stats. */
#define STAT_RINGBUF_FULL 0
#define STAT_SAMPLED_AWAY 1 /* events cpuBudget sampling kept out of the ring */
#define STAT_MAX 2

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 8 << 20); /* user space sets packetParserRingBufferSize */
} rts_pp_events SEC(".maps");

/* The reader's wakeup timer: `armed` is 1 while a wakeup is scheduled. */
struct pp_wakeup {
	struct bpf_timer timer;
	__u32 armed;
	__u32 ready;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct pp_wakeup);
} rts_pp_wakeup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 255);
	__type(key, struct pp_addr);
	__type(value, __u8);
} rts_pp_ioi SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 262144);
	__type(key, struct ct_key);
	__type(value, struct ct_entry);
} rts_pp_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} rts_pp_stats SEC(".maps");

/*
 * cpuBudget sampling: user space writes N here (0: no budget, every event; 1: budget on, every event while the ring
 * drains). One event in N reaches the ring; the others are counted in rts_pp_stats[STAT_SAMPLED_AWAY]. The connection
 * tracker still sees every packet.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} rts_pp_sample SEC(".maps");

/* One packet's parsed headers. */
struct pkt {
	struct ct_key key;
	__u32 seq;
	__u32 ack;
	__u32 tsval;
	__u32 tsecr;
	__u16 flags;
	/* Where the TCP options are: read only for a packet that becomes an event. */
	__u16 opt_len;
	__u32 opt_off;
};

#define ETH_P_IP_BE bpf_htons(ETH_P_IP)
#define ETH_P_IPV6_BE bpf_htons(ETH_P_IPV6)
#define IP_OFFSET_MASK 0x1fff
#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_TIMESTAMP 8
#define TCP_MAX_OPTIONS 40

static __always_inline void count_stat(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&rts_pp_stats, &idx);

	if (v)
		*v += 1;
}

/*
 * Copies `len` (a constant) bytes at `off` from the start of the packet. Headers are in the linear part of the
 * packet almost always: there they are read directly, which costs a fraction of a bpf_skb_load_bytes call; the
 * helper is the fallback for a header in paged data. Offsets of headers stay far below MAX_HEADER_OFF.
 */
#define MAX_HEADER_OFF 256
static __always_inline int load(struct __sk_buff *skb, __u32 off, void *to, const __u32 len)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;

	if (off <= MAX_HEADER_OFF) {
		void *from = data + off;

		if (from + len <= data_end) {
			__builtin_memcpy(to, from, len);
			return 0;
		}
	}
	return bpf_skb_load_bytes(skb, off, to, len);
}

/* Reads TSval/TSecr from the TCP options at `off` (length `len`, at most 40 bytes); leaves zeros when absent. */
static __always_inline void parse_tcp_timestamp(struct __sk_buff *skb, __u32 off, __u32 len, struct pkt *p)
{
	__u8 opts[TCP_MAX_OPTIONS] = {};
	__u32 i = 0;

	if (len == 0 || len > TCP_MAX_OPTIONS)
		return;
	if (bpf_skb_load_bytes(skb, off, opts, len) < 0)
		return;
#pragma unroll
	for (int n = 0; n < TCP_MAX_OPTIONS; n++) {
		__u8 kind, olen;

		if (i >= len || i >= TCP_MAX_OPTIONS - 1)
			return;
		kind = opts[i];
		if (kind == TCPOPT_EOL)
			return;
		if (kind == TCPOPT_NOP) {
			i++;
			continue;
		}
		olen = opts[i + 1];
		if (olen < 2)
			return;
		if (kind == TCPOPT_TIMESTAMP && olen == 10) {
			if (i + 10 > len || i > TCP_MAX_OPTIONS - 10)
				return;
			p->tsval = (__u32)opts[i + 2] << 24 | (__u32)opts[i + 3] << 16 | (__u32)opts[i + 4] << 8 | opts[i + 5];
			p->tsecr = (__u32)opts[i + 6] << 24 | (__u32)opts[i + 7] << 16 | (__u32)opts[i + 8] << 8 | opts[i + 9];
			return;
		}
		i += olen;
	}
}

/* Parses Ethernet (or a bare L3 device) + IPv4/IPv6 + TCP/UDP. Returns 0 when the packet is one to track. */
static __always_inline int parse(struct __sk_buff *skb, struct pkt *p)
{
	__be16 proto = (__be16)skb->protocol;
	__u32 l3 = 0, l4;
	__u8 buf[40];

	/* Ethernet devices show the L2 header at TC; L3 devices (tun, wireguard) start at the IP header. */
	if (load(skb, 12, buf, 2) == 0 && *(__be16 *)buf == proto)
		l3 = ETH_HLEN;

	if (proto == ETH_P_IP_BE) {
		struct iphdr *ip = (struct iphdr *)buf;

		if (load(skb, l3, buf, sizeof(*ip)))
			return -1;
		if (ip->version != 4 || ip->ihl < 5)
			return -1;
		/* Only the first fragment carries the ports. */
		if (ip->frag_off & bpf_htons(IP_OFFSET_MASK))
			return -1;
		__builtin_memcpy(p->key.src.b, &ip->saddr, 4);
		__builtin_memcpy(p->key.dst.b, &ip->daddr, 4);
		p->key.proto = ip->protocol;
		p->key.family = 4;
		l4 = l3 + ip->ihl * 4;
	} else if (proto == ETH_P_IPV6_BE) {
		struct ipv6hdr *ip6 = (struct ipv6hdr *)buf;

		if (load(skb, l3, buf, sizeof(*ip6)))
			return -1;
		if (ip6->version != 6)
			return -1;
		__builtin_memcpy(p->key.src.b, &ip6->saddr, 16);
		__builtin_memcpy(p->key.dst.b, &ip6->daddr, 16);
		/* TCP or UDP right after the fixed header; packets with extension headers are not tracked. */
		p->key.proto = ip6->nexthdr;
		p->key.family = 6;
		l4 = l3 + sizeof(*ip6);
	} else {
		return -1;
	}

	if (p->key.proto == IPPROTO_TCP) {
		struct tcphdr *th = (struct tcphdr *)buf;
		__u32 doff;

		if (load(skb, l4, buf, sizeof(*th)))
			return -1;
		p->key.sport = th->source;
		p->key.dport = th->dest;
		p->seq = bpf_ntohl(th->seq);
		p->ack = bpf_ntohl(th->ack_seq);
		p->flags = buf[13];
		doff = th->doff * 4;
		if (doff > sizeof(*th)) {
			p->opt_off = l4 + sizeof(*th);
			p->opt_len = doff - sizeof(*th);
		}
		return 0;
	}
	if (p->key.proto == IPPROTO_UDP) {
		struct udphdr *uh = (struct udphdr *)buf;

		if (load(skb, l4, buf, sizeof(*uh)))
			return -1;
		p->key.sport = uh->source;
		p->key.dport = uh->dest;
		p->flags = F_UDP;
		return 0;
	}
	return -1;
}

static __always_inline bool of_interest(const struct ct_key *k)
{
	if (bypass_ioi)
		return true;
	return bpf_map_lookup_elem(&rts_pp_ioi, &k->src) || bpf_map_lookup_elem(&rts_pp_ioi, &k->dst);
}

static __always_inline bool sampled(void)
{
	if (sampling_rate <= 1)
		return true;
	return bpf_get_prandom_u32() < 0xffffffffU / sampling_rate;
}

static __always_inline __u8 obs_direction(__u8 obs)
{
	if (obs == OBS_FROM_ENDPOINT || obs == OBS_TO_NETWORK)
		return DIR_EGRESS;
	if (obs == OBS_TO_ENDPOINT || obs == OBS_FROM_NETWORK)
		return DIR_INGRESS;
	return DIR_UNKNOWN;
}

static __always_inline void reverse_key(const struct ct_key *k, struct ct_key *r)
{
	__builtin_memcpy(&r->src, &k->dst, sizeof(r->src));
	__builtin_memcpy(&r->dst, &k->src, sizeof(r->dst));
	r->sport = k->dport;
	r->dport = k->sport;
	r->proto = k->proto;
	r->family = k->family;
	r->pad[0] = 0;
	r->pad[1] = 0;
}

/* The packet's TCP flags; none for UDP (whose event `flags` of 1 is a marker, not FIN). */
static __always_inline __u8 tcp_flags(const struct pkt *p)
{
	return p->key.proto == IPPROTO_TCP ? (__u8)p->flags : 0;
}

/* Adds one packet's flags to per-flag counters, in the order SYN ACK FIN RST PSH URG ECE CWR NS. */
static __always_inline void add_flags(__u32 *counts, __u16 flags)
{
	if (flags & F_SYN)
		counts[0]++;
	if (flags & F_ACK)
		counts[1]++;
	if (flags & F_FIN)
		counts[2]++;
	if (flags & F_RST)
		counts[3]++;
	if (flags & F_PSH)
		counts[4]++;
	if (flags & F_URG)
		counts[5]++;
	if (flags & F_ECE)
		counts[6]++;
	if (flags & F_CWR)
		counts[7]++;
}

static __always_inline __u32 sat_add(__u32 a, __u32 b)
{
	__u32 s = a + b;

	return s < a ? 0xffffffffU : s;
}

/* What the tracker decided for one packet. */
struct ct_result {
	bool report;
	bool is_reply;
	__u8 traffic_direction;
	__u32 prev_packets;
	__u32 prev_bytes;
	__u32 prev_flags[NUM_FLAGS];
	__u64 bytes_tx, bytes_rx, packets_tx, packets_rx;
};

static __always_inline void copy_totals(const struct ct_entry *e, struct ct_result *res)
{
	res->bytes_tx = e->dir[0].bytes_total;
	res->packets_tx = e->dir[0].packets_total;
	res->bytes_rx = e->dir[1].bytes_total;
	res->packets_rx = e->dir[1].packets_total;
}

/* Creates the entry for a connection first seen now. Returns false when the packet opens nothing trackable. */
static __always_inline void ct_create(struct pkt *p, __u8 obs, __u32 len, __u64 now, struct ct_result *res)
{
	struct ct_entry e = {};
	struct ct_key rkey;
	bool reply = false;
	__u64 lifetime = CT_LIFETIME_NON_TCP;
	__u8 dir = obs_direction(obs);

	if (p->key.proto == IPPROTO_TCP) {
		if ((p->flags & (F_SYN | F_ACK)) == F_SYN) {
			lifetime = CT_LIFETIME_TCP_SYN;
		} else if ((p->flags & (F_SYN | F_ACK)) == (F_SYN | F_ACK)) {
			reply = true;
			lifetime = CT_LIFETIME_TCP_SYN;
		} else {
			/* A connection opened before tracking began: guess from ACK, and say the direction is a guess. */
			e.direction_unknown = 1;
			reply = (p->flags & F_ACK) != 0;
			lifetime = CT_LIFETIME_TCP;
		}
	}
	/* The connection's direction is the opener's: a reply seen here travels against it. */
	if (reply && dir != DIR_UNKNOWN)
		dir = dir == DIR_INGRESS ? DIR_EGRESS : DIR_INGRESS;
	e.traffic_direction = dir;
	e.eviction_ns = now + lifetime;

	struct ct_dir *d = &e.dir[reply ? 1 : 0];
	d->flags_seen = tcp_flags(p);
	d->bytes_total = len;
	d->packets_total = 1;
	d->last_report_ns = now;
	e.dir[reply ? 0 : 1].last_report_ns = now;

	res->report = sampled();
	res->is_reply = reply;
	res->traffic_direction = dir;
	if (!res->report) {
		/* Not reported: this packet belongs to the next report. */
		d->packets_since_report = 1;
		d->bytes_since_report = len;
		add_flags(d->flags_since_report, tcp_flags(p));
	}
	copy_totals(&e, res);
	if (reply) {
		reverse_key(&p->key, &rkey);
		bpf_map_update_elem(&rts_pp_ct, &rkey, &e, BPF_ANY);
	} else {
		bpf_map_update_elem(&rts_pp_ct, &p->key, &e, BPF_ANY);
	}
}

/* Runs the tracker for one packet and fills `res`. */
static __always_inline void ct_process(struct pkt *p, __u8 obs, __u32 len, __u64 now, struct ct_result *res)
{
	struct ct_key rkey;
	struct ct_key *found_key = &p->key;
	struct ct_entry *e;
	struct ct_dir *d, *other;
	bool reply = false, report = false, remove = false;
	__u8 seen;

	e = bpf_map_lookup_elem(&rts_pp_ct, &p->key);
	if (!e) {
		reverse_key(&p->key, &rkey);
		e = bpf_map_lookup_elem(&rts_pp_ct, &rkey);
		if (!e) {
			ct_create(p, obs, len, now, res);
			return;
		}
		reply = true;
		found_key = &rkey;
	}
	if (reply) {
		d = &e->dir[1];
		other = &e->dir[0];
	} else {
		d = &e->dir[0];
		other = &e->dir[1];
	}

	if (now >= e->eviction_ns) {
		remove = true;
		report = true;
	} else if (p->key.proto == IPPROTO_TCP) {
		seen = d->flags_seen | (__u8)p->flags;
		if (seen & F_RST) {
			remove = true;
			report = true;
		} else if (p->flags & F_FIN) {
			report = true;
			e->eviction_ns = now + CT_LIFETIME_TCP;
		} else if (p->flags & (F_SYN | F_URG | F_ECE | F_CWR)) {
			report = true;
			e->eviction_ns = now + CT_LIFETIME_TCP;
		} else {
			e->eviction_ns = now + CT_LIFETIME_TCP;
		}
		/* Both sides have sent FIN: the connection is closing; keep it only for stray packets. */
		if ((seen & F_FIN) && (other->flags_seen & F_FIN)) {
			e->eviction_ns = now + CT_LIFETIME_TIME_WAIT;
			report = true;
		}
	} else {
		e->eviction_ns = now + CT_LIFETIME_NON_TCP;
	}
	if (!report && (tcp_flags(p) & ~d->flags_seen) && sampled())
		report = true;
	if (!report && now - d->last_report_ns >= report_interval_ns)
		report = true;

	d->flags_seen |= tcp_flags(p);
	d->bytes_total += len;
	d->packets_total += 1;

	res->report = report;
	res->is_reply = reply;
	res->traffic_direction = e->traffic_direction;
	if (report) {
		res->prev_packets = d->packets_since_report;
		res->prev_bytes = d->bytes_since_report;
#pragma unroll
		for (int i = 0; i < NUM_FLAGS; i++) {
			res->prev_flags[i] = d->flags_since_report[i];
			d->flags_since_report[i] = 0;
		}
		d->packets_since_report = 0;
		d->bytes_since_report = 0;
		d->last_report_ns = now;
	} else {
		d->packets_since_report = sat_add(d->packets_since_report, 1);
		d->bytes_since_report = sat_add(d->bytes_since_report, len);
		add_flags(d->flags_since_report, tcp_flags(p));
	}
	copy_totals(e, res);
	if (remove)
		bpf_map_delete_elem(&rts_pp_ct, found_key);
}

/*
 * Timer callback: the armed flag is cleared first (an atomic exchange, a full barrier), then the ring is looked at.
 * A producer either saw the flag cleared and arms the timer again, or committed its event before the exchange, so
 * the event is seen here and the reader is woken for it: no event stays in the ring without a wakeup coming.
 */
static int wakeup_reader(void *map, __u32 *key, struct pp_wakeup *w)
{
	void *rec;

	__sync_lock_test_and_set(&w->armed, 0);
	if (bpf_ringbuf_query(&rts_pp_events, BPF_RB_AVAIL_DATA) == 0)
		return 0;
	/* A discarded record wakes the reader and is skipped by it. */
	rec = bpf_ringbuf_reserve(&rts_pp_events, 8, 0);
	if (rec)
		bpf_ringbuf_discard(rec, BPF_RB_FORCE_WAKEUP);
	return 0;
}

/* Flags for the submit of an event: wake the reader now when the ring is filling, else leave it to the timer. */
static __always_inline __u64 wakeup_flags(void)
{
	__u32 zero = 0;
	struct pp_wakeup *w;

	if (bpf_ringbuf_query(&rts_pp_events, BPF_RB_AVAIL_DATA) >=
	    bpf_ringbuf_query(&rts_pp_events, BPF_RB_RING_SIZE) / 8)
		return BPF_RB_FORCE_WAKEUP;
	w = bpf_map_lookup_elem(&rts_pp_wakeup, &zero);
	if (!w)
		return 0; /* the kernel's own policy: wake when the reader has caught up */
	return BPF_RB_NO_WAKEUP;
}

/* After a submit without wakeup: schedules one unless one is scheduled already. */
static __always_inline void schedule_wakeup(void)
{
	__u32 zero = 0;
	struct pp_wakeup *w = bpf_map_lookup_elem(&rts_pp_wakeup, &zero);

	if (!w || w->armed)
		return;
	if (__sync_val_compare_and_swap(&w->armed, 0, 1) != 0)
		return;
	if (!w->ready) {
		/* First use: another CPU may have initialised it meanwhile (-EBUSY), which is as good. */
		bpf_timer_init(&w->timer, &rts_pp_wakeup, PP_CLOCK_MONOTONIC);
		bpf_timer_set_callback(&w->timer, wakeup_reader);
		w->ready = 1;
	}
	if (bpf_timer_start(&w->timer, WAKEUP_INTERVAL_NS, 0) != 0)
		/* No timer: the next event tries again, and the ring's fill level still forces wakeups. */
		__sync_lock_test_and_set(&w->armed, 0);
}

static __always_inline int handle(struct __sk_buff *skb, __u8 obs)
{
	struct pkt p = {};
	struct ct_result res = {};
	struct pp_event *ev;
	__u64 wake;
	__u64 now;
	__u32 len = skb->len;

	if (parse(skb, &p))
		return RETINA_TC_CONTINUE;
	if (!of_interest(&p.key))
		return RETINA_TC_CONTINUE;

	/*
	 * The tracker's clock: lifetimes and report intervals are seconds long, and the coarse clock (the same
	 * CLOCK_MONOTONIC, a scheduler tick behind at most) is read from memory, where bpf_ktime_get_ns reads the
	 * clock source, which under a hypervisor costs as much as the rest of this program for a packet not reported.
	 */
	now = bpf_ktime_get_coarse_ns();
	ct_process(&p, obs, len, now, &res);
	if (aggregation_high && !res.report)
		return RETINA_TC_CONTINUE;

	__u32 zero = 0, rate = 1;
	__u32 *sample = bpf_map_lookup_elem(&rts_pp_sample, &zero);

	if (sample && *sample) {
		rate = *sample;
		/*
		 * Under a budget, a reader that fell behind (user space starved of CPU for a moment) must not cost events:
		 * past half the ring keep 16 times fewer, past three quarters 256 times fewer, until it drains.
		 */
		__u64 size = bpf_ringbuf_query(&rts_pp_events, BPF_RB_RING_SIZE);
		__u64 queued = bpf_ringbuf_query(&rts_pp_events, BPF_RB_AVAIL_DATA);

		if (queued > size / 4 * 3)
			rate = rate > 0xffffffffU / 256 ? 0xffffffffU : rate * 256;
		else if (queued > size / 2)
			rate = rate > 0xffffffffU / 16 ? 0xffffffffU : rate * 16;
		if (rate > 1 && bpf_get_prandom_u32() % rate) {
			count_stat(STAT_SAMPLED_AWAY);
			return RETINA_TC_CONTINUE;
		}
	}
	ev = bpf_ringbuf_reserve(&rts_pp_events, sizeof(*ev), 0);
	if (!ev) {
		count_stat(STAT_RINGBUF_FULL);
		return RETINA_TC_CONTINUE;
	}
	/* The options only matter to an event (its TCP timestamp). */
	if (p.opt_len)
		parse_tcp_timestamp(skb, p.opt_off, p.opt_len, &p);
	ev->t_ns = bpf_ktime_get_ns();
	__builtin_memcpy(&ev->src, &p.key.src, sizeof(ev->src));
	__builtin_memcpy(&ev->dst, &p.key.dst, sizeof(ev->dst));
	ev->sport = p.key.sport;
	ev->dport = p.key.dport;
	ev->bytes = len;
	ev->seq = p.seq;
	ev->ack = p.ack;
	ev->tsval = p.tsval;
	ev->tsecr = p.tsecr;
	ev->obs = obs;
	ev->traffic_direction = res.traffic_direction;
	ev->proto = p.key.proto;
	ev->family = p.key.family;
	ev->flags = p.flags;
	ev->is_reply = res.is_reply;
	ev->pad = 0;
	/* Per-packet events stand for themselves: the accumulated counters only mean something per report. */
	if (aggregation_high) {
		ev->prev_packets = res.prev_packets;
		ev->prev_bytes = res.prev_bytes;
#pragma unroll
		for (int i = 0; i < NUM_FLAGS; i++)
			ev->prev_flags[i] = res.prev_flags[i];
	} else {
		ev->prev_packets = 0;
		ev->prev_bytes = 0;
#pragma unroll
		for (int i = 0; i < NUM_FLAGS; i++)
			ev->prev_flags[i] = 0;
	}
	ev->sample_rate = rate;
	ev->ct_bytes_tx = res.bytes_tx;
	ev->ct_bytes_rx = res.bytes_rx;
	ev->ct_packets_tx = res.packets_tx;
	ev->ct_packets_rx = res.packets_rx;
	wake = wakeup_flags();
	bpf_ringbuf_submit(ev, wake);
	if (wake == BPF_RB_NO_WAKEUP)
		schedule_wakeup();
	return RETINA_TC_CONTINUE;
}

SEC("tc")
int rts_pp_ep_in(struct __sk_buff *skb)
{
	return handle(skb, OBS_FROM_ENDPOINT);
}

SEC("tc")
int rts_pp_ep_eg(struct __sk_buff *skb)
{
	return handle(skb, OBS_TO_ENDPOINT);
}

SEC("tc")
int rts_pp_host_in(struct __sk_buff *skb)
{
	return handle(skb, OBS_FROM_NETWORK);
}

SEC("tc")
int rts_pp_host_eg(struct __sk_buff *skb)
{
	return handle(skb, OBS_TO_NETWORK);
}

RETINA_LICENSE("Dual MIT/GPL");
