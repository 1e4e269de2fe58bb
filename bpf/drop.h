/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * drop.h: the records drop.c shares with user space (capture/ebpf reads
 * them through bpf2go-generated Go types).
 */
#ifndef __FLOWAUDIT_DROP_H
#define __FLOWAUDIT_DROP_H

#include "headers/types.h"

/* Direction of a dropped packet (drop_key.dir). */
#define DROP_DIR_INPUT 1  /* it arrived on an interface (skb->skb_iif set) */
#define DROP_DIR_OUTPUT 2 /* this host made it (skb->skb_iif zero) */

/* How drop_val.pid and comm were found (drop_val.proc_how). */
#define DROP_PROC_NONE 0
#define DROP_PROC_HOOK 1    /* stored on the socket by a cgroup connect/sendmsg hook */
#define DROP_PROC_CURRENT 2 /* the current task, which held the socket's lock */

/*
 * drop_key identifies what was dropped: one direction of one flow, for one
 * reason. Addresses are as in the packet (source first), IPv4 stored
 * IPv4-mapped (::ffff:a.b.c.d); ports in host byte order; ICMP and ICMPv6
 * carry type and code in sport and dport. reason is the kernel's enum
 * skb_drop_reason value, which user space names from the kernel's BTF.
 */
struct drop_key {
	__u8 saddr[16];
	__u8 daddr[16];
	__u16 sport;
	__u16 dport;
	__u32 reason;
	__u8 proto;
	__u8 dir;     /* DROP_DIR_* */
	__u8 version; /* 4 or 6 */
	__u8 pad;
};

/* drop_val aggregates the drops of one key. */
struct drop_val {
	__u64 first_ns;  /* CLOCK_BOOTTIME of the first drop */
	__u64 last_ns;
	__u64 packets;   /* packets: a GSO skb counts its segments */
	__u64 bytes;     /* skb->len summed */
	__u64 cgroup_id; /* cgroup v2 id of the socket's creator (0: no socket) */
	__u32 pid;       /* process, output only (0: unknown) */
	__u32 tcp_flags; /* OR of the TCP flags of the dropped packets */
	__u32 ifindex;   /* skb->dev of the first drop, else the input interface */
	__u8 proc_how;   /* DROP_PROC_* */
	__u8 pad[3];
	__u8 comm[16];
};

/* Indexes of the per-CPU drop_counters map. */
enum drop_counter {
	DCNT_RECORDED = 0, /* drops of kept reasons added to the map */
	DCNT_CREATED,      /* new map entries; minus live entries = evictions */
	DCNT_MAP_FULL,     /* drops not recorded: the map update failed */
	DCNT_TRUNCATED,    /* drops not recorded: IP/transport header unreadable */
	DCNT_NOT_IP,       /* drops of kept reasons that carried no IPv4/IPv6 packet */
	DCNT_MAX,
};

/* Reasons counted one by one in reason_counts (higher ones, and the
 * subsystem reasons above 0xffff, count in the last slot). */
#define DROP_REASON_SLOTS 256

#endif /* __FLOWAUDIT_DROP_H */
