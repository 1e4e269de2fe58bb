/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * proc.h: process attribution, included once by flow.c. cgroup sock_addr
 * hooks store the pid and command of the process connecting or sending on
 * a socket in socket-local storage; the TC egress program copies them into
 * the flow when that socket's packets leave.
 */
#ifndef __FLOWAUDIT_PROC_H
#define __FLOWAUDIT_PROC_H

#include "parse.h"

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct proc_info);
} sk_proc SEC(".maps");

/* attribute copies the process remembered on the sending socket into v
 * (egress only: locally generated packets carry their socket). */
static __always_inline void attribute(struct __sk_buff *skb, struct flow_val *v)
{
	struct bpf_sock *sk = skb->sk;
	struct proc_info *pi;

	if (!sk)
		return;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return;
	pi = bpf_sk_storage_get(&sk_proc, sk, 0, 0);
	if (!pi)
		return;
	__builtin_memcpy(v->comm, pi->comm, sizeof(v->comm));
	v->pid = pi->pid;
}

/* remember stores the calling process on the socket being connected or
 * sent on. It never blocks anything (returns 1: allow). */
static __always_inline int remember(struct bpf_sock_addr *ctx)
{
	struct bpf_sock *sk = ctx->sk;
	struct proc_info *pi;

	if (!sk)
		return 1;
	pi = bpf_sk_storage_get(&sk_proc, sk, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (pi) {
		pi->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(pi->comm, sizeof(pi->comm));
	}
	return 1;
}

SEC("cgroup/connect4")
int proc_connect4(struct bpf_sock_addr *ctx)
{
	return remember(ctx);
}

SEC("cgroup/connect6")
int proc_connect6(struct bpf_sock_addr *ctx)
{
	return remember(ctx);
}

SEC("cgroup/sendmsg4")
int proc_sendmsg4(struct bpf_sock_addr *ctx)
{
	return remember(ctx);
}

SEC("cgroup/sendmsg6")
int proc_sendmsg6(struct bpf_sock_addr *ctx)
{
	return remember(ctx);
}

#endif /* __FLOWAUDIT_PROC_H */
