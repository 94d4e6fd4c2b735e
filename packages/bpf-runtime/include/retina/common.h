/* SPDX-License-Identifier: MIT */
/*
 * Common include for retina-ts BPF programs: UAPI types, libbpf's helper headers and a few small macros.
 *
 * Kernel types come from the Linux UAPI headers (packet formats, __sk_buff, xdp_md) plus the hand-written CO-RE
 * definitions in retina/kernel.h for kernel-internal structs. Nothing here depends on the running kernel, so an
 * object compiled once loads on every kernel that has the fields it reads (libbpf relocates the offsets).
 */
#ifndef RETINA_COMMON_H
#define RETINA_COMMON_H

#include <stdbool.h>
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>

/* linux/icmp.h pulls in libc socket headers that do not build for the BPF target, so the few ICMP definitions
 * programs need are given here; the include guard keeps a later #include <linux/icmp.h> from clashing. */
#ifndef _LINUX_ICMP_H
#define _LINUX_ICMP_H
#define ICMP_ECHOREPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO 8
#define ICMP_TIME_EXCEEDED 11
struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	union {
		struct {
			__be16 id;
			__be16 sequence;
		} echo;
		__be32 gateway;
		struct {
			__be16 __unused;
			__be16 mtu;
		} frag;
		__u8 reserved[4];
	} un;
};
#endif

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

/* A load-time setting: user space writes it with BpfObject.setConstant() before load; the verifier then sees a
 * constant and prunes the branches that depend on it. */
#define RETINA_CONST(type, name, value) const volatile type name = value

/* Keeps `struct name` in the object's BTF. A record that only ever lives in ring-buffer memory is otherwise left out
 * of it, and user space checks its declared layout of the record against this BTF (objectLayoutMismatches() of
 * @retina-ts/bpf-runtime). Costs one pointer of .rodata that nothing reads. */
#define RETINA_BTF_STRUCT(name) const struct name *const retina_btf_##name __attribute__((used)) = 0

/* tcx return codes (Linux 6.6); the values equal TC_ACT_UNSPEC/OK/SHOT so one program serves tcx and clsact. */
#ifndef TCX_NEXT
#define TCX_NEXT -1
#define TCX_PASS 0
#define TCX_DROP 2
#endif

/* Observability programs return this from TC hooks so the next filter or tcx program still runs. */
#define RETINA_TC_CONTINUE TC_ACT_UNSPEC

#define RETINA_LICENSE(name) char LICENSE[] SEC("license") = name

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* Bounds-checked pointer into packet data: evaluates to NULL when [off, off + sizeof(type)) is beyond data_end. */
#define RETINA_PKT_PTR(type, data, data_end, off)                                                              \
	((void *)((char *)(data) + (off) + sizeof(type)) > (void *)(data_end)                                     \
		 ? (type *)0                                                                                     \
		 : (type *)((char *)(data) + (off)))

#endif /* RETINA_COMMON_H */
