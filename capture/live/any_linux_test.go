package live

import (
	"bytes"
	"encoding/binary"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/flowaudit/flowaudit/capture/decode"
)

// TestCooked lays out a ring frame as the kernel does for a SOCK_DGRAM
// TPACKET_V3 socket (the sockaddr_ll sllOffset bytes before the packet)
// and checks the SLL2 header cooked from it, and that the decoder reads
// its packet type back.
func TestCooked(t *testing.T) {
	ip := []byte{0x45, 0, 0, 20, 0, 1, 0x40, 0, 64, 253, 0, 0, 192, 0, 2, 10, 198, 51, 100, 7}
	ring := make([]byte, 256)
	at := 64 // where the packet starts in the ring
	sll := (*unix.RawSockaddrLinklayer)(unsafe.Pointer(&ring[at-sllOffset]))
	sll.Family, sll.Ifindex, sll.Hatype, sll.Pkttype, sll.Halen = unix.AF_PACKET, 3, 1, decode.PktOutgoing, 6
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sll.Protocol))[:], 0x0800)
	copy(sll.Addr[:], []byte{2, 0, 0, 0, 0, 0x10})
	copy(ring[at:], ip)
	data := ring[at : at+len(ip)]

	buf := make([]byte, sll2Len+64)
	got := cooked(buf, data, 3)
	want := append([]byte{0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, decode.PktOutgoing, 6, 2, 0, 0, 0, 0, 0x10, 0, 0}, ip...)
	if !bytes.Equal(got, want) {
		t.Fatalf("cooked\n% x\nwant\n% x", got, want)
	}
	var p decode.Packet
	if err := decode.NewDecoder().Decode(got, 276, &p); err != nil || !p.Link.HasPktType || p.Link.PktType != decode.PktOutgoing {
		t.Fatalf("decoded %+v, %v", p.Link, err)
	}
	// Another interface's sockaddr (or none): no packet type, no address.
	got = cooked(buf, data, 4)
	if got[10] != 0 || got[11] != 0 || !bytes.Equal(got[sll2Len:], ip) {
		t.Errorf("mismatched sockaddr_ll: % x", got[:sll2Len])
	}
	if n := testing.AllocsPerRun(100, func() { cooked(buf, data, 3) }); n != 0 {
		t.Errorf("cooked allocates %.0f", n)
	}
}
