/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * flow.h: the records flowaudit's BPF programs share with user space
 * (capture/ebpf reads them through bpf2go-generated Go types).
 */
#ifndef __FLOWAUDIT_FLOW_H
#define __FLOWAUDIT_FLOW_H

#include "headers/types.h"

/* Bytes of payload copied to user space for passive naming. */
#define PAYLOAD_MAX 2048

/* Direction of a packet relative to a canonical key: DIR_LO is sent by the
 * lower (address, port) side, DIR_HI by the higher one. */
#define DIR_LO 0
#define DIR_HI 1

/* How flow_val.opener was decided, weakest first: a later, stronger clue
 * overrides a weaker one. */
#define OPENER_FIRST 0   /* sender of the first packet (user space applies the port heuristic) */
#define OPENER_SYNACK 1  /* receiver of a first-seen SYN-ACK (the SYN was missed) */
#define OPENER_SYN 2     /* sender of a first-seen SYN */

/*
 * flow_key identifies a flow whichever way a packet travels: the two
 * endpoints are stored in canonical order (lower address, then lower port,
 * first), so both directions update one entry. IPv4 addresses are stored
 * IPv4-mapped (::ffff:a.b.c.d). Ports are in host byte order. ICMP flows
 * are keyed as capture/flow keys them: echo by identifier (in both ports),
 * other messages by their type and counterpart type (request <-> reply),
 * unattached errors by type and code.
 */
struct flow_key {
	__u8 addr_lo[16];
	__u8 addr_hi[16];
	__u16 port_lo;
	__u16 port_hi;
	__u8 proto;
	__u8 pad[3];
};

/* flow_val is the kernel's aggregate of one flow. Arrays are indexed by
 * direction (DIR_LO, DIR_HI). */
struct flow_val {
	__u64 first_ns; /* CLOCK_BOOTTIME of the first packet */
	__u64 last_ns;
	__u64 pkts[2];       /* wire packets: GSO segments counted one by one */
	__u64 bytes[2];      /* transport payload bytes, as Zeek counts them */
	__u64 wire_bytes[2]; /* link-layer bytes including replicated headers */
	__u64 icmp_ns;       /* time of the ICMP error, when icmp_seen */
	__u32 flags[2];      /* OR of the TCP flags seen */
	__u32 syns[2];       /* attempts: pure SYNs (TCP) or packets (others) before any answer */
	__u32 pid;           /* process that opened it (0: unknown) */
	__u32 ifindex;       /* interface of the first packet */
	__u8 opener;         /* direction of the originator */
	__u8 opener_how;     /* OPENER_* */
	__u8 icmp_seen;      /* an ICMP error quoted this flow */
	__u8 icmp_type;
	__u8 icmp_code;
	__u8 icmp_version;   /* 4 or 6 */
	__u8 payload_seen;   /* bit per direction: first payload already checked */
	__u8 first_type;     /* ICMP flows: type and code of the first packet */
	__u8 first_code;
	__u8 pad[7];
	__u8 icmp_from[16];  /* sender of the ICMP error */
	__u8 comm[16];       /* command of pid */
};

/* What a payload_event carries. */
#define PAYLOAD_DNS 1  /* a DNS message to or from port 53 (UDP, or TCP with its length prefix) */
#define PAYLOAD_TLS 2  /* the first payload of a direction: a TLS ClientHello */
#define PAYLOAD_HTTP 3 /* the first payload of a direction: an HTTP request */
#define EVENT_FINISHED 4 /* not a payload: data holds the struct flow_val of a
			  * flow that ended when its entry was reused */

/* payload_event is one ring-buffer record: the start of a payload passive
 * naming needs, and only those (see PAYLOAD_*), or a finished flow
 * (EVENT_FINISHED). */
struct payload_event {
	struct flow_key key;
	__u64 ts;       /* CLOCK_BOOTTIME */
	__u32 len;      /* bytes valid in data */
	__u32 orig_len; /* payload length in the packet */
	__u8 dir;       /* DIR_LO: sent by the key's lower side */
	__u8 kind;      /* PAYLOAD_* */
	__u8 pad[6];
	__u8 data[PAYLOAD_MAX];
};

/* Indexes of the per-CPU counters map. */
enum counter {
	CNT_PACKETS = 0,    /* wire packets seen (GSO segments counted) */
	CNT_BYTES,          /* wire bytes seen */
	CNT_INSERT_FAIL,    /* flow map updates that failed */
	CNT_RINGBUF_DROP,   /* payload events lost: ring buffer full */
	CNT_FLOWS_CREATED,  /* new map entries; minus live entries = evictions */
	CNT_NOT_IP,         /* frames that were not IPv4/IPv6 */
	CNT_TRUNCATED,      /* headers shorter than they claim */
	CNT_FRAGMENTS,      /* non-first fragments (no ports: not accounted) */
	CNT_ICMP_ATTACHED,  /* ICMP errors attached to the flow they quote */
	CNT_FLOWS_RESTARTED, /* entries reused for a new flow after a timeout or close */
	CNT_MAX,
};

/* proc_info is what the cgroup hooks store on a socket the gateway opens. */
struct proc_info {
	__u32 pid;
	__u8 comm[16];
};

#endif /* __FLOWAUDIT_FLOW_H */
