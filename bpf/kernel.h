/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * kernel.h: the few kernel-internal structures drop.c reads, declared with
 * only the fields it uses. They carry preserve_access_index, so clang emits
 * BPF CO-RE relocations and the loader (cilium/ebpf) fixes every offset
 * against the running kernel's BTF (/sys/kernel/btf/vmlinux) at load time.
 * Declaring them here instead of including a vmlinux.h dumped by bpftool
 * keeps the compiled object independent of the machine that builds it, as
 * headers/types.h does for flow.c (CI checks the object is byte-identical).
 *
 * Field names match the kernel's; anonymous unions and structs the kernel
 * wraps them in are left out (CO-RE looks through them).
 */
#ifndef __FLOWAUDIT_KERNEL_H
#define __FLOWAUDIT_KERNEL_H

#include "headers/types.h"

#define __core __attribute__((preserve_access_index))

/* bpf_core_field_exists: 1 when the running kernel has the field. */
#define field_exists(f) __builtin_preserve_field_info(f, 2 /* BPF_FIELD_EXISTS */)

struct ns_common {
	unsigned int inum; /* the nsfs inode number: stat(/proc/PID/ns/net).st_ino */
} __core;

struct net {
	struct ns_common ns;
} __core;

typedef struct {
	struct net *net;
} __core possible_net_t;

struct net_device {
	int ifindex;
	possible_net_t nd_net;
} __core;

struct kernfs_node {
	__u64 id;
} __core;

struct cgroup {
	struct kernfs_node *kn;
} __core;

struct sock_cgroup_data {
	struct cgroup *cgroup;
} __core;

typedef struct {
	int owned;
} __core socket_lock_t;

struct sock_common {
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
} __core;

struct sock {
	struct sock_common __sk_common;
	socket_lock_t sk_lock;
	struct sock_cgroup_data sk_cgrp_data;
} __core;

struct skb_shared_info {
	unsigned short gso_segs;
} __core;

struct sk_buff {
	struct net_device *dev;
	struct sock *sk;
	unsigned int len;
	int skb_iif;
	__u16 network_header;
	unsigned int tail; /* sk_buff_data_t: an offset from head on 64-bit kernels */
	unsigned int end;
	unsigned char *head;
} __core;

/* Socket states that are not full sockets (sk_fullsock() in the kernel). */
#define TCP_TIME_WAIT 6
#define TCP_NEW_SYN_RECV 12

#endif /* __FLOWAUDIT_KERNEL_H */
