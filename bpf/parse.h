/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * parse.h: header parsing for flow.c. Everything is read with
 * bpf_skb_load_bytes, which also works on non-linear skbs (GSO, paged
 * frames) and keeps the verifier's job simple.
 */
#ifndef __FLOWAUDIT_PARSE_H
#define __FLOWAUDIT_PARSE_H

#include "flow.h"
#include "headers/bpf_helpers.h"
#include "headers/bpf_endian.h"

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8

#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ICMP 1
#define IPPROTO_ICMPV6 58

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* ip_info is one parsed IP header (outer, or quoted in an ICMP error). */
struct ip_info {
	__u8 src[16];
	__u8 dst[16];
	__u32 l4off;      /* offset of the transport header */
	__u32 l4len;      /* IP payload length after extension headers */
	__u8 proto;
	__u8 fragment;    /* 1: a non-first fragment (no transport header) */
};

static __always_inline void map_v4(__u8 *dst, const __u8 *v4)
{
	__builtin_memset(dst, 0, 10);
	dst[10] = 0xff;
	dst[11] = 0xff;
	dst[12] = v4[0];
	dst[13] = v4[1];
	dst[14] = v4[2];
	dst[15] = v4[3];
}

/* parse_ipv4 reads the IPv4 header at off. Returns 0 or -1 (truncated). */
static __always_inline int parse_ipv4(struct __sk_buff *skb, __u32 off, struct ip_info *ip)
{
	__u8 h[20];

	if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) < 0)
		return -1;
	__u32 ihl = (h[0] & 0x0f) * 4;
	__u32 total = ((__u32)h[2] << 8) | h[3];
	if (ihl < 20 || total < ihl)
		return -1;
	ip->fragment = (((h[6] & 0x1f) << 8) | h[7]) != 0;
	ip->proto = h[9];
	map_v4(ip->src, &h[12]);
	map_v4(ip->dst, &h[16]);
	ip->l4off = off + ihl;
	ip->l4len = total - ihl;
	return 0;
}

/* parse_ipv6 reads the IPv6 header at off and skips up to four extension
 * headers. Returns 0 or -1 (truncated). */
static __always_inline int parse_ipv6(struct __sk_buff *skb, __u32 off, struct ip_info *ip)
{
	__u8 h[40];

	if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) < 0)
		return -1;
	__u32 plen = ((__u32)h[4] << 8) | h[5];
	__u8 nh = h[6];
	__builtin_memcpy(ip->src, &h[8], 16);
	__builtin_memcpy(ip->dst, &h[24], 16);
	ip->fragment = 0;
	off += 40;

#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u8 e[4];
		__u32 len;

		if (nh != 0 && nh != 43 && nh != 60 && nh != 44 && nh != 51)
			break;
		if (bpf_skb_load_bytes(skb, off, e, sizeof(e)) < 0)
			return -1;
		if (nh == 44) {
			len = 8;
			if (((((__u32)e[2] << 8) | e[3]) & 0xfff8) != 0)
				ip->fragment = 1;
		} else if (nh == 51) {
			len = ((__u32)e[1] + 2) * 4;
		} else {
			len = ((__u32)e[1] + 1) * 8;
		}
		nh = e[0];
		off += len;
		plen = plen > len ? plen - len : 0;
	}
	ip->proto = nh;
	ip->l4off = off;
	ip->l4len = plen;
	return 0;
}

/* addr_cmp orders two 16-byte addresses like memcmp. */
static __always_inline int addr_cmp(const __u8 *a, const __u8 *b)
{
#pragma unroll
	for (int i = 0; i < 16; i++) {
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	}
	return 0;
}

/* make_key fills k canonically and returns the packet's direction. */
static __always_inline __u8 make_key(struct flow_key *k, const __u8 *src, __u16 sport,
				     const __u8 *dst, __u16 dport, __u8 proto)
{
	int c = addr_cmp(src, dst);
	__u8 dir = (c > 0 || (c == 0 && sport > dport)) ? DIR_HI : DIR_LO;

	if (dir == DIR_LO) {
		__builtin_memcpy(k->addr_lo, src, 16);
		__builtin_memcpy(k->addr_hi, dst, 16);
		k->port_lo = sport;
		k->port_hi = dport;
	} else {
		__builtin_memcpy(k->addr_lo, dst, 16);
		__builtin_memcpy(k->addr_hi, src, 16);
		k->port_lo = dport;
		k->port_hi = sport;
	}
	k->proto = proto;
	k->pad[0] = 0;
	k->pad[1] = 0;
	k->pad[2] = 0;
	return dir;
}

/* ICMP classes, as capture/flow/key.go classifies them. */
#define ICMP_OTHER 0
#define ICMP_ECHO 1
#define ICMP_ERROR 2

/* icmp_class sorts an ICMP/ICMPv6 type into echo, error or other and sets
 * *counter to the type of the other half of the exchange (other only). */
static __always_inline int icmp_class(__u8 proto, __u8 type, __u8 *counter)
{
	*counter = type;
	if (proto == IPPROTO_ICMP) {
		switch (type) {
		case 0:
		case 8:
			return ICMP_ECHO;
		case 3:
		case 4:
		case 5:
		case 11:
		case 12:
			return ICMP_ERROR;
		case 13:
		case 15:
		case 17:
			*counter = type + 1;
			break;
		case 14:
		case 16:
		case 18:
			*counter = type - 1;
			break;
		case 9:
			*counter = 10;
			break;
		case 10:
			*counter = 9;
			break;
		}
		return ICMP_OTHER;
	}
	switch (type) {
	case 128:
	case 129:
		return ICMP_ECHO;
	case 1:
	case 2:
	case 3:
	case 4:
		return ICMP_ERROR;
	case 133:
	case 135:
	case 130:
		*counter = type + 1;
		break;
	case 134:
	case 136:
	case 131:
		*counter = type - 1;
		break;
	}
	return ICMP_OTHER;
}

#endif /* __FLOWAUDIT_PARSE_H */
