// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * flow.c: flowaudit's in-kernel flow aggregation. A TC program attached
 * with tcx on ingress and egress parses Ethernet (with up to two VLAN
 * tags), IPv4/IPv6, TCP/UDP/ICMP/ICMPv6 and keeps one LRU hash entry per
 * flow, whichever direction a packet travels. ICMP errors are attached to
 * the flow they quote. Payloads passive naming needs (DNS queries and
 * answers, the first TLS ClientHello or HTTP request of a direction) go
 * to user space through a ring buffer; nothing else does.
 *
 * cgroup sock_addr hooks (proc.h) remember which process connected or sent
 * on a socket (socket-local storage); the TC program copies that into the
 * flow when the socket's first packet leaves.
 *
 * Built by bpf2go (see capture/ebpf/gen.go); the object is committed.
 */
#include "parse.h"
#include "proc.h"
#include "timeout.h"

char __license[] SEC("license") = "Dual BSD/GPL";

/* Sized by user space from LiveOptions.MaxFlows before loading. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct flow_key);
	__type(value, struct flow_val);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} payloads SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");


/* Referenced so that bpf2go -type finds them in BTF. */
struct payload_event *unused_payload_event __attribute__((unused));
enum counter unused_counter __attribute__((unused));

static __always_inline void count(__u32 idx, __u64 n)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		*c += n;
}

/* get_flow returns the entry for k, creating it when missing. */
static __always_inline struct flow_val *get_flow(struct flow_key *k, __u64 now, __u32 ifindex,
						 int *created)
{
	struct flow_val *v = bpf_map_lookup_elem(&flows, k);
	struct flow_val nv;
	long err;

	*created = 0;
	if (v)
		return v;
	__builtin_memset(&nv, 0, sizeof(nv));
	nv.first_ns = now;
	nv.last_ns = now;
	nv.ifindex = ifindex;
	err = bpf_map_update_elem(&flows, k, &nv, BPF_NOEXIST);
	if (err == 0) {
		*created = 1;
		count(CNT_FLOWS_CREATED, 1);
	} else if (err != -17 /* EEXIST: another CPU created it first */) {
		count(CNT_INSERT_FAIL, 1);
		return 0;
	}
	return bpf_map_lookup_elem(&flows, k);
}

/* restart reuses an entry for a new flow on the same key, first handing
 * the flow that ended to user space, so that it is reported exactly even
 * if it began and ended between two polls of the map. */
static __always_inline void restart(const struct flow_key *k, struct flow_val *v, __u64 now,
				    __u32 ifindex)
{
	struct payload_event *e = bpf_ringbuf_reserve(&payloads, sizeof(*e), 0);

	if (e) {
		__builtin_memcpy(&e->key, k, sizeof(*k));
		__builtin_memcpy(e->data, v, sizeof(*v));
		e->ts = now;
		e->len = sizeof(*v);
		e->orig_len = 0;
		e->dir = 0;
		e->kind = EVENT_FINISHED;
		bpf_ringbuf_submit(e, 0);
	} else {
		count(CNT_RINGBUF_DROP, 1);
	}
	__builtin_memset(v, 0, sizeof(*v));
	v->first_ns = now;
	v->last_ns = now;
	v->ifindex = ifindex;
	count(CNT_FLOWS_RESTARTED, 1);
}

/* set_opener records who opened a new flow, from its first packet. */
static __always_inline void set_opener(struct flow_val *v, __u8 dir, __u8 proto, __u8 flags)
{
	v->opener = dir;
	v->opener_how = OPENER_FIRST;
	if (proto != IPPROTO_TCP || !(flags & TCP_SYN))
		return;
	if (flags & TCP_ACK) {
		v->opener = dir ^ 1;
		v->opener_how = OPENER_SYNACK;
	} else {
		v->opener_how = OPENER_SYN;
	}
}

/* emit copies the start of a payload to the ring buffer. */
static __always_inline void emit(struct __sk_buff *skb, const struct flow_key *k, __u8 dir,
				 __u8 kind, __u32 off, __u32 plen, __u64 now)
{
	struct payload_event *e = bpf_ringbuf_reserve(&payloads, sizeof(*e), 0);
	__u32 n = 0;

	if (!e) {
		count(CNT_RINGBUF_DROP, 1);
		return;
	}
	if (skb->len > off)
		n = skb->len - off;
	if (n > plen)
		n = plen;
	if (n > PAYLOAD_MAX)
		n = PAYLOAD_MAX;
	if (n > 0 && bpf_skb_load_bytes(skb, off, e->data, n) < 0)
		n = 0;
	__builtin_memcpy(&e->key, k, sizeof(*k));
	e->ts = now;
	e->len = n;
	e->orig_len = plen;
	e->dir = dir;
	e->kind = kind;
	bpf_ringbuf_submit(e, 0);
}

/* first_payload_kind says whether a direction's first payload is a TLS
 * ClientHello or an HTTP request (0: neither, not sent). */
static __always_inline __u8 first_payload_kind(struct __sk_buff *skb, __u32 off)
{
	__u8 b[6];
	__u32 m;

	if (bpf_skb_load_bytes(skb, off, b, sizeof(b)) < 0)
		return 0;
	if (b[0] == 0x16 && b[1] == 0x03 && b[5] == 0x01)
		return PAYLOAD_TLS;
	m = ((__u32)b[0] << 24) | ((__u32)b[1] << 16) | ((__u32)b[2] << 8) | b[3];
	switch (m) {
	case 0x47455420: /* "GET " */
	case 0x504f5354: /* "POST" */
	case 0x48454144: /* "HEAD" */
	case 0x50555420: /* "PUT " */
	case 0x44454c45: /* "DELE" */
	case 0x4f505449: /* "OPTI" */
	case 0x434f4e4e: /* "CONN" */
	case 0x50415443: /* "PATC" */
		return PAYLOAD_HTTP;
	}
	return 0;
}

/* icmp_error attaches an ICMP error (outer header in outer) to the flow of
 * the packet it quotes. It returns 0 when no such flow is in the map: the
 * error is then accounted as a flow of its own, as capture/flow does. */
static __always_inline int icmp_error(struct __sk_buff *skb, const struct ip_info *outer,
				      __u8 type, __u8 code, __u64 now)
{
	struct ip_info in;
	struct flow_key k;
	struct flow_val *v;
	__u16 sport = 0, dport = 0;
	__u8 l4[8], counter;
	int err;

	if (outer->proto == IPPROTO_ICMP)
		err = parse_ipv4(skb, outer->l4off + 8, &in);
	else
		err = parse_ipv6(skb, outer->l4off + 8, &in);
	if (err < 0 || bpf_skb_load_bytes(skb, in.l4off, l4, sizeof(l4)) < 0)
		return 0;
	if (in.proto == IPPROTO_TCP || in.proto == IPPROTO_UDP) {
		sport = ((__u16)l4[0] << 8) | l4[1];
		dport = ((__u16)l4[2] << 8) | l4[3];
	} else if ((in.proto == IPPROTO_ICMP || in.proto == IPPROTO_ICMPV6) &&
		   icmp_class(in.proto, l4[0], &counter) == ICMP_ECHO) {
		sport = dport = ((__u16)l4[4] << 8) | l4[5];
	}
	make_key(&k, in.src, sport, in.dst, dport, in.proto);
	v = bpf_map_lookup_elem(&flows, &k);
	if (!v)
		return 0;
	count(CNT_ICMP_ATTACHED, 1);
	v->icmp_type = type;
	v->icmp_code = code;
	v->icmp_version = outer->proto == IPPROTO_ICMP ? 4 : 6;
	__builtin_memcpy(v->icmp_from, outer->src, 16);
	v->icmp_ns = now;
	v->icmp_seen = 1;
	if (now > v->last_ns)
		v->last_ns = now;
	return 1;
}

static __always_inline int handle(struct __sk_buff *skb, int egress)
{
	struct ip_info ip;
	struct flow_key k;
	struct flow_val *v;
	__u64 now = bpf_ktime_get_boot_ns();
	__u32 off = 14, hdr, segs = skb->gso_segs, plen;
	__u16 proto, sport = 0, dport = 0;
	__u8 b[20], dir, flags = 0, kind, counter, icmp_type = 0, icmp_code = 0;
	int created, err;

	if (segs == 0)
		segs = 1;
	count(CNT_PACKETS, segs);
	if (bpf_skb_load_bytes(skb, 12, b, 2) < 0) {
		count(CNT_TRUNCATED, 1);
		return TC_ACT_UNSPEC;
	}
	proto = ((__u16)b[0] << 8) | b[1];
#pragma unroll
	for (int i = 0; i < 2; i++) {
		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if (bpf_skb_load_bytes(skb, off + 2, b, 2) < 0) {
			count(CNT_TRUNCATED, 1);
			return TC_ACT_UNSPEC;
		}
		proto = ((__u16)b[0] << 8) | b[1];
		off += 4;
	}
	if (proto == ETH_P_IP) {
		err = parse_ipv4(skb, off, &ip);
	} else if (proto == ETH_P_IPV6) {
		err = parse_ipv6(skb, off, &ip);
	} else {
		count(CNT_NOT_IP, segs);
		return TC_ACT_UNSPEC;
	}
	if (err < 0) {
		count(CNT_TRUNCATED, 1);
		return TC_ACT_UNSPEC;
	}
	if (ip.fragment) {
		count(CNT_FRAGMENTS, 1);
		return TC_ACT_UNSPEC;
	}

	switch (ip.proto) {
	case IPPROTO_TCP:
		if (bpf_skb_load_bytes(skb, ip.l4off, b, 20) < 0)
			goto truncated;
		sport = ((__u16)b[0] << 8) | b[1];
		dport = ((__u16)b[2] << 8) | b[3];
		flags = b[13];
		hdr = (b[12] >> 4) * 4;
		break;
	case IPPROTO_UDP:
		if (bpf_skb_load_bytes(skb, ip.l4off, b, 8) < 0)
			goto truncated;
		sport = ((__u16)b[0] << 8) | b[1];
		dport = ((__u16)b[2] << 8) | b[3];
		hdr = 8;
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if ((ip.proto == IPPROTO_ICMP) != (proto == ETH_P_IP))
			return TC_ACT_UNSPEC;
		if (bpf_skb_load_bytes(skb, ip.l4off, b, 8) < 0)
			goto truncated;
		hdr = 8;
		icmp_type = b[0];
		icmp_code = b[1];
		switch (icmp_class(ip.proto, icmp_type, &counter)) {
		case ICMP_ECHO:
			sport = dport = ((__u16)b[4] << 8) | b[5];
			break;
		case ICMP_ERROR:
			if (icmp_error(skb, &ip, icmp_type, icmp_code, now))
				return TC_ACT_UNSPEC;
			sport = icmp_type;
			dport = icmp_code;
			break;
		default:
			sport = icmp_type;
			dport = counter;
		}
		break;
	default:
		hdr = 0;
	}

	/* Payload as the IP header says; for a GSO super-packet the IP length
	 * describes one segment, so take what the skb holds instead. */
	plen = ip.l4len > hdr ? ip.l4len - hdr : 0;
	if (segs > 1)
		plen = skb->len > ip.l4off + hdr ? skb->len - ip.l4off - hdr : 0;

	dir = make_key(&k, ip.src, sport, ip.dst, dport, (__u8)ip.proto);
	v = get_flow(&k, now, skb->ifindex, &created);
	if (!v)
		return TC_ACT_UNSPEC;
	/* A flow idle past its timeout, a fresh SYN on a closed TCP
	 * connection (reuse), or a non-SYN after an old unanswered attempt
	 * starts a new flow. */
	if (!created && ((now > v->last_ns && now - v->last_ns >= flow_timeout(&k, v)) ||
			 (ip.proto == IPPROTO_TCP && (flags & (TCP_SYN | TCP_ACK | TCP_RST)) == TCP_SYN &&
			  tcp_closed(v)) ||
			 (ip.proto == IPPROTO_TCP && !(flags & TCP_SYN) && v->opener_how == OPENER_SYN &&
			  dir == v->opener && v->pkts[dir ^ 1] == 0 && now - v->first_ns > config.attempt_delay))) {
		restart(&k, v, now, skb->ifindex);
		created = 1;
	}

	__sync_fetch_and_add(&v->pkts[dir], segs);
	__sync_fetch_and_add(&v->bytes[dir], plen);
	__sync_fetch_and_add(&v->wire_bytes[dir], skb->len + (segs - 1) * (ip.l4off + hdr));
	count(CNT_BYTES, skb->len + (segs - 1) * (ip.l4off + hdr));
	if (now > v->last_ns)
		v->last_ns = now;
	if (created) {
		set_opener(v, dir, ip.proto, flags);
		v->first_type = icmp_type;
		v->first_code = icmp_code;
	}
	/* Attempts: pure SYNs (TCP) or any packets (others) sent before the
	 * peer answered. */
	if (v->pkts[dir ^ 1] == 0 &&
	    (ip.proto != IPPROTO_TCP || (flags & (TCP_SYN | TCP_ACK)) == TCP_SYN))
		__sync_fetch_and_add(&v->syns[dir], 1);
	if (ip.proto == IPPROTO_TCP)
		__sync_fetch_and_or(&v->flags[dir], (__u32)flags);

	if (egress && v->pid == 0)
		attribute(skb, v);

	if (plen == 0 || (ip.proto != IPPROTO_TCP && ip.proto != IPPROTO_UDP))
		return TC_ACT_UNSPEC;
	/* DNS queries as well as answers: user space trusts an answer only
	 * when it has seen the query it answers. */
	if (sport == 53 || dport == 53) {
		emit(skb, &k, dir, PAYLOAD_DNS, ip.l4off + hdr, plen, now);
		return TC_ACT_UNSPEC;
	}
	if (ip.proto == IPPROTO_TCP && !(v->payload_seen & (1 << dir))) {
		v->payload_seen |= 1 << dir;
		kind = first_payload_kind(skb, ip.l4off + hdr);
		if (kind)
			emit(skb, &k, dir, kind, ip.l4off + hdr, plen, now);
	}
	return TC_ACT_UNSPEC;

truncated:
	count(CNT_TRUNCATED, 1);
	return TC_ACT_UNSPEC;
}

SEC("tcx/ingress")
int flow_ingress(struct __sk_buff *skb)
{
	return handle(skb, 0);
}

/*
 * On "any" the programs are attached to every interface, and a packet the
 * host forwards crosses two of them: in by one, out by another. Each
 * packet must count once, so each is counted where it enters the host's
 * stack: at ingress for everything that arrives from outside (forwarded
 * or not), at egress only for what the host generated itself, which has
 * no ingress interface (skb_iif 0). The other way round (egress for
 * everything, ingress only for what is delivered locally) cannot be
 * decided at ingress, where the routing decision is still to come. A
 * packet the host drops on the way is then still counted where it came
 * in, as one captured on the interface alone would be.
 */
SEC("tcx/egress")
int flow_egress(struct __sk_buff *skb)
{
	if (config.any_iface && skb->ingress_ifindex != 0)
		return TC_ACT_UNSPEC;
	return handle(skb, 1);
}
