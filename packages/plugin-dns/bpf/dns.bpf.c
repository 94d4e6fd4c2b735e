// SPDX-License-Identifier: MIT
/*
 * dns: DNS messages seen by the kernel, copied to user space for decoding.
 *
 * Hook: a socket filter on one AF_PACKET raw socket bound to every interface of a network namespace (the host's,
 * unless configured). The filter runs for each packet the namespace sends or receives, on every interface, including
 * pod veths that appear later, and always returns 0: nothing is ever queued on the socket. A packet to or from the
 * DNS port (UDP or TCP, IPv4 or IPv6) that carries a DNS header becomes one ring-buffer record: a fixed header (time,
 * addresses, ports, interface, lengths) followed by a bounded prefix of the DNS message. Other traffic never leaves
 * the kernel.
 *
 * The tap sees a forwarded packet twice (in on one interface, out on another). A packet is therefore taken where it
 * is received, and on the way out only when this namespace originated it (it has no ingress interface); loopback
 * output is skipped because the same packet is received on lo right after. A packet that crosses stacked devices
 * (a bridge port and the bridge, a VLAN and its parent) is seen once per layer, microseconds apart: a small LRU map
 * remembers each message (addresses, ports, DNS id and flags, length) for `dup_window_ns`, and a copy seen within
 * that window is only counted. A client retransmitting a query does so hundreds of milliseconds later at the earliest.
 *
 * Records that do not fit in the ring buffer are counted in rts_dns_stats, never waited for.
 */
#include "retina/common.h"

#define ETH_HLEN_ 14
#define PROTO_TCP 6
#define PROTO_UDP 17
#define LOOPBACK_IFINDEX_ 1
#define DNS_HEADER_LEN 12

/* Largest DNS prefix a record can carry; the capture_bytes setting chooses up to this much. A power of two. */
#define DNS_MAX_CAPTURE 2048

/* IPv6 extension headers walked before giving up. */
#define IPV6_MAX_EXT 6

/* Indexes of rts_dns_stats (per-CPU counters; user space sums them). */
#define STAT_MATCHED 0      /* DNS messages found (written or lost) */
#define STAT_WRITTEN 1      /* records written to the ring buffer */
#define STAT_RINGBUF_FULL 2 /* records lost: the ring buffer was full */
#define STAT_NO_MESSAGE 3   /* DNS port, but no DNS header: TCP control segments, short datagrams */
#define STAT_DUPLICATE 4    /* copies of a message already reported (stacked devices) */
#define STAT_MAX 5

/* Load-time settings (user space writes them before load). */
/* The DNS server ports, matched as source or destination; 0 marks an unused slot. Keep in step with src/options.ts. */
#define MAX_DNS_PORTS 8
const volatile __u16 dns_ports[MAX_DNS_PORTS] = { 53, 5353 };
/* Bytes of each DNS message copied into its record (1 .. DNS_MAX_CAPTURE). */
RETINA_CONST(__u32, capture_bytes, 512);
/* Copies of one message seen within this many ns are reported once; 0 reports every copy. */
RETINA_CONST(__u64, dup_window_ns, 5000000);

/* One ring-buffer record header; `cap_len` bytes of the DNS message follow it. Layout mirrored in src/decode.ts. */
struct rts_dns_event {
	__u64 ts_ns;     /* bpf_ktime_get_ns() */
	__u8 saddr[16];  /* IPv4 in the first 4 bytes, network order */
	__u8 daddr[16];
	__u16 sport;     /* host order */
	__u16 dport;
	__u32 ifindex;   /* interface the packet was seen on */
	__u32 pkt_len;   /* skb->len at the tap: with the link-layer header where the device has one */
	__u16 msg_len;   /* DNS message length on the wire (UDP payload, or the TCP length prefix) */
	__u16 cap_len;   /* bytes of the message that follow this header */
	__u8 family;     /* 4 or 6 */
	__u8 proto;      /* 6 (TCP) or 17 (UDP) */
	__u8 pkt_type;   /* PACKET_HOST, PACKET_OUTGOING, ... */
	__u8 _pad[5];
};

/* Identity of a message for duplicate folding. */
struct rts_dns_dup_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u8 head[4]; /* DNS id and flags */
	__u16 msg_len;
	__u8 proto;
	__u8 _pad;
};

struct rts_dns_scratch {
	struct rts_dns_event hdr;
	__u8 data[DNS_MAX_CAPTURE];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22); /* resized by user space before load */
} rts_dns_events SEC(".maps");

/* A record is assembled here: it is too large for the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rts_dns_scratch);
} rts_dns_scratch SEC(".maps");

static __always_inline bool is_dns_port(__u16 port)
{
#pragma unroll
	for (int i = 0; i < MAX_DNS_PORTS; i++) {
		if (dns_ports[i] != 0 && dns_ports[i] == port)
			return true;
	}
	return false;
}

/* When each recent message was last reported; only entries younger than dup_window_ns matter. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct rts_dns_dup_key);
	__type(value, __u64);
} rts_dns_recent SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} rts_dns_stats SEC(".maps");

static __always_inline void stat_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&rts_dns_stats, &idx);

	if (v)
		*v += 1;
}

/*
 * Offset of the network header from skb->data, and the network protocol in *l3proto. A raw packet socket sees the
 * link-layer header on devices that have one (Ethernet, loopback, veth) and the bare IP packet on layer-3 devices
 * (tun, WireGuard). A bare IP packet is recognised by its version and by its length field matching the packet
 * length exactly, which an Ethernet frame (whose first byte is a destination MAC address) does not produce in
 * practice. A frame whose VLAN tag is still in the data (sent through a VLAN device without tag offload) has
 * skb->protocol 802.1Q and its IP header after the tag. Returns -1 for anything else.
 */
static __always_inline int network_offset(struct __sk_buff *skb, __be16 *l3proto)
{
	__be16 proto = (__be16)skb->protocol;
	__be16 ethertype;
	/* Enough for either reading: an IP header's first bytes, or an Ethernet header. A packet shorter than this
	 * holds no UDP or TCP header behind an IP header, so it is of no interest either way. */
	__u8 first[ETH_HLEN_];

	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		if (bpf_skb_load_bytes(skb, 16, &ethertype, sizeof(ethertype)) < 0)
			return -1;
		if (ethertype != bpf_htons(ETH_P_IP) && ethertype != bpf_htons(ETH_P_IPV6))
			return -1;
		*l3proto = ethertype;
		return ETH_HLEN_ + 4;
	}
	if (proto != bpf_htons(ETH_P_IP) && proto != bpf_htons(ETH_P_IPV6))
		return -1;
	*l3proto = proto;

	if (bpf_skb_load_bytes(skb, 0, first, sizeof(first)) < 0)
		return -1;
	if (proto == bpf_htons(ETH_P_IP) && (first[0] >> 4) == 4 && (first[0] & 0xf) >= 5 &&
	    ((__u32)first[2] << 8 | first[3]) == skb->len)
		return 0;
	if (proto == bpf_htons(ETH_P_IPV6) && (first[0] >> 4) == 6 && skb->len >= sizeof(struct ipv6hdr) &&
	    ((__u32)first[4] << 8 | first[5]) + sizeof(struct ipv6hdr) == skb->len)
		return 0;
	__builtin_memcpy(&ethertype, &first[12], sizeof(ethertype));
	return ethertype == proto ? ETH_HLEN_ : -1;
}

/* The two port fields that open a UDP or TCP header. */
struct l4_ports {
	__be16 source;
	__be16 dest;
};

/*
 * The ports of a UDP or TCP header at l4_off (`with_ip`: already read together with the IP header) into *sport and
 * *dport; false for another protocol, an unreadable header, or ports that are not a DNS server's.
 */
static __always_inline bool dns_transport_ports(struct __sk_buff *skb, __u8 proto, __u64 l4_off,
						const struct l4_ports *with_ip, __u16 *sport, __u16 *dport)
{
	struct l4_ports ports;

	if (proto != PROTO_UDP && proto != PROTO_TCP)
		return false;
	if (with_ip)
		ports = *with_ip;
	else if (bpf_skb_load_bytes(skb, l4_off, &ports, sizeof(ports)) < 0)
		return false;
	*sport = bpf_ntohs(ports.source);
	*dport = bpf_ntohs(ports.dest);
	return is_dns_port(*sport) || is_dns_port(*dport);
}

SEC("socket")
int rts_dns_filter(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__be16 l3proto = 0;
	__u32 pkt_type = skb->pkt_type;
	/* 64-bit so that the bounds the verifier learns from a comparison stay on the register later passed on. */
	__u64 l3_len, l4_off, msg_off, msg_len, avail, cap, size;
	__u8 proto;
	__u16 sport, dport;
	int l3;
	/* The IP header with, in the usual case of no options or extension headers, the ports right behind it:
	 * most packets are told apart from DNS with this one read. */
	union {
		struct {
			struct iphdr ip;
			struct l4_ports ports;
		} v4;
		struct {
			struct ipv6hdr ip6;
			struct l4_ports ports;
		} v6;
	} h;

	/* Out of this namespace: only what it originated; a forwarded packet was reported on its way in. */
	if (pkt_type == PACKET_OUTGOING && (skb->ingress_ifindex != 0 || skb->ifindex == LOOPBACK_IFINDEX_))
		return 0;
	l3 = network_offset(skb, &l3proto);
	if (l3 < 0)
		return 0;

	if (l3proto == bpf_htons(ETH_P_IP)) {
		__u32 ihl;

		if (bpf_skb_load_bytes(skb, l3, &h.v4, sizeof(h.v4)) < 0)
			return 0;
		/* A later fragment has no transport header; the first one is parsed as far as it goes. */
		if (h.v4.ip.frag_off & bpf_htons(0x1fff))
			return 0;
		ihl = (__u32)h.v4.ip.ihl * 4;
		if (ihl < sizeof(h.v4.ip))
			return 0;
		proto = h.v4.ip.protocol;
		l4_off = l3 + ihl;
		if (!dns_transport_ports(skb, proto, l4_off, ihl == sizeof(h.v4.ip) ? &h.v4.ports : NULL, &sport, &dport))
			return 0;
		l3_len = bpf_ntohs(h.v4.ip.tot_len);
		if (l3_len < ihl)
			return 0;
		l3_len -= ihl; /* from here: bytes after the IP header */
	} else {
		__u32 off;
		__u8 next;

		/* An IPv6 packet too short for the ports behind its header carries no UDP or TCP header either. */
		if (bpf_skb_load_bytes(skb, l3, &h.v6, sizeof(h.v6)) < 0)
			return 0;
		next = h.v6.ip6.nexthdr;
		off = l3 + sizeof(h.v6.ip6);
		l3_len = bpf_ntohs(h.v6.ip6.payload_len);
#pragma unroll
		for (int i = 0; i < IPV6_MAX_EXT; i++) {
			struct {
				__u8 next;
				__u8 len;
				__be16 frag_off; /* fragment header only */
			} ext;
			__u32 ext_len;

			if (next != IPPROTO_HOPOPTS && next != IPPROTO_ROUTING && next != IPPROTO_DSTOPTS &&
			    next != IPPROTO_FRAGMENT && next != IPPROTO_AH)
				break;
			if (bpf_skb_load_bytes(skb, off, &ext, sizeof(ext)) < 0)
				return 0;
			if (next == IPPROTO_FRAGMENT) {
				if (ext.frag_off & bpf_htons(0xfff8))
					return 0;
				ext_len = 8;
			} else if (next == IPPROTO_AH) {
				ext_len = ((__u32)ext.len + 2) * 4;
			} else {
				ext_len = ((__u32)ext.len + 1) * 8;
			}
			if (l3_len < ext_len)
				return 0;
			l3_len -= ext_len;
			off += ext_len;
			next = ext.next;
		}
		proto = next;
		l4_off = off;
		if (!dns_transport_ports(skb, proto, l4_off, off == l3 + sizeof(h.v6.ip6) ? &h.v6.ports : NULL, &sport,
					 &dport))
			return 0;
	}

	/* A DNS port: from here on the packet is worth the record's scratch space. */
	struct rts_dns_scratch *s = bpf_map_lookup_elem(&rts_dns_scratch, &zero);
	if (!s)
		return 0;
	struct rts_dns_event *e = &s->hdr;

	if (l3proto == bpf_htons(ETH_P_IP)) {
		__builtin_memset(e->saddr, 0, sizeof(e->saddr));
		__builtin_memset(e->daddr, 0, sizeof(e->daddr));
		__builtin_memcpy(e->saddr, &h.v4.ip.saddr, 4);
		__builtin_memcpy(e->daddr, &h.v4.ip.daddr, 4);
		e->family = 4;
	} else {
		__builtin_memcpy(e->saddr, &h.v6.ip6.saddr, 16);
		__builtin_memcpy(e->daddr, &h.v6.ip6.daddr, 16);
		e->family = 6;
	}

	if (proto == PROTO_UDP) {
		struct udphdr udp;
		__u32 udp_len;

		if (bpf_skb_load_bytes(skb, l4_off, &udp, sizeof(udp)) < 0)
			return 0;
		udp_len = bpf_ntohs(udp.len);
		if (udp_len < sizeof(udp) + DNS_HEADER_LEN) {
			stat_inc(STAT_NO_MESSAGE);
			return 0;
		}
		msg_off = l4_off + sizeof(udp);
		msg_len = udp_len - sizeof(udp);
	} else {
		struct tcphdr tcp;
		__u32 doff;
		__be16 prefix;
		__be16 qdcount;

		if (bpf_skb_load_bytes(skb, l4_off, &tcp, sizeof(tcp)) < 0)
			return 0;
		doff = (__u32)tcp.doff * 4;
		/* Over TCP a message starts with a 2-byte length; segments without a whole DNS header carry none. */
		if (doff < sizeof(tcp) || l3_len < doff + 2 + DNS_HEADER_LEN) {
			stat_inc(STAT_NO_MESSAGE);
			return 0;
		}
		if (bpf_skb_load_bytes(skb, l4_off + doff, &prefix, sizeof(prefix)) < 0)
			return 0;
		msg_len = bpf_ntohs(prefix);
		msg_off = l4_off + doff + 2;
		/*
		 * A segment that continues a long message does not start with a length and a header. Real headers carry
		 * at most one question; a continuation rarely passes both checks, and one that does fails to decode.
		 */
		if (bpf_skb_load_bytes(skb, msg_off + 4, &qdcount, sizeof(qdcount)) < 0)
			return 0;
		if (msg_len < DNS_HEADER_LEN || bpf_ntohs(qdcount) > 1) {
			stat_inc(STAT_NO_MESSAGE);
			return 0;
		}
	}
	/* Copy what the packet holds of the message, up to capture_bytes. */
	avail = skb->len > msg_off ? skb->len - msg_off : 0;
	cap = msg_len < avail ? msg_len : avail;
	if (cap > capture_bytes)
		cap = capture_bytes;
	if (cap < DNS_HEADER_LEN) {
		stat_inc(STAT_NO_MESSAGE);
		return 0;
	}
	if (cap > DNS_MAX_CAPTURE)
		cap = DNS_MAX_CAPTURE;
	barrier_var(cap);
	if (bpf_skb_load_bytes(skb, msg_off, s->data, cap) < 0)
		return 0;

	e->ts_ns = bpf_ktime_get_ns();
	if (dup_window_ns) {
		struct rts_dns_dup_key k = {};
		__u64 *seen;

		__builtin_memcpy(k.saddr, e->saddr, sizeof(k.saddr));
		__builtin_memcpy(k.daddr, e->daddr, sizeof(k.daddr));
		k.sport = sport;
		k.dport = dport;
		__builtin_memcpy(k.head, s->data, sizeof(k.head));
		k.msg_len = msg_len;
		k.proto = proto;
		seen = bpf_map_lookup_elem(&rts_dns_recent, &k);
		if (seen && e->ts_ns - *seen <= dup_window_ns) {
			stat_inc(STAT_DUPLICATE);
			return 0;
		}
		bpf_map_update_elem(&rts_dns_recent, &k, &e->ts_ns, BPF_ANY);
	}
	e->sport = sport;
	e->dport = dport;
	e->ifindex = skb->ifindex;
	e->pkt_len = skb->len;
	e->msg_len = msg_len;
	e->cap_len = cap;
	e->proto = proto;
	e->pkt_type = pkt_type;
	__builtin_memset(e->_pad, 0, sizeof(e->_pad));

	stat_inc(STAT_MATCHED);
	size = sizeof(*e) + cap;
	if (size > sizeof(*s))
		return 0;
	if (bpf_ringbuf_output(&rts_dns_events, s, size, 0) == 0)
		stat_inc(STAT_WRITTEN);
	else
		stat_inc(STAT_RINGBUF_FULL);
	return 0;
}

RETINA_LICENSE("Dual MIT/GPL");
