/* SPDX-License-Identifier: MIT */
/*
 * Minimal CO-RE definitions of kernel-internal structs, for tracing programs (tp_btf, raw tracepoints).
 *
 * Only the fields listed here can be read; each struct carries preserve_access_index, so clang records the field
 * by name and libbpf rewrites the offset for the running kernel at load time. Field order and the absence of other
 * fields do not matter. Add a field by declaring it with the kernel's name and type. A program that needs many
 * kernel types can instead use a generated vmlinux.h (`retina-bpf build --vmlinux`), but must then not include
 * retina/common.h, whose UAPI headers would clash with it.
 */
#ifndef RETINA_KERNEL_H
#define RETINA_KERNEL_H

#include "retina/common.h"

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct ns_common {
	unsigned int inum;
};

struct net {
	struct ns_common ns;
};

typedef struct {
	struct net *net;
} possible_net_t;

struct net_device {
	int ifindex;
	char name[16];
	possible_net_t nd_net;
};

struct sock_common {
	possible_net_t skc_net;
	union {
		struct {
			__be32 skc_daddr;
			__be32 skc_rcv_saddr;
		};
	};
	union {
		struct {
			__be16 skc_dport;
			__u16 skc_num;
		};
	};
	unsigned short skc_family;
	volatile unsigned char skc_state;
	int skc_bound_dev_if;
	struct in6_addr skc_v6_daddr;
	struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;
	__u16 sk_type;
};

struct sk_buff {
	struct net_device *dev;
	struct sock *sk;
	unsigned int len;
	unsigned int data_len;
	__u16 mac_len;
	__u16 protocol;
	__u16 transport_header;
	__u16 network_header;
	__u16 mac_header;
	__u32 mark;
	int skb_iif;
	unsigned char *head;
	unsigned char *data;
};

struct task_struct {
	int pid;
	int tgid;
	char comm[16];
};

/* Classic tracepoint context of syscalls/sys_enter_* and raw_syscalls/sys_enter. */
struct trace_entry {
	unsigned short type;
	unsigned char flags;
	unsigned char preempt_count;
	int pid;
};

struct trace_event_raw_sys_enter {
	struct trace_entry ent;
	long id;
	unsigned long args[6];
};

#pragma clang attribute pop

/* Architecture register frame; only ever used through pointers, so a declaration is enough. */
struct pt_regs;

#endif /* RETINA_KERNEL_H */
