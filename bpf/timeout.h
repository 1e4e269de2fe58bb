/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * timeout.h: when a flow ends, included once by flow.c. The values are
 * capture/flow's (set by the loader), the rules the Table's.
 */
#ifndef __FLOWAUDIT_TIMEOUT_H
#define __FLOWAUDIT_TIMEOUT_H

#include "parse.h"

/*
 * Flow timeouts in nanoseconds, set by user space from capture/flow's
 * defaults before loading (one definition): a packet arriving after its
 * flow was idle this long starts a new flow on the same entry, as the
 * Table finishes the old flow and starts a new one. User space keeps the
 * old flow from its last poll of the map.
 */
volatile const __u64 timeout_tcp = 300000000000ULL;
volatile const __u64 timeout_udp = 60000000000ULL;
volatile const __u64 timeout_dns = 10000000000ULL;
volatile const __u64 timeout_icmp = 60000000000ULL;
volatile const __u64 timeout_other = 60000000000ULL;
volatile const __u64 close_delay = 5000000000ULL;
/* Zeek's tcp_attempt_delay: an unanswered attempt older than this ends when
 * its originator sends something other than a SYN. */
volatile const __u64 attempt_delay = 5000000000ULL;

/* tcp_closed says whether a TCP flow was reset or closed by both sides. */
static __always_inline int tcp_closed(const struct flow_val *v)
{
	__u32 f = v->flags[0] | v->flags[1];

	return (f & TCP_RST) || ((v->flags[0] & TCP_FIN) && (v->flags[1] & TCP_FIN));
}

/* flow_timeout is how long the flow may stay idle (see timeout_*). */
static __always_inline __u64 flow_timeout(const struct flow_key *k, const struct flow_val *v)
{
	switch (k->proto) {
	case IPPROTO_TCP:
		return tcp_closed(v) ? close_delay : timeout_tcp;
	case IPPROTO_UDP:
		return (k->port_lo == 53 || k->port_hi == 53) ? timeout_dns : timeout_udp;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		return timeout_icmp;
	}
	return timeout_other;
}

#endif /* __FLOWAUDIT_TIMEOUT_H */
