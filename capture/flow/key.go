package flow

import (
	"encoding/binary"
	"net/netip"

	"github.com/flowaudit/flowaudit/capture/decode"
)

// Key identifies a bidirectional flow: both packets of an exchange map to
// the same Key whichever way they travel. It is a comparable value of fixed
// arrays with no padding and no pointers, so hashing it is one memory hash
// and a table of them costs the garbage collector nothing.
type Key struct {
	// A and B are the two addresses (16-byte form; IPv4 as v4-mapped),
	// ordered so that (A, PortA) sorts before (B, PortB).
	A, B         [16]byte
	PortA, PortB uint16
	Proto        uint8
	// Fam is 4 or 6.
	Fam uint8
	// ID is the ICMP echo identifier (zero otherwise).
	ID uint16
}

// icmpKind says how an ICMP/ICMPv6 message is keyed.
type icmpKind uint8

const (
	icmpOther icmpKind = iota // keyed by type and counterpart type
	icmpEcho                  // keyed by identifier
	icmpError                 // destination unreachable, time exceeded...
)

// classifyICMP sorts an ICMP type into echo, error or other, and for echo
// and other messages returns the counterpart type (request <-> reply) so
// both halves of an exchange share a key, as Zeek pairs them.
func classifyICMP(v6 bool, typ uint8) (icmpKind, uint8) {
	if !v6 {
		switch typ {
		case 8:
			return icmpEcho, 0
		case 0:
			return icmpEcho, 8
		case 3, 4, 5, 11, 12:
			return icmpError, 0
		case 13, 15, 17:
			return icmpOther, typ + 1
		case 14, 16, 18:
			return icmpOther, typ - 1
		case 9:
			return icmpOther, 10
		case 10:
			return icmpOther, 9
		}
		return icmpOther, typ
	}
	switch typ {
	case 128:
		return icmpEcho, 129
	case 129:
		return icmpEcho, 128
	case 1, 2, 3, 4:
		return icmpError, 0
	case 133:
		return icmpOther, 134
	case 134:
		return icmpOther, 133
	case 135:
		return icmpOther, 136
	case 136:
		return icmpOther, 135
	case 130:
		return icmpOther, 131
	case 131:
		return icmpOther, 130
	}
	return icmpOther, typ
}

// makeKey fills k with the canonical key of a packet and reports whether
// the packet's source is the key's A side. It writes through k rather than
// returning a Key so the 40 bytes are not copied about on the stack.
func makeKey(k *Key, src, dst netip.Addr, sport, dport uint16, proto uint8, id uint16) (fromA bool) {
	k.Proto = proto
	k.ID = id
	k.Fam = 6
	if src.Is4() {
		k.Fam = 4
	}
	s, d := src.As16(), dst.As16()
	sh, dh := binary.BigEndian.Uint64(s[:8]), binary.BigEndian.Uint64(d[:8])
	sl, dl := binary.BigEndian.Uint64(s[8:]), binary.BigEndian.Uint64(d[8:])
	if sh < dh || (sh == dh && (sl < dl || (sl == dl && sport <= dport))) {
		k.A, k.B, k.PortA, k.PortB = s, d, sport, dport
		return true
	}
	k.A, k.B, k.PortA, k.PortB = d, s, dport, sport
	return false
}

// packetKey is makeKey for a decoded packet, applying the ICMP keying
// rules. It returns the ICMP kind so the caller can route errors.
func packetKey(k *Key, p *decode.Packet) (fromA bool, kind icmpKind) {
	switch p.Proto {
	case ProtoTCP, ProtoUDP:
		return makeKey(k, p.Src, p.Dst, p.SrcPort, p.DstPort, p.Proto, 0), 0
	case ProtoICMP, ProtoICMPv6:
		var counter uint8
		kind, counter = classifyICMP(p.Proto == ProtoICMPv6, p.ICMPType)
		switch kind {
		case icmpEcho:
			fromA = makeKey(k, p.Src, p.Dst, 0, 0, p.Proto, p.ICMPID)
		case icmpError:
			fromA = makeKey(k, p.Src, p.Dst, uint16(p.ICMPType), uint16(p.ICMPCode), p.Proto, 0)
		default:
			fromA = makeKey(k, p.Src, p.Dst, uint16(p.ICMPType), uint16(counter), p.Proto, 0)
		}
		return fromA, kind
	}
	return makeKey(k, p.Src, p.Dst, 0, 0, p.Proto, 0), 0
}

// equal compares two keys word by word (inlined, unlike ==, which calls
// the runtime's memequal for a 40-byte struct).
func (k *Key) equal(o *Key) bool {
	le := binary.LittleEndian
	return le.Uint64(k.A[0:8]) == le.Uint64(o.A[0:8]) &&
		le.Uint64(k.A[8:16]) == le.Uint64(o.A[8:16]) &&
		le.Uint64(k.B[0:8]) == le.Uint64(o.B[0:8]) &&
		le.Uint64(k.B[8:16]) == le.Uint64(o.B[8:16]) &&
		k.PortA == o.PortA && k.PortB == o.PortB && k.Proto == o.Proto && k.Fam == o.Fam && k.ID == o.ID
}

// innerKey is the key of the flow an ICMP error quotes, and whether the
// quoted packet's source is the key's A side.
func innerKey(in *decode.Inner) (k Key, srcIsA bool) {
	switch in.Proto {
	case ProtoTCP, ProtoUDP:
		srcIsA = makeKey(&k, in.Src, in.Dst, in.SrcPort, in.DstPort, in.Proto, 0)
	case ProtoICMP, ProtoICMPv6:
		srcIsA = makeKey(&k, in.Src, in.Dst, 0, 0, in.Proto, in.ICMPID)
	default:
		srcIsA = makeKey(&k, in.Src, in.Dst, 0, 0, in.Proto, 0)
	}
	return k, srcIsA
}

// addr returns side A (a=true) or B of the key as a netip.Addr.
func (k *Key) addr(a bool) netip.Addr {
	b := &k.B
	if a {
		b = &k.A
	}
	if k.Fam == 4 {
		return netip.AddrFrom4([4]byte(b[12:16]))
	}
	return netip.AddrFrom16(*b)
}

func (k *Key) port(a bool) uint16 {
	if a {
		return k.PortA
	}
	return k.PortB
}

// likelyServerPort approximates Zeek's likely_server_ports, the ports its
// protocol analyzers register, used to pick the originator of a flow whose
// start was missed. The list is explicit rather than "below 1024" so that
// client ports such as DHCP's 68 are not taken for servers. flowaudit adds
// the anti-spam services mail gateways call (Razor 2703, DCC 6277, Pyzor
// 24441, Minger 4069), so a capture that starts in the middle of one of
// those exchanges still gets its direction right.
func likelyServerPort(p uint16) bool {
	switch p {
	case 20, 21, 22, 23, 25, 42, 43, 53, 67, 69, 79, 80, 81, 88, 102, 110, 111,
		113, 119, 123, 135, 137, 138, 139, 143, 161, 162, 179, 194, 389, 427, 443,
		445, 464, 465, 500, 502, 512, 513, 514, 515, 520, 543, 544, 548, 554,
		563, 587, 593, 623, 631, 636, 646, 853, 873, 989, 990, 992, 993, 994, 995,
		1080, 1194, 1433, 1434, 1521, 1645, 1646, 1701, 1723, 1812, 1813, 1883,
		1900, 2049, 2123, 2152, 2181, 2375, 2376, 2404, 3128, 3260, 3268, 3269,
		3306, 3389, 3478, 3544, 4369, 4500, 4789, 5060, 5061, 5222, 5269, 5353,
		5355, 5432, 5671, 5672, 5900, 6379, 6443, 6653, 6666, 6667, 6668, 6669,
		6697, 8000, 8008, 8080, 8081, 8443, 8883, 8888, 9092, 9200, 9443, 10443,
		11211, 20000, 27017, 44818, 47808,
		2703, 4069, 6277, 24441: // flowaudit: Razor, Minger, DCC, Pyzor
		return true
	}
	return false
}
