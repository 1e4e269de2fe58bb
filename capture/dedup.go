package capture

import (
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture/decode"
)

// A capture on Linux's "any" pseudo-interface (link type SLL2, or SLL
// from older libpcap) sees a packet once on every interface it crosses:
// forwarded from one interface to another, bridged (the port and the
// bridge), on a bond and its member, on both ends of a veth pair, twice
// on loopback. Counted twice, a flow would have twice its packets, and
// a duplicated SYN would read as a retransmission. dedup drops the
// later copies.

// dedupWindow is how long after a packet a copy of it counts as a
// duplicate. The copies of one packet are captured within microseconds of
// each other (one pass through the kernel's stack). A genuine
// retransmission comes much later: TCP's minimum retransmission timeout
// is 200 ms on Linux and a retransmitted SYN waits a second, a DNS client
// retries after a second or more. 2 ms keeps every retransmission while
// leaving a loaded host's forwarding path a thousand times the usual
// delay. Retransmitted TCP segments differ anyway in their IP ID (IPv4)
// or their timestamp option, hence checksum.
const dedupWindow = 2 * time.Millisecond

// dedupSlots is the size of the recent-packet table: direct-mapped by
// hash, so a copy is missed only when another packet takes its slot in
// the 2 ms between the copies (more than 4 million packets per second
// for half the slots to turn over).
const dedupSlots = 1 << 13

// dedup remembers recent packets by a hash of the fields forwarding does
// not change: addresses, IP protocol, ports, IPv4 ID or IPv6 flow label,
// IP length, fragment offset, TCP sequence, acknowledgement and flags,
// and the TCP/UDP checksum (ICMP type, code and identifier for ICMP).
// TTL, hop limit and the IP checksum are left out: a router decrements
// the first and so changes the second. NAT rewrites addresses and the
// checksum: a NATed packet's copies count twice. It allocates nothing.
// The zero value is ready to use. Not safe for concurrent use.
type dedup struct {
	slots [dedupSlots]dedupSlot
}

type dedupSlot struct {
	hash uint64
	ts   int64
}

// dedupLink reports whether frames of link type lt may be copies of one
// packet seen on several interfaces: Linux cooked captures, which "any"
// produces.
func dedupLink(lt layers.LinkType) bool {
	return lt == layers.LinkTypeLinuxSLL || lt == layers.LinkTypeLinuxSLL2
}

// seen reports whether p is a copy of a packet seen less than
// dedupWindow before; otherwise it remembers p.
func (d *dedup) seen(p *decode.Packet) bool {
	h := packetHash(p)
	s := &d.slots[h&(dedupSlots-1)]
	// Either order: copies taken on two CPUs may reach the ring with the
	// later timestamp first.
	if dt := p.TS - s.ts; s.hash == h && s.ts != 0 && dt >= -int64(dedupWindow) && dt <= int64(dedupWindow) {
		return true
	}
	s.hash, s.ts = h, p.TS
	return false
}

// packetHash mixes the identity fields of p (FNV-1a over 64-bit words,
// each finished with a multiply-xorshift).
func packetHash(p *decode.Packet) uint64 {
	h := uint64(14695981039346656037)
	mix := func(v uint64) {
		h ^= v
		h *= 1099511628211
		h ^= h >> 29
	}
	src, dst := p.Src.As16(), p.Dst.As16()
	mix(le64(src[0:8]))
	mix(le64(src[8:16]))
	mix(le64(dst[0:8]))
	mix(le64(dst[8:16]))
	mix(uint64(p.Proto) | uint64(p.SrcPort)<<8 | uint64(p.DstPort)<<24 | uint64(p.IPLen)<<40)
	mix(uint64(p.IPID) | uint64(p.FragOffset)<<32 | uint64(p.L4Sum)<<48)
	mix(uint64(p.Seq) | uint64(p.Ack)<<32)
	mix(uint64(p.TCPFlags) | uint64(p.ICMPType)<<8 | uint64(p.ICMPCode)<<16 | uint64(p.ICMPID)<<24)
	return h
}

func le64(b []byte) uint64 {
	_ = b[7]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}
