package decode

import (
	"reflect"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// fragStep is one frame fed to a shared Decoder, with the fields expected.
type fragStep struct {
	name  string
	ts    int64
	frame []byte
	want  Packet
}

func runFragSteps(t *testing.T, steps []fragStep) {
	t.Helper()
	d := NewDecoder()
	for _, s := range steps {
		p := Packet{TS: s.ts}
		if err := d.Decode(s.frame, layers.LinkTypeRaw, &p); err != nil {
			t.Fatalf("%s: Decode: %v", s.name, err)
		}
		want := s.want
		want.TS = s.ts
		if got := strip(p); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", s.name, got, want)
		}
	}
}

func TestFragmentsIPv4(t *testing.T) {
	first := cat(udpHeader(5353, 53, 8+16+8), make([]byte, 16)) // 24 bytes: offsets are multiples of 8
	icmpFirst := []byte{8, 0, 0, 0, 0x12, 0x34, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	udp := func(off uint16, n int, sport, dport uint16) Packet {
		return Packet{Src: cli4, Dst: srv4, Proto: 17, SrcPort: sport, DstPort: dport, PayloadLen: n,
			Fragment: true, FragOffset: off}
	}
	runFragSteps(t, []fragStep{
		{"first", 1e9, frag4(t, 77, 0, true, layers.IPProtocolUDP, first), udp(0, 16, 5353, 53)},
		{"middle", 1e9 + 1, frag4(t, 77, 24, true, layers.IPProtocolUDP, make([]byte, 8)), udp(24, 8, 5353, 53)},
		{"last", 1e9 + 2, frag4(t, 77, 32, false, layers.IPProtocolUDP, make([]byte, 8)), udp(32, 8, 5353, 53)},
		// The last fragment freed the entry: a late duplicate is unresolved.
		{"after-last", 1e9 + 3, frag4(t, 77, 24, true, layers.IPProtocolUDP, make([]byte, 8)), udp(24, 8, 0, 0)},
		{"first-not-seen", 2e9, frag4(t, 78, 24, false, layers.IPProtocolUDP, make([]byte, 8)), udp(24, 8, 0, 0)},
		{"other-datagram-first", 3e9, frag4(t, 79, 0, true, layers.IPProtocolUDP, first), udp(0, 16, 5353, 53)},
		// Same id, other protocol: another datagram.
		{"other-proto-same-id", 3e9, frag4(t, 79, 24, false, layers.IPProtocolTCP, make([]byte, 8)),
			Packet{Src: cli4, Dst: srv4, Proto: 6, PayloadLen: 8, Fragment: true, FragOffset: 24}},
		// Past FragTimeout the first fragment is forgotten.
		{"timed-out", 3e9 + FragTimeout + 1, frag4(t, 79, 24, false, layers.IPProtocolUDP, make([]byte, 8)), udp(24, 8, 0, 0)},
		{"echo-first", 4e9, frag4(t, 80, 0, true, layers.IPProtocolICMPv4, icmpFirst),
			Packet{Src: cli4, Dst: srv4, Proto: 1, ICMPType: 8, ICMPID: 0x1234, PayloadLen: 8, Fragment: true}},
		{"echo-later", 4e9, frag4(t, 80, 16, false, layers.IPProtocolICMPv4, make([]byte, 100)),
			Packet{Src: cli4, Dst: srv4, Proto: 1, ICMPType: 8, ICMPID: 0x1234, PayloadLen: 100, Fragment: true, FragOffset: 16}},
	})
}

func TestFragmentsIPv6(t *testing.T) {
	first := cat(udpHeader(5353, 53, 8+16+8), make([]byte, 16))
	udp := func(off uint16, n int, sport, dport uint16) Packet {
		return Packet{Src: cli6, Dst: srv6, Proto: 17, SrcPort: sport, DstPort: dport, PayloadLen: n,
			Fragment: true, FragOffset: off}
	}
	// A destination options header inside the fragmentable part: the
	// fragment header names it, the first fragment resolves it to UDP.
	withOpts := cat(extHdr(17), first)
	runFragSteps(t, []fragStep{
		{"first", 1e9, frag6(t, 0xabcdef01, 0, true, 17, first), udp(0, 16, 5353, 53)},
		{"last", 1e9, frag6(t, 0xabcdef01, 24, false, 17, make([]byte, 8)), udp(24, 8, 5353, 53)},
		{"unknown-id", 1e9, frag6(t, 5, 24, false, 17, make([]byte, 8)), udp(24, 8, 0, 0)},
		{"opts-first", 2e9, frag6(t, 6, 0, true, 60, withOpts), udp(0, 16, 5353, 53)},
		{"opts-later", 2e9, frag6(t, 6, 32, false, 60, make([]byte, 8)), udp(32, 8, 5353, 53)},
	})
}

// TestFragmentTableBounded fills the map far beyond its size: memory stays
// fixed, and the most recent datagrams are still resolved.
func TestFragmentTableBounded(t *testing.T) {
	d := NewDecoder()
	first := cat(udpHeader(1000, 2000, 8+16+8), make([]byte, 16))
	const n = fragSlots * 8
	for i := range n {
		var p Packet
		p.TS = int64(i)
		if err := d.Decode(frag4(t, uint16(i), 0, true, layers.IPProtocolUDP, first), layers.LinkTypeRaw, &p); err != nil {
			t.Fatal(err)
		}
	}
	resolved := 0
	for i := n - 64; i < n; i++ {
		p := Packet{TS: n}
		if err := d.Decode(frag4(t, uint16(i), 24, false, layers.IPProtocolUDP, make([]byte, 8)), layers.LinkTypeRaw, &p); err != nil {
			t.Fatal(err)
		}
		if p.SrcPort == 1000 {
			resolved++
		}
	}
	if resolved != 64 {
		t.Errorf("%d of the 64 most recent datagrams resolved after %d inserts", resolved, n)
	}
}
