// Package decode turns captured frames into the few header fields flow
// tracking needs, without allocating: a hand-written parser over the link
// types seen on gateways (Ethernet with 802.1Q/QinQ, Linux SLL and SLL2, raw
// IP, BSD NULL/loopback, PPP, PPPoE), IPv4 with fragments, IPv6 with
// extension headers, TCP, UDP, ICMP and ICMPv6 (errors parsed down to the
// embedded header).
package decode

import "net/netip"

// Packet is the decoded view of one frame. Slices alias the frame's buffer:
// they are valid only until the caller reuses that buffer.
type Packet struct {
	// TS is the capture time in Unix nanoseconds.
	TS int64
	// WireLen is the frame's original length on the wire.
	WireLen int

	Src, Dst netip.Addr
	// Proto is the IP protocol of the transport header that was decoded
	// (6, 17, 1, 58, or any other number for protocol-level flows).
	Proto uint8
	// SrcPort and DstPort are TCP/UDP ports; for ICMP echo they are zero
	// and ICMPID identifies the exchange.
	SrcPort, DstPort uint16

	// TCP fields.
	TCPFlags uint8
	Seq, Ack uint32

	// PayloadLen is the transport payload length from the IP/transport
	// headers (not the captured length), as Zeek counts bytes.
	PayloadLen int
	// Payload is the captured part of the transport payload.
	Payload []byte

	// ICMP fields (ICMP and ICMPv6).
	ICMPType, ICMPCode uint8
	ICMPID             uint16
	// Inner is the header embedded in an ICMP error, when HasInner.
	HasInner bool
	Inner    Inner

	// Fragment is true for IPv4/IPv6 fragments; non-first fragments carry
	// the ports of their first fragment when it was seen.
	Fragment bool
	// Link is what the link layer said about the frame (its Ethernet
	// addresses, or the Linux packet type of an SLL/SLL2 frame); zero for
	// link types that carry neither (raw IP).
	Link Link

	// IPID is the IPv4 identification, or the IPv6 flow label; IPLen the
	// IP packet's length from its header; L4Sum the TCP or UDP checksum.
	// With the addresses, ports and TCP numbers they tell one packet from
	// another without the fields forwarding changes (TTL, hop limit, IP
	// checksum): what the duplicate filter of a capture on "any" keys on.
	IPID  uint32
	IPLen uint16
	L4Sum uint16

	// FragOffset is the byte offset of a fragment in its datagram. When it
	// is non-zero the frame holds no transport header: Proto, the ports and
	// the ICMP type/code/ID were copied from the first fragment through the
	// decoder's fragment map (ports are zero when the first fragment was not
	// seen), TCPFlags is zero, and PayloadLen counts this fragment's bytes.
	FragOffset uint16
}

// Link is the link-layer view of a frame. HasMAC says Src and Dst are
// the Ethernet addresses; HasPktType says PktType is the Linux packet
// type of a cooked (SLL, SLL2) frame: PktHost, PktOutgoing...
type Link struct {
	Src, Dst   [6]byte
	HasMAC     bool
	HasPktType bool
	PktType    uint8
}

// Linux packet types (linux/if_packet.h) as SLL and SLL2 headers carry
// them.
const (
	PktHost      uint8 = 0 // addressed to the capturing host
	PktBroadcast uint8 = 1
	PktMulticast uint8 = 2
	PktOtherHost uint8 = 3 // addressed to another host (promiscuous)
	PktOutgoing  uint8 = 4 // sent by the capturing host
)

// Inner is the IP and transport header quoted inside an ICMP error: the
// packet that provoked it, as sent by the flow's originator.
type Inner struct {
	Src, Dst         netip.Addr
	Proto            uint8
	SrcPort, DstPort uint16
	// ICMPID is set when the quoted packet was an ICMP echo.
	ICMPID uint16
}

// TCP flag bits as they appear in Packet.TCPFlags.
const (
	FIN uint8 = 0x01
	SYN uint8 = 0x02
	RST uint8 = 0x04
	PSH uint8 = 0x08
	ACK uint8 = 0x10
	URG uint8 = 0x20
)
