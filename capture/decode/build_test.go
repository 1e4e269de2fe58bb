package decode

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Frame builders for the tests. IP and transport headers come from
// gopacket's serializers (an independent implementation to check against);
// link headers and IPv6 extension headers are written by hand, byte by
// byte, because they are what the tests are about.

var (
	cli4 = netip.MustParseAddr("192.0.2.10")
	srv4 = netip.MustParseAddr("198.51.100.20")
	fw4  = netip.MustParseAddr("203.0.113.1")
	cli6 = netip.MustParseAddr("2001:db8::10")
	srv6 = netip.MustParseAddr("2001:db8:1::20")
	fw6  = netip.MustParseAddr("2001:db8:ff::1")
)

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func ip4(src, dst netip.Addr, proto layers.IPProtocol) *layers.IPv4 {
	return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 0x1234, Protocol: proto,
		SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
}

func ip6(src, dst netip.Addr, next layers.IPProtocol) *layers.IPv6 {
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next,
		SrcIP: net.IP(src.AsSlice()), DstIP: net.IP(dst.AsSlice())}
}

// tcp4 is a SYN from cli4:40000 to srv4:25 with a payload.
func tcp4(t testing.TB, payload string) []byte {
	ip := ip4(cli4, srv4, layers.IPProtocolTCP)
	tc := &layers.TCP{SrcPort: 40000, DstPort: 25, Seq: 1000, Ack: 7, SYN: true, ACK: true, Window: 1024}
	tc.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, tc, gopacket.Payload(payload))
}

func udp4(t testing.TB, payload string) []byte {
	ip := ip4(cli4, srv4, layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: 5353, DstPort: 53}
	u.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, u, gopacket.Payload(payload))
}

func tcp6(t testing.TB, payload string) []byte {
	ip := ip6(cli6, srv6, layers.IPProtocolTCP)
	tc := &layers.TCP{SrcPort: 40001, DstPort: 443, Seq: 5, RST: true, Window: 1024}
	tc.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, tc, gopacket.Payload(payload))
}

func udp6(t testing.TB, payload string) []byte {
	ip := ip6(cli6, srv6, layers.IPProtocolUDP)
	u := &layers.UDP{SrcPort: 5353, DstPort: 53}
	u.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, u, gopacket.Payload(payload))
}

// icmp4Unreach is fw4 telling cli4 that its UDP datagram to srv4:53 was
// administratively prohibited; it quotes the IP header and 8 bytes.
func icmp4Unreach(t testing.TB) []byte {
	quoted := udp4(t, "query")[:28]
	ip := ip4(fw4, cli4, layers.IPProtocolICMPv4)
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 13)}
	return serialize(t, ip, ic, gopacket.Payload(quoted))
}

func icmp4Echo(t testing.TB) []byte {
	ip := ip4(cli4, srv4, layers.IPProtocolICMPv4)
	ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 0xbeef, Seq: 1}
	return serialize(t, ip, ic, gopacket.Payload("ping"))
}

// icmp6TooBig quotes a TCP segment from cli6 to srv6 port 443.
func icmp6TooBig(t testing.TB) []byte {
	quoted := tcp6(t, "x")
	ip := ip6(fw6, cli6, layers.IPProtocolICMPv6)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(2, 0)}
	ic.SetNetworkLayerForChecksum(ip)
	mtu := []byte{0, 0, 0x05, 0x00}
	return serialize(t, ip, ic, gopacket.Payload(append(mtu, quoted...)))
}

func icmp6Echo(t testing.TB) []byte {
	ip := ip6(cli6, srv6, layers.IPProtocolICMPv6)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
	ic.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, ic, &layers.ICMPv6Echo{Identifier: 0x77, SeqNumber: 1}, gopacket.Payload("ping"))
}

// ext6 builds an IPv6 packet whose payload is the given raw extension
// headers followed by a UDP header and payload; first is the Next Header
// value of the fixed header.
func ext6(t testing.TB, first layers.IPProtocol, exts []byte, payload string) []byte {
	u := make([]byte, 8+len(payload))
	binary.BigEndian.PutUint16(u[0:2], 5353)
	binary.BigEndian.PutUint16(u[2:4], 53)
	binary.BigEndian.PutUint16(u[4:6], uint16(len(u)))
	copy(u[8:], payload)
	return serialize(t, ip6(cli6, srv6, first), gopacket.Payload(append(append([]byte(nil), exts...), u...)))
}

// extHdr is an 8-byte option header (hop-by-hop, routing, dest options)
// padded with PadN.
func extHdr(next byte) []byte { return []byte{next, 0, 1, 4, 0, 0, 0, 0} }

// frag4 builds an IPv4 fragment with raw IP payload body.
func frag4(t testing.TB, id uint16, offset uint16, more bool, proto layers.IPProtocol, body []byte) []byte {
	ip := ip4(cli4, srv4, proto)
	ip.Id = id
	ip.FragOffset = offset / 8
	if more {
		ip.Flags = layers.IPv4MoreFragments
	}
	return serialize(t, ip, gopacket.Payload(body))
}

// frag6 builds an IPv6 fragment with raw payload body after the fragment
// header.
func frag6(t testing.TB, id uint32, offset uint16, more bool, next byte, body []byte) []byte {
	h := make([]byte, 8)
	h[0] = next
	fo := offset
	if more {
		fo |= 1
	}
	binary.BigEndian.PutUint16(h[2:4], fo)
	binary.BigEndian.PutUint32(h[4:8], id)
	return serialize(t, ip6(cli6, srv6, layers.IPProtocolIPv6Fragment), gopacket.Payload(append(h, body...)))
}

// udpHeader is a UDP header claiming a datagram of total bytes.
func udpHeader(sport, dport uint16, total int) []byte {
	u := make([]byte, 8)
	binary.BigEndian.PutUint16(u[0:2], sport)
	binary.BigEndian.PutUint16(u[2:4], dport)
	binary.BigEndian.PutUint16(u[4:6], uint16(total))
	return u
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func be16(v uint16) []byte { return []byte{byte(v >> 8), byte(v)} }

var macs = []byte{0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2}

// eth wraps payload in Ethernet with the given EtherType, after any tags
// (each tag is its TPID; the VLAN ID is arbitrary).
func eth(et uint16, payload []byte, tpids ...uint16) []byte {
	out := append([]byte(nil), macs...)
	for i, tp := range tpids {
		out = append(out, be16(tp)...)
		out = append(out, be16(uint16(100+i))...)
	}
	out = append(out, be16(et)...)
	return append(out, payload...)
}

// sll is a Linux cooked (v1) header for an incoming packet.
func sll(proto uint16, payload []byte) []byte {
	h := []byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}
	return cat(h, be16(proto), payload)
}

// sll2 is a Linux cooked v2 header (tcpdump -i any, libpcap >= 1.10).
func sll2(proto uint16, payload []byte) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:2], proto)
	binary.BigEndian.PutUint32(h[4:8], 3) // ifindex
	binary.BigEndian.PutUint16(h[8:10], 1)
	h[10], h[11] = 4, 6 // outgoing, address length
	return append(h, payload...)
}

func nullLE(af uint32, payload []byte) []byte {
	h := make([]byte, 4)
	binary.LittleEndian.PutUint32(h, af)
	return append(h, payload...)
}

func nullBE(af uint32, payload []byte) []byte {
	h := make([]byte, 4)
	binary.BigEndian.PutUint32(h, af)
	return append(h, payload...)
}

func pppoeSession(ppp []byte) []byte {
	return cat([]byte{0x11, 0x00, 0x00, 0x2a}, be16(uint16(len(ppp))), ppp)
}

func mplsLabels(n int, payload []byte) []byte {
	var out []byte
	for i := range n {
		l := []byte{0x00, 0x01, 0x00, 0x40}
		if i == n-1 {
			l[2] |= 1 // bottom of stack
		}
		out = append(out, l...)
	}
	return append(out, payload...)
}

// wifiData is an 802.11 QoS data frame from a station with LLC/SNAP.
func wifiData(et uint16, payload []byte) []byte {
	h := make([]byte, 26)
	h[0] = 0x88 // type data, subtype QoS data
	h[1] = 0x01 // to DS
	return cat(h, []byte{0xaa, 0xaa, 0x03, 0, 0, 0}, be16(et), payload)
}

func radiotap(frame []byte) []byte {
	h := []byte{0, 0, 12, 0, 0x02, 0, 0, 0, 0x10, 0, 0, 0} // flags field present, FCS flag
	return cat(h, frame, []byte{1, 2, 3, 4})
}

// nflogFrame is an NFLOG record: header, a packet-header TLV, then the
// payload TLV (lengths and types little-endian).
func nflogFrame(family byte, payload []byte) []byte {
	out := []byte{family, 0, 0, 1}
	out = append(out, 8, 0, 1, 0, 0x08, 0x00, 0x01, 0x00) // NFULA_PACKET_HDR
	n := 4 + len(payload)
	out = append(out, byte(n), byte(n>>8), 9, 0)
	out = append(out, payload...)
	for len(out)%4 != 0 {
		out = append(out, 0)
	}
	return out
}

// pflogFrame is an OpenBSD pflog header (61 bytes, padded to 64).
func pflogFrame(af byte, payload []byte) []byte {
	h := make([]byte, 64)
	h[0], h[1] = 61, af
	return append(h, payload...)
}

// pktapFrame is an Apple PKTAP header (108 bytes) around a frame.
func pktapFrame(link uint32, frame []byte) []byte {
	h := make([]byte, 108)
	binary.LittleEndian.PutUint32(h[0:4], 108)
	binary.LittleEndian.PutUint32(h[4:8], link)
	return append(h, frame...)
}
