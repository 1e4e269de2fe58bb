// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * drop.c: flowaudit's local drop probe. A tp_btf program on the
 * skb:kfree_skb tracepoint sees every packet the kernel frees as dropped,
 * with the kernel's own reason (enum skb_drop_reason). It keeps the drops
 * of one network namespace (the capture interface's) whose reason user
 * space chose, parses the dropped packet's IP and transport headers and
 * aggregates them per (flow, direction, reason) in an LRU hash map.
 *
 * The cgroup connect/sendmsg hooks of proc.h (a copy separate from the
 * flow backend's, so the probe also runs beside AF_PACKET capture) store
 * the process on the socket; a drop of that socket's packet takes it from
 * there. Without it, the current task is taken only when it holds the
 * socket's lock (it is then the process sending, not a timer or softirq
 * that happened to interrupt some other task).
 *
 * Kernel structures are read through BPF CO-RE (kernel.h): the loader
 * relocates every field against the running kernel's BTF.
 *
 * Built by bpf2go (see capture/ebpf/gen.go); the object is committed.
 */
#include "drop.h"
#include "kernel.h"
#include "parse.h"
#include "proc.h"

char __license[] SEC("license") = "Dual BSD/GPL";

/* The namespace to watch (its nsfs inode number), and the
 * reasons to record, one bit per enum skb_drop_reason value; set by the
 * loader from the kernel's BTF before loading. */
volatile const __u32 netns_ino = 0;
volatile const __u64 keep_reasons[DROP_REASON_SLOTS / 64];

/* Sized by user space from DropOptions.MaxEntries before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct drop_key);
	__type(value, struct drop_val);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DCNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} drop_counters SEC(".maps");

/* Every drop in the namespace, kept reason or not, by reason. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, DROP_REASON_SLOTS);
	__type(key, __u32);
	__type(value, __u64);
} reason_counts SEC(".maps");

/* Referenced so that bpf2go -type finds it in BTF. */
enum drop_counter unused_drop_counter __attribute__((unused));

static __always_inline void bump(void *map, __u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(map, &idx);

	if (c)
		*c += 1;
}

/* skb_netns places a packet: the namespace (inode number) of its device,
 * or before routing (no device yet: locally generated packets at the output
 * hook) of its socket. 0 when it has neither. */
static __always_inline __u32 skb_netns(struct sk_buff *skb)
{
	struct net_device *dev = skb->dev;
	struct sock *sk = skb->sk;
	struct net *net = 0;

	if (dev)
		net = dev->nd_net.net;
	else if (sk)
		net = sk->__sk_common.skc_net.net;
	if (!net)
		return 0;
	return net->ns.inum;
}

/* load reads n bytes at offset off of the skb's linear data (headers are
 * there on every path that drops with a reason). */
static __always_inline int load(struct sk_buff *skb, __u32 off, void *dst, __u32 n)
{
	unsigned char *head = skb->head;

	if (off + n > skb->tail)
		return -1;
	return bpf_probe_read_kernel(dst, n, head + off) < 0 ? -1 : 0;
}

/* parse_ip fills the key's addresses, protocol and version from the IP
 * header at nh, and returns the transport header's offset, or -1 when the
 * header is unreadable, -2 when it is not IPv4/IPv6. *frag is set for a
 * non-first fragment (no transport header). */
static __always_inline int parse_ip(struct sk_buff *skb, __u32 nh, struct drop_key *k, int *frag)
{
	__u8 h[40];

	if (load(skb, nh, h, 1) < 0)
		return -1;
	if ((h[0] >> 4) == 4) {
		if (load(skb, nh, h, 20) < 0)
			return -1;
		__u32 ihl = (h[0] & 0x0f) * 4;
		if (ihl < 20)
			return -1;
		*frag = (((h[6] & 0x1f) << 8) | h[7]) != 0;
		k->proto = h[9];
		k->version = 4;
		map_v4(k->saddr, &h[12]);
		map_v4(k->daddr, &h[16]);
		return nh + ihl;
	}
	if ((h[0] >> 4) != 6)
		return -2;
	if (load(skb, nh, h, 40) < 0)
		return -1;
	__u8 nx = h[6];
	__u32 off = nh + 40;

	__builtin_memcpy(k->saddr, &h[8], 16);
	__builtin_memcpy(k->daddr, &h[24], 16);
	k->version = 6;
	*frag = 0;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u8 e[4];

		if (nx != 0 && nx != 43 && nx != 60 && nx != 44 && nx != 51)
			break;
		if (load(skb, off, e, sizeof(e)) < 0)
			return -1;
		if (nx == 44) {
			if (((((__u32)e[2] << 8) | e[3]) & 0xfff8) != 0)
				*frag = 1;
			off += 8;
		} else if (nx == 51) {
			off += ((__u32)e[1] + 2) * 4;
		} else {
			off += ((__u32)e[1] + 1) * 8;
		}
		nx = e[0];
	}
	k->proto = nx;
	return off;
}

/* parse_l4 fills ports (ICMP: type and code) and TCP flags. */
static __always_inline int parse_l4(struct sk_buff *skb, __u32 off, struct drop_key *k, __u8 *flags)
{
	__u8 b[14];

	switch (k->proto) {
	case IPPROTO_TCP:
		if (load(skb, off, b, 14) < 0)
			return -1;
		*flags = b[13];
		break;
	case IPPROTO_UDP:
		if (load(skb, off, b, 4) < 0)
			return -1;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (load(skb, off, b, 2) < 0)
			return -1;
		k->sport = b[0];
		k->dport = b[1];
		return 0;
	default:
		return 0;
	}
	k->sport = ((__u16)b[0] << 8) | b[1];
	k->dport = ((__u16)b[2] << 8) | b[3];
	return 0;
}

/* owner fills the process and cgroup of a locally generated packet from
 * its socket (see the file comment for when the current task is used). */
static __always_inline void owner(struct sk_buff *skb, struct drop_val *v)
{
	struct sock *sk = skb->sk;
	struct proc_info *pi;
	__u8 state;

	if (!sk)
		return;
	state = sk->__sk_common.skc_state;
	if (state == TCP_TIME_WAIT || state == TCP_NEW_SYN_RECV)
		return; /* not a full socket: no process, no cgroup */
	if (field_exists(sk->sk_cgrp_data)) {
		struct cgroup *cg = sk->sk_cgrp_data.cgroup;

		if (cg && cg->kn)
			v->cgroup_id = cg->kn->id;
	}
	pi = bpf_sk_storage_get(&sk_proc, sk, 0, 0);
	if (pi) {
		v->pid = pi->pid;
		__builtin_memcpy(v->comm, pi->comm, sizeof(v->comm));
		v->proc_how = DROP_PROC_HOOK;
	} else if (sk->sk_lock.owned) {
		v->pid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(v->comm, sizeof(v->comm));
		v->proc_how = DROP_PROC_CURRENT;
	}
}

/* record adds one drop to its entry, creating it when missing. */
static __always_inline void record(struct sk_buff *skb, struct drop_key *k, __u8 flags)
{
	struct skb_shared_info *si = (void *)(skb->head + skb->end);
	struct net_device *dev = skb->dev;
	struct drop_val *v, nv;
	__u64 now = bpf_ktime_get_boot_ns();
	__u16 segs = 0;
	long err;

	v = bpf_map_lookup_elem(&drops, k);
	if (!v) {
		__builtin_memset(&nv, 0, sizeof(nv));
		nv.first_ns = now;
		nv.last_ns = now;
		nv.ifindex = dev ? dev->ifindex : skb->skb_iif;
		if (k->dir == DROP_DIR_OUTPUT)
			owner(skb, &nv);
		err = bpf_map_update_elem(&drops, k, &nv, BPF_NOEXIST);
		if (err == 0) {
			bump(&drop_counters, DCNT_CREATED);
		} else if (err != -17 /* EEXIST: another CPU created it */) {
			bump(&drop_counters, DCNT_MAP_FULL);
			return;
		}
		v = bpf_map_lookup_elem(&drops, k);
		if (!v) {
			bump(&drop_counters, DCNT_MAP_FULL);
			return;
		}
	} else if (k->dir == DROP_DIR_OUTPUT && v->proc_how == DROP_PROC_NONE)
		owner(skb, v); /* the first drop was not in the sender's context */
	bpf_probe_read_kernel(&segs, sizeof(segs), &si->gso_segs);
	__sync_fetch_and_add(&v->packets, segs > 1 ? segs : 1);
	__sync_fetch_and_add(&v->bytes, skb->len);
	if (flags)
		__sync_fetch_and_or(&v->tcp_flags, (__u32)flags);
	if (now > v->last_ns)
		v->last_ns = now;
	bump(&drop_counters, DCNT_RECORDED);
}

SEC("tp_btf/kfree_skb")
int drop_kfree_skb(__u64 *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx[0];
	__u32 reason = (__u32)ctx[2];
	struct drop_key k;
	__u8 flags = 0;
	int frag = 0, l4;
	__u32 ns;

	if (!skb)
		return 0;
	ns = skb_netns(skb);
	if (ns == 0 || ns != netns_ino)
		return 0; /* another namespace's, or nowhere to place it */
	bump(&reason_counts, reason < DROP_REASON_SLOTS ? reason : DROP_REASON_SLOTS - 1);
	if (reason >= DROP_REASON_SLOTS || !(keep_reasons[reason / 64] & (1ULL << (reason % 64))))
		return 0;

	__builtin_memset(&k, 0, sizeof(k));
	k.reason = reason;
	k.dir = skb->skb_iif ? DROP_DIR_INPUT : DROP_DIR_OUTPUT;
	if (skb->network_header == 0xffff) {
		bump(&drop_counters, DCNT_NOT_IP);
		return 0;
	}
	l4 = parse_ip(skb, skb->network_header, &k, &frag);
	if (l4 == -2) {
		bump(&drop_counters, DCNT_NOT_IP);
		return 0;
	}
	if (l4 < 0 || (!frag && parse_l4(skb, l4, &k, &flags) < 0)) {
		bump(&drop_counters, DCNT_TRUNCATED);
		return 0;
	}
	record(skb, &k, flags);
	return 0;
}
