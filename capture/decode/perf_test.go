package decode

import (
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// perfFrames are the frames of the per-packet path checked for
// allocations and timed by BenchmarkDecode.
func perfFrames(t testing.TB) []decodeCase {
	b := bases(t)
	first := cat(udpHeader(5353, 53, 8+16+8), make([]byte, 16))
	return []decodeCase{
		{name: "eth-tcp4", link: 1, frame: eth(0x0800, b.tcp4b)},
		{name: "eth-udp4", link: 1, frame: eth(0x0800, b.udp4b)},
		{name: "eth-vlan-tcp6", link: 1, frame: eth(0x86dd, b.tcp6b, 0x8100)},
		{name: "eth-icmp4-unreach", link: 1, frame: eth(0x0800, b.unreach4b)},
		{name: "eth-icmp6-too-big", link: 1, frame: eth(0x86dd, b.tooBig6b)},
		{name: "sll2-udp6", link: 276, frame: sll2(0x86dd, b.udp6b)},
		{name: "raw-frag4-first", link: 101, frame: frag4(t, 1, 0, true, layers.IPProtocolUDP, first)},
		{name: "raw-frag4-later", link: 101, frame: frag4(t, 1, 24, true, layers.IPProtocolUDP, make([]byte, 8))},
		{name: "raw-frag6-later", link: 101, frame: frag6(t, 1, 24, true, 17, make([]byte, 8))},
	}
}

func TestDecodeAllocatesNothing(t *testing.T) {
	d := NewDecoder()
	var p Packet
	for _, c := range perfFrames(t) {
		allocs := testing.AllocsPerRun(1000, func() {
			p.TS++
			if err := d.Decode(c.frame, c.link, &p); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %.1f allocations per Decode, want 0", c.name, allocs)
		}
	}
	// Errors are sentinels: failing costs nothing either.
	bad := map[string][]byte{"truncated": eth(0x0800, nil), "arp": eth(0x0806, make([]byte, 28))}
	for name, frame := range bad {
		if allocs := testing.AllocsPerRun(1000, func() { _ = d.Decode(frame, layers.LinkTypeEthernet, &p) }); allocs != 0 {
			t.Errorf("%s: %.1f allocations per failing Decode, want 0", name, allocs)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, c := range perfFrames(b) {
		b.Run(c.name, func(b *testing.B) {
			d := NewDecoder()
			var p Packet
			b.SetBytes(int64(len(c.frame)))
			b.ReportAllocs()
			for b.Loop() {
				p.TS++
				if err := d.Decode(c.frame, c.link, &p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// FuzzDecode feeds arbitrary bytes as every link type: Decode must not
// panic, and what it returns must be self-consistent.
func FuzzDecode(f *testing.F) {
	for _, c := range linkCases(f) {
		f.Add(uint16(c.link), c.frame)
	}
	for _, c := range perfFrames(f) {
		f.Add(uint16(c.link), c.frame)
	}
	d := NewDecoder()
	f.Fuzz(func(t *testing.T, link uint16, data []byte) {
		var p Packet
		p.TS = int64(len(data))
		err := d.Decode(data, layers.LinkType(link), &p)
		if err != nil {
			return
		}
		if !p.Src.IsValid() || !p.Dst.IsValid() || p.Src.Is4() != p.Dst.Is4() {
			t.Fatalf("decoded without a valid address pair: %+v", p)
		}
		if p.PayloadLen < 0 || len(p.Payload) > p.PayloadLen {
			t.Fatalf("payload %d bytes captured, PayloadLen %d", len(p.Payload), p.PayloadLen)
		}
		if p.HasInner && (!p.Inner.Src.IsValid() || p.Inner.Src.Is4() != p.Inner.Dst.Is4()) {
			t.Fatalf("inner header without addresses: %+v", p.Inner)
		}
		if p.FragOffset != 0 && !p.Fragment {
			t.Fatalf("fragment offset %d on a non-fragment", p.FragOffset)
		}
	})
}
