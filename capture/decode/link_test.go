package decode

import (
	"encoding/binary"
	"testing"

	"github.com/gopacket/gopacket/layers"
)

// TestDecodeLinkAndIdentity checks the link-layer view (Ethernet
// addresses, SLL packet types) and the fields that identify a packet
// across interfaces (IP ID or flow label, IP length, TCP/UDP checksum).
func TestDecodeLinkAndIdentity(t *testing.T) {
	b := bases(t)
	tcp6 := append([]byte(nil), b.tcp6b...)
	tcp6[1], tcp6[2], tcp6[3] = 0x0a, 0xbc, 0xde // flow label 0xabcde
	sllOut := sll(0x0800, b.tcp4b)
	sllOut[1] = PktOutgoing
	ethMAC := Link{Dst: [6]byte(macs[0:6]), Src: [6]byte(macs[6:12]), HasMAC: true}
	cases := []struct {
		name  string
		link  layers.LinkType
		frame []byte
		ip    []byte // the IP packet inside frame
		want  Link
	}{
		{"eth-tcp4", 1, eth(0x0800, b.tcp4b), b.tcp4b, ethMAC},
		{"eth-vlan-udp4", 1, eth(0x0800, b.udp4b, 0x8100), b.udp4b, ethMAC},
		{"eth-tcp6-flowlabel", 1, eth(0x86dd, tcp6), tcp6, ethMAC},
		{"sll-host", 113, sll(0x0800, b.tcp4b), b.tcp4b, Link{HasPktType: true, PktType: PktHost}},
		{"sll-outgoing", 113, sllOut, b.tcp4b, Link{HasPktType: true, PktType: PktOutgoing}},
		{"sll2-outgoing", 276, sll2(0x86dd, b.udp6b), b.udp6b, Link{HasPktType: true, PktType: PktOutgoing}},
		{"raw-no-link", 101, b.tcp4b, b.tcp4b, Link{}},
	}
	d := NewDecoder()
	for _, c := range cases {
		var p Packet
		if err := d.Decode(c.frame, c.link, &p); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if p.Link != c.want {
			t.Errorf("%s: link %+v, want %+v", c.name, p.Link, c.want)
		}
		var id uint32
		var n uint16
		l4 := c.ip[20:]
		if c.ip[0]>>4 == 4 {
			id, n = uint32(binary.BigEndian.Uint16(c.ip[4:6])), binary.BigEndian.Uint16(c.ip[2:4])
		} else {
			id, n, l4 = binary.BigEndian.Uint32(c.ip[0:4])&0xfffff, binary.BigEndian.Uint16(c.ip[4:6]), c.ip[40:]
		}
		sumAt := 6 // UDP
		if p.Proto == 6 {
			sumAt = 16
		}
		if p.IPID != id || p.IPLen != n || p.L4Sum != binary.BigEndian.Uint16(l4[sumAt:]) {
			t.Errorf("%s: id %#x len %d sum %#x, want %#x %d %#x", c.name, p.IPID, p.IPLen, p.L4Sum,
				id, n, binary.BigEndian.Uint16(l4[sumAt:]))
		}
	}
	var p Packet
	if err := d.Decode(eth(0x86dd, tcp6), 1, &p); err != nil || p.IPID != 0xabcde {
		t.Errorf("IPv6 flow label: IPID %#x (%v), want 0xabcde", p.IPID, err)
	}
}
