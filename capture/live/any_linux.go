package live

import (
	"encoding/binary"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A capture on "any" reads a SOCK_DGRAM ring bound to no interface: the
// kernel hands over the network-layer packet and, beside it in the ring,
// the sockaddr_ll saying which interface it crossed, its hardware type
// and address, and its packet type (to this host, outgoing...). cooked
// turns the two into a LINUX_SLL2 frame, as libpcap does for tcpdump -i
// any, so the packet path decodes it like a file written that way and
// drops the copies of a packet seen on several interfaces (capture's
// dedup, keyed on the packet, not the interface).

// sllOffset is where the sockaddr_ll lies before the packet data of a
// TPACKET_V3 SOCK_DGRAM ring: the data starts at TPACKET_ALIGN(
// TPACKET3_HDRLEN) + 16 = 96 bytes into the frame (net/packet/
// af_packet.c: macoff = netoff for SOCK_DGRAM), the sockaddr_ll at
// TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) = 48.
const sllOffset = 96 - 48

// sll2Len is the size of a LINUX_SLL2 header.
const sll2Len = 20

// cooked writes into buf the SLL2 header of the packet data read from the
// ring (ifindex as the ring reported it), then data, and returns the
// frame. The sockaddr_ll is checked (family AF_PACKET, the same
// interface): a ring laid out otherwise gives packet type 0 (to this
// host) and no hardware address rather than garbage.
func cooked(buf, data []byte, ifindex int) []byte {
	var sll unix.RawSockaddrLinklayer
	if len(data) > 0 {
		p := (*unix.RawSockaddrLinklayer)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(data)), -sllOffset))
		if p.Family == unix.AF_PACKET && int(p.Ifindex) == ifindex {
			sll = *p
		}
	}
	h := buf[:sll2Len]
	// sll_protocol is in network byte order already.
	binary.NativeEndian.PutUint16(h[0:2], sll.Protocol)
	h[2], h[3] = 0, 0
	binary.BigEndian.PutUint32(h[4:8], uint32(ifindex))
	binary.BigEndian.PutUint16(h[8:10], sll.Hatype)
	h[10], h[11] = sll.Pkttype, min(sll.Halen, 8)
	copy(h[12:20], sll.Addr[:])
	n := copy(buf[sll2Len:], data)
	return buf[:sll2Len+n]
}
