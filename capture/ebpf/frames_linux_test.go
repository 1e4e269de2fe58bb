//go:build 386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64

package ebpf

import (
	"net"
	"net/netip"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/internal/labtest"
)

// requireRoot skips a privileged test when not root (and fails it under
// CI=true).
func requireRoot(t *testing.T) {
	t.Helper()
	labtest.RequireRoot(t, "BPF programs, tcx, network namespaces")
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0a}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x0b}
)

// frameOpts describe one canned frame.
type frameOpts struct {
	src, dst netip.AddrPort
	vlan     uint16 // 802.1Q tag when non-zero
	payload  []byte
}

// build serializes Ethernet (with an optional 802.1Q tag), the IP layer for
// src/dst, and the given transport layers.
func build(t testing.TB, o frameOpts, l4 ...gopacket.SerializableLayer) []byte {
	t.Helper()
	eth := &layers.Ethernet{SrcMAC: macA, DstMAC: macB}
	var ls []gopacket.SerializableLayer
	ls = append(ls, eth)
	next := layers.EthernetTypeIPv4
	if o.src.Addr().Is6() {
		next = layers.EthernetTypeIPv6
	}
	if o.vlan != 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		ls = append(ls, &layers.Dot1Q{VLANIdentifier: o.vlan, Type: next})
	} else {
		eth.EthernetType = next
	}
	var nl gopacket.NetworkLayer
	if o.src.Addr().Is4() {
		ip := &layers.IPv4{Version: 4, TTL: 64, SrcIP: o.src.Addr().AsSlice(), DstIP: o.dst.Addr().AsSlice()}
		nl = ip
		ls = append(ls, ip)
	} else {
		ip := &layers.IPv6{Version: 6, HopLimit: 64, SrcIP: o.src.Addr().AsSlice(), DstIP: o.dst.Addr().AsSlice()}
		nl = ip
		ls = append(ls, ip)
	}
	for _, l := range l4 {
		switch x := l.(type) {
		case *layers.TCP:
			_ = x.SetNetworkLayerForChecksum(nl)
			setProto(nl, layers.IPProtocolTCP)
		case *layers.UDP:
			_ = x.SetNetworkLayerForChecksum(nl)
			setProto(nl, layers.IPProtocolUDP)
		case *layers.ICMPv4:
			setProto(nl, layers.IPProtocolICMPv4)
		case *layers.ICMPv6:
			_ = x.SetNetworkLayerForChecksum(nl)
			setProto(nl, layers.IPProtocolICMPv6)
		}
		ls = append(ls, l)
	}
	if o.payload != nil {
		ls = append(ls, gopacket.Payload(o.payload))
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatalf("serialize frame: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

func setProto(nl gopacket.NetworkLayer, p layers.IPProtocol) {
	switch ip := nl.(type) {
	case *layers.IPv4:
		ip.Protocol = p
	case *layers.IPv6:
		ip.NextHeader = p
	}
}

// tcp builds a TCP frame; flags is a subset of "SAFRP".
func tcp(t testing.TB, src, dst string, flags string, seq, ack uint32, payload []byte, vlan uint16) []byte {
	t.Helper()
	h := &layers.TCP{SrcPort: layers.TCPPort(netip.MustParseAddrPort(src).Port()),
		DstPort: layers.TCPPort(netip.MustParseAddrPort(dst).Port()), Seq: seq, Ack: ack, Window: 64240}
	for _, c := range flags {
		switch c {
		case 'S':
			h.SYN = true
		case 'A':
			h.ACK = true
		case 'F':
			h.FIN = true
		case 'R':
			h.RST = true
		case 'P':
			h.PSH = true
		}
	}
	return build(t, frameOpts{src: netip.MustParseAddrPort(src), dst: netip.MustParseAddrPort(dst), vlan: vlan, payload: payload}, h)
}

func udp(t testing.TB, src, dst string, payload []byte) []byte {
	t.Helper()
	s, d := netip.MustParseAddrPort(src), netip.MustParseAddrPort(dst)
	h := &layers.UDP{SrcPort: layers.UDPPort(s.Port()), DstPort: layers.UDPPort(d.Port())}
	return build(t, frameOpts{src: s, dst: d, payload: payload}, h)
}

// icmpUnreach builds an ICMP (v4: type 3) or ICMPv6 (type 1) error from
// router to the original sender, quoting orig (a frame built by tcp/udp).
func icmpUnreach(t testing.TB, router string, orig []byte, code uint8) []byte {
	t.Helper()
	ipStart := 14
	pkt := gopacket.NewPacket(orig, layers.LayerTypeEthernet, gopacket.Default)
	r := netip.MustParseAddr(router)
	if ip4, ok := pkt.NetworkLayer().(*layers.IPv4); ok {
		quoted := orig[ipStart : ipStart+int(ip4.IHL)*4+8]
		to, _ := netip.AddrFromSlice(ip4.SrcIP)
		h := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, code)}
		return build(t, frameOpts{src: netip.AddrPortFrom(r, 0), dst: netip.AddrPortFrom(to, 0), payload: quoted}, h)
	}
	ip6 := pkt.NetworkLayer().(*layers.IPv6)
	quoted := orig[ipStart:]
	to, _ := netip.AddrFromSlice(ip6.SrcIP)
	// ICMPv6 errors carry 4 unused bytes before the quoted packet.
	h := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, code)}
	return build(t, frameOpts{src: netip.AddrPortFrom(r, 0), dst: netip.AddrPortFrom(to, 0), payload: append(make([]byte, 4), quoted...)}, h)
}

// echo builds an ICMP/ICMPv6 echo request (reply=false) or reply.
func echo(t testing.TB, src, dst string, id uint16, reply bool) []byte {
	t.Helper()
	s, d := netip.MustParseAddr(src), netip.MustParseAddr(dst)
	o := frameOpts{src: netip.AddrPortFrom(s, 0), dst: netip.AddrPortFrom(d, 0), payload: []byte("ping")}
	if s.Is4() {
		typ := uint8(8)
		if reply {
			typ = 0
		}
		return build(t, o, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, 0), Id: id, Seq: 1})
	}
	typ := uint8(128)
	if reply {
		typ = 129
	}
	return build(t, o, &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, 0)}, &layers.ICMPv6Echo{Identifier: id, SeqNumber: 1})
}

// dnsQuery is the query dnsAnswer answers: id 7, name, type A, RD set.
func dnsQuery(t testing.TB, name string) []byte {
	t.Helper()
	d := &layers.DNS{ID: 7, RD: true,
		Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}}}
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		t.Fatalf("serialize dns: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// dnsAnswer is a DNS response for name with one A record.
func dnsAnswer(t testing.TB, name string, addr string) []byte {
	t.Helper()
	d := &layers.DNS{ID: 7, QR: true, RD: true, RA: true,
		Questions: []layers.DNSQuestion{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN}},
		Answers: []layers.DNSResourceRecord{{Name: []byte(name), Type: layers.DNSTypeA, Class: layers.DNSClassIN,
			TTL: 300, IP: net.ParseIP(addr).To4()}}}
	buf := gopacket.NewSerializeBuffer()
	if err := d.SerializeTo(buf, gopacket.SerializeOptions{FixLengths: true}); err != nil {
		t.Fatalf("serialize dns: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// clientHello is a minimal TLS 1.2 ClientHello record naming sni.
func clientHello(sni string) []byte {
	name := []byte(sni)
	sn := []byte{0, 0} // extension type server_name
	list := append([]byte{0, byte(len(name))}, name...)
	list = append([]byte{0}, list...) // host_name type
	listLen := []byte{byte(len(list) >> 8), byte(len(list))}
	ext := append(listLen, list...)
	sn = append(sn, byte(len(ext)>>8), byte(len(ext)))
	sn = append(sn, ext...)
	body := []byte{3, 3}
	body = append(body, make([]byte, 32)...) // random
	body = append(body, 0)                   // session id
	body = append(body, 0, 2, 0x13, 0x01)    // cipher suites
	body = append(body, 1, 0)                // compression
	body = append(body, byte(len(sn)>>8), byte(len(sn)))
	body = append(body, sn...)
	hs := append([]byte{1, 0, byte(len(body) >> 8), byte(len(body))}, body...)
	return append([]byte{0x16, 3, 1, byte(len(hs) >> 8), byte(len(hs))}, hs...)
}
