package decode

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// want is the decoded packet without its payload slice (compared apart).
// strip leaves out what the header-field tables do not spell: the
// payload, and the link-layer view and packet identity, which
// TestDecodeLinkAndIdentity checks.
func strip(p Packet) Packet {
	p.Payload = nil
	p.Link = Link{}
	p.IPID, p.IPLen, p.L4Sum = 0, 0, 0
	return p
}

// basePackets are the expected decodings of the IP-level builders.
type basePackets struct {
	tcp4, udp4, tcp6, udp6, unreach4, echo4, tooBig6, echo6         Packet
	tcp4b, udp4b, tcp6b, udp6b, unreach4b, echo4b, tooBig6b, echo6b []byte
}

func bases(t testing.TB) basePackets {
	var b basePackets
	b.tcp4b, b.tcp4 = tcp4(t, "hello"), Packet{Src: cli4, Dst: srv4, Proto: 6, SrcPort: 40000, DstPort: 25,
		TCPFlags: SYN | ACK, Seq: 1000, Ack: 7, PayloadLen: 5}
	b.udp4b, b.udp4 = udp4(t, "query"), Packet{Src: cli4, Dst: srv4, Proto: 17, SrcPort: 5353, DstPort: 53, PayloadLen: 5}
	b.tcp6b, b.tcp6 = tcp6(t, "data"), Packet{Src: cli6, Dst: srv6, Proto: 6, SrcPort: 40001, DstPort: 443,
		TCPFlags: RST, Seq: 5, PayloadLen: 4}
	b.udp6b, b.udp6 = udp6(t, "q"), Packet{Src: cli6, Dst: srv6, Proto: 17, SrcPort: 5353, DstPort: 53, PayloadLen: 1}
	b.unreach4b, b.unreach4 = icmp4Unreach(t), Packet{Src: fw4, Dst: cli4, Proto: 1, ICMPType: 3, ICMPCode: 13,
		PayloadLen: 28, HasInner: true, Inner: Inner{Src: cli4, Dst: srv4, Proto: 17, SrcPort: 5353, DstPort: 53}}
	b.echo4b, b.echo4 = icmp4Echo(t), Packet{Src: cli4, Dst: srv4, Proto: 1, ICMPType: 8, ICMPID: 0xbeef, PayloadLen: 4}
	// ICMPv6 body: 4 bytes MTU then the 61-byte quoted TCP segment.
	b.tooBig6b, b.tooBig6 = icmp6TooBig(t), Packet{Src: fw6, Dst: cli6, Proto: 58, ICMPType: 2,
		PayloadLen: 61, HasInner: true, Inner: Inner{Src: cli6, Dst: srv6, Proto: 6, SrcPort: 40001, DstPort: 443}}
	b.echo6b, b.echo6 = icmp6Echo(t), Packet{Src: cli6, Dst: srv6, Proto: 58, ICMPType: 128, ICMPID: 0x77, PayloadLen: 4}
	return b
}

type decodeCase struct {
	name  string
	link  layers.LinkType
	frame []byte
	want  Packet
}

func linkCases(t testing.TB) []decodeCase {
	b := bases(t)
	return []decodeCase{
		// IP-level content over Ethernet.
		{"eth/tcp4", 1, eth(0x0800, b.tcp4b), b.tcp4},
		{"eth/udp4", 1, eth(0x0800, b.udp4b), b.udp4},
		{"eth/tcp6", 1, eth(0x86dd, b.tcp6b), b.tcp6},
		{"eth/udp6", 1, eth(0x86dd, b.udp6b), b.udp6},
		{"eth/icmp4-admin-prohibited", 1, eth(0x0800, b.unreach4b), b.unreach4},
		{"eth/icmp4-echo", 1, eth(0x0800, b.echo4b), b.echo4},
		{"eth/icmp6-packet-too-big", 1, eth(0x86dd, b.tooBig6b), b.tooBig6},
		{"eth/icmp6-echo", 1, eth(0x86dd, b.echo6b), b.echo6},
		// Tags.
		{"eth/802.1q", 1, eth(0x0800, b.tcp4b, 0x8100), b.tcp4},
		{"eth/qinq-88a8", 1, eth(0x86dd, b.udp6b, 0x88a8, 0x8100), b.udp6},
		{"eth/qinq-9100", 1, eth(0x0800, b.udp4b, 0x9100, 0x8100), b.udp4},
		{"eth/5-tags", 1, eth(0x0800, b.udp4b, 0x88a8, 0x8100, 0x8100, 0x8100, 0x8100), b.udp4},
		{"eth/vntag", 1, cat(macs, be16(0x8926), []byte{0, 0, 0, 0}, be16(0x0800), b.tcp4b), b.tcp4},
		{"eth/fabricpath", 1, cat(macs, be16(0x8903), []byte{0, 0}, macs, be16(0x0800), b.tcp4b), b.tcp4},
		{"eth/mpls-1", 1, eth(0x8847, mplsLabels(1, b.tcp4b)), b.tcp4},
		{"eth/vlan-mpls-3-v6", 1, eth(0x8847, mplsLabels(3, b.udp6b), 0x8100), b.udp6},
		{"eth/pppoe-v4", 1, eth(0x8864, pppoeSession(cat(be16(0x0021), b.tcp4b))), b.tcp4},
		{"eth/vlan-pppoe-v6", 1, eth(0x8864, pppoeSession(cat(be16(0x0057), b.udp6b)), 0x8100), b.udp6},
		{"eth/padding", 1, cat(eth(0x0800, b.tcp4b), make([]byte, 20)), b.tcp4},
		// Cooked captures.
		{"sll/tcp4", 113, sll(0x0800, b.tcp4b), b.tcp4},
		{"sll/icmp6", 113, sll(0x86dd, b.tooBig6b), b.tooBig6},
		{"sll/vlan", 113, sll(0x8100, cat([]byte{0, 5}, be16(0x0800), b.udp4b)), b.udp4},
		{"sll2/tcp4", 276, sll2(0x0800, b.tcp4b), b.tcp4},
		{"sll2/udp6", 276, sll2(0x86dd, b.udp6b), b.udp6},
		// Raw IP.
		{"raw101/tcp4", 101, b.tcp4b, b.tcp4},
		{"raw101/udp6", 101, b.udp6b, b.udp6},
		{"raw12/tcp4", 12, b.tcp4b, b.tcp4},
		{"raw14/udp6", 14, b.udp6b, b.udp6},
		{"ipv4-228", 228, b.unreach4b, b.unreach4},
		{"ipv6-229", 229, b.echo6b, b.echo6},
		// Loopback.
		{"null-le/v4", 0, nullLE(2, b.tcp4b), b.tcp4},
		{"null-be/v4", 0, nullBE(2, b.tcp4b), b.tcp4},
		{"null-le/v6-freebsd", 0, nullLE(28, b.udp6b), b.udp6},
		{"null-le/v6-darwin", 0, nullLE(30, b.udp6b), b.udp6},
		{"null-be/v6-openbsd", 0, nullBE(24, b.udp6b), b.udp6},
		{"loop/v4", 108, nullBE(2, b.udp4b), b.udp4},
		{"loop/v6", 108, nullBE(24, b.tcp6b), b.tcp6},
		// PPP family.
		{"ppp/hdlc-framed-v4", 9, cat([]byte{0xff, 0x03}, be16(0x0021), b.tcp4b), b.tcp4},
		{"ppp/bare-v6", 9, cat(be16(0x0057), b.udp6b), b.udp6},
		{"ppp/compressed-proto", 9, cat([]byte{0x21}, b.tcp4b), b.tcp4},
		{"ppp/mpls", 9, cat([]byte{0xff, 0x03}, be16(0x0281), mplsLabels(2, b.tcp4b)), b.tcp4},
		{"ipv4-link-carrying-v6", 228, b.udp6b, b.udp6},
		{"ppp-hdlc-50", 50, cat([]byte{0xff, 0x03}, be16(0x0021), b.udp4b), b.udp4},
		{"ppp-with-dir-204", 204, cat([]byte{1, 0xff, 0x03}, be16(0x0057), b.tcp6b), b.tcp6},
		{"ppp-ether-51", 51, pppoeSession(cat(be16(0x0021), b.echo4b)), b.echo4},
		{"c-hdlc-104", 104, cat([]byte{0x0f, 0x00}, be16(0x0800), b.tcp4b), b.tcp4},
		// Wireless.
		{"802.11/qos-data", 105, wifiData(0x0800, b.udp4b), b.udp4},
		{"radiotap/qos-data-fcs", 127, radiotap(wifiData(0x86dd, b.tcp6b)), b.tcp6},
		// Firewall logs and OS taps.
		{"nflog/v4", 239, nflogFrame(2, b.unreach4b), b.unreach4},
		{"nflog/v6", 239, nflogFrame(10, b.tcp6b), b.tcp6},
		{"pflog/v4", 117, pflogFrame(2, b.tcp4b), b.tcp4},
		{"pflog/v6", 117, pflogFrame(24, b.udp6b), b.udp6},
		{"pktap/ethernet", 258, pktapFrame(1, eth(0x0800, b.tcp4b, 0x8100)), b.tcp4},
		{"pktap/raw", 258, pktapFrame(12, b.udp6b), b.udp6},
	}
}

func TestDecodeLinkTypes(t *testing.T) {
	for _, c := range linkCases(t) {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder()
			p := Packet{TS: 42, WireLen: 99, SrcPort: 1, HasInner: true} // stale fields must go
			if err := d.Decode(c.frame, c.link, &p); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			want := c.want
			want.TS, want.WireLen = 42, 99
			if got := strip(p); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if len(p.Payload) != p.PayloadLen {
				t.Errorf("captured payload %d bytes, PayloadLen %d", len(p.Payload), p.PayloadLen)
			}
		})
	}
}

// TestDecodeIPDetails covers IP-layer cases: extension headers, lengths
// that differ from the capture, and ICMP quotes of several shapes.
func TestDecodeIPDetails(t *testing.T) {
	udp6want := func(payloadLen int) Packet {
		return Packet{Src: cli6, Dst: srv6, Proto: 17, SrcPort: 5353, DstPort: 53, PayloadLen: payloadLen}
	}
	ah := []byte{17, 1, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1} // (1+2)*4 = 12 bytes
	tsoV4 := tcp4(t, "hello")
	tsoV4[2], tsoV4[3] = 0, 0
	quoteTTL := tcp4(t, "payload beyond the quote")[:28]
	snapped := eth(0x0800, tcp4(t, "a longer payload cut by the snap length"))[:14+20+20+3]
	quoteExt6 := ext6(t, layers.IPProtocolIPv6HopByHop, extHdr(17), "abc")

	cases := []decodeCase{
		{"v6/hop-dst-rt-udp", 101, ext6(t, layers.IPProtocolIPv6HopByHop, cat(extHdr(60), extHdr(43), extHdr(17)), "hello"), udp6want(5)},
		{"v6/ah-udp", 101, ext6(t, layers.IPProtocolAH, ah, "abc"), udp6want(3)},
		{"v6/atomic-fragment", 101, frag6(t, 9, 0, false, 17, cat(udpHeader(5353, 53, 10), []byte("hi"))), udp6want(2)},
		{"v6/esp", 101, ext6(t, layers.IPProtocolIPv6HopByHop, extHdr(50), "abc"),
			Packet{Src: cli6, Dst: srv6, Proto: 50, PayloadLen: 11}},
		{"v6/no-next-header", 101, ext6(t, layers.IPProtocolIPv6Destination, extHdr(59), ""),
			Packet{Src: cli6, Dst: srv6, Proto: 59, PayloadLen: 8}},
		{"v4/gre-protocol-level", 101, serialize(t, ip4(cli4, srv4, layers.IPProtocolGRE), payloadOf("0123456789")),
			Packet{Src: cli4, Dst: srv4, Proto: 47, PayloadLen: 10}},
		{"v4/tso-zero-total-length", 101, tsoV4, Packet{Src: cli4, Dst: srv4, Proto: 6, SrcPort: 40000, DstPort: 25,
			TCPFlags: SYN | ACK, Seq: 1000, Ack: 7, PayloadLen: 5}},
		{"v4/snaplen-keeps-ip-length", 1, snapped, Packet{Src: cli4, Dst: srv4, Proto: 6, SrcPort: 40000, DstPort: 25,
			TCPFlags: SYN | ACK, Seq: 1000, Ack: 7, PayloadLen: 39}},
		{"icmp4/time-exceeded-tcp-quote", 101, serialize(t, ip4(fw4, cli4, layers.IPProtocolICMPv4),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(11, 0)}, payloadOf(string(quoteTTL))),
			Packet{Src: fw4, Dst: cli4, Proto: 1, ICMPType: 11, PayloadLen: 28, HasInner: true,
				Inner: Inner{Src: cli4, Dst: srv4, Proto: 6, SrcPort: 40000, DstPort: 25}}},
		{"icmp4/port-unreachable-echo-quote", 101, serialize(t, ip4(srv4, cli4, layers.IPProtocolICMPv4),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 3)}, payloadOf(string(icmp4Echo(t)[:28]))),
			Packet{Src: srv4, Dst: cli4, Proto: 1, ICMPType: 3, ICMPCode: 3, PayloadLen: 28, HasInner: true,
				Inner: Inner{Src: cli4, Dst: srv4, Proto: 1, ICMPID: 0xbeef}}},
		{"icmp4/quote-too-short", 101, serialize(t, ip4(fw4, cli4, layers.IPProtocolICMPv4),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 1)}, payloadOf(string(quoteTTL[:12]))),
			Packet{Src: fw4, Dst: cli4, Proto: 1, ICMPType: 3, ICMPCode: 1, PayloadLen: 12}},
		{"icmp4/quote-header-only", 101, serialize(t, ip4(fw4, cli4, layers.IPProtocolICMPv4),
			&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 10)}, payloadOf(string(quoteTTL[:20]))),
			Packet{Src: fw4, Dst: cli4, Proto: 1, ICMPType: 3, ICMPCode: 10, PayloadLen: 20, HasInner: true,
				Inner: Inner{Src: cli4, Dst: srv4, Proto: 6}}},
		{"icmp6/unreachable-ext-quote", 101, icmp6Err(t, 1, 1, quoteExt6),
			Packet{Src: fw6, Dst: cli6, Proto: 58, ICMPType: 1, ICMPCode: 1, PayloadLen: len(quoteExt6), HasInner: true,
				Inner: Inner{Src: cli6, Dst: srv6, Proto: 17, SrcPort: 5353, DstPort: 53}}},
		{"icmp6/time-exceeded-echo-quote", 101, icmp6Err(t, 3, 0, icmp6Echo(t)),
			Packet{Src: fw6, Dst: cli6, Proto: 58, ICMPType: 3, PayloadLen: len(icmp6Echo(t)), HasInner: true,
				Inner: Inner{Src: cli6, Dst: srv6, Proto: 58, ICMPID: 0x77}}},
		{"icmp6/param-problem-truncated-quote", 101, icmp6Err(t, 4, 0, quoteExt6[:44]),
			Packet{Src: fw6, Dst: cli6, Proto: 58, ICMPType: 4, PayloadLen: 44, HasInner: true,
				Inner: Inner{Src: cli6, Dst: srv6, Proto: 0}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			if err := NewDecoder().Decode(c.frame, c.link, &p); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := strip(p); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// icmp6Err is an ICMPv6 error from fw6 to cli6 quoting quote (after the
// 4-byte unused/MTU/pointer field).
func icmp6Err(t testing.TB, typ, code uint8, quote []byte) []byte {
	ip := ip6(fw6, cli6, layers.IPProtocolICMPv6)
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, code)}
	ic.SetNetworkLayerForChecksum(ip)
	return serialize(t, ip, ic, payloadOf(string(cat([]byte{0, 0, 0, 0}, quote))))
}

func payloadOf(s string) gopacket.Payload { return gopacket.Payload(s) }

func TestDecodeErrors(t *testing.T) {
	b := bases(t)
	badVersion := append([]byte(nil), b.tcp4b...)
	badVersion[0] = 0x55
	badIHL := append([]byte(nil), b.tcp4b...)
	badIHL[0] = 0x44
	badOffset := append([]byte(nil), b.tcp4b...)
	badOffset[20+12] = 0x30
	shortTotal := append([]byte(nil), b.tcp4b...)
	shortTotal[2], shortTotal[3] = 0, 10
	manyExt := ext6(t, layers.IPProtocolIPv6Destination, cat(
		extHdr(60), extHdr(60), extHdr(60), extHdr(60), extHdr(60), extHdr(60), extHdr(60), extHdr(60),
		extHdr(60), extHdr(60), extHdr(60), extHdr(60), extHdr(60), extHdr(60), extHdr(60), extHdr(60), extHdr(17)), "")
	protected := wifiData(0x0800, b.tcp4b)
	protected[1] |= 0x40
	cases := []struct {
		name  string
		link  layers.LinkType
		frame []byte
		want  error
	}{
		{"unsupported-link-147", 147, b.tcp4b, ErrUnsupported},
		{"unsupported-link-usb", 220, b.tcp4b, ErrUnsupported},
		{"eth-short", 1, macs[:10], ErrTruncated},
		{"arp", 1, eth(0x0806, make([]byte, 28)), ErrNotIP},
		{"llc-802.3", 1, eth(0x0026, make([]byte, 38)), ErrNotIP},
		{"vlan-cut", 1, cat(macs, be16(0x8100), []byte{0}), ErrTruncated},
		{"too-many-tags", 1, eth(0x0800, b.tcp4b, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100,
			0x8100, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100, 0x8100), ErrMalformed},
		{"mpls-pseudowire", 1, eth(0x8847, mplsLabels(2, cat([]byte{0, 0, 0, 0}, macs))), ErrNotIP},
		{"pppoe-discovery", 1, eth(0x8864, []byte{0x11, 0x09, 0, 0, 0, 0}), ErrNotIP},
		{"ppp-lcp", 9, cat([]byte{0xff, 0x03}, be16(0xc021), make([]byte, 8)), ErrNotIP},
		{"null-unknown-af", 0, nullLE(7, b.tcp4b), ErrNotIP},
		{"raw-not-ip", 101, []byte{0x10, 0, 0, 0}, ErrNotIP},
		{"sll-short", 113, make([]byte, 15), ErrTruncated},
		{"sll2-short", 276, make([]byte, 19), ErrTruncated},
		{"ipv4-short", 228, b.tcp4b[:19], ErrTruncated},
		{"ipv4-bad-version", 1, eth(0x0800, badVersion), ErrMalformed},
		{"ipv4-bad-ihl", 228, badIHL, ErrMalformed},
		{"ipv4-total-below-header", 228, shortTotal, ErrMalformed},
		{"ipv4-bad-version-on-ipv4-link", 228, cat([]byte{0x75}, b.tcp4b[1:]), ErrNotIP},
		{"ipv6-short", 229, b.udp6b[:39], ErrTruncated},
		{"ipv6-too-many-ext", 229, manyExt, ErrMalformed},
		{"ipv6-ext-cut", 229, ext6(t, layers.IPProtocolIPv6HopByHop, extHdr(17), "")[:41], ErrTruncated},
		{"tcp-short", 228, b.tcp4b[:30], ErrTruncated},
		{"tcp-bad-offset", 228, badOffset, ErrMalformed},
		{"udp-short", 228, b.udp4b[:25], ErrTruncated},
		{"icmp-short", 228, b.echo4b[:25], ErrTruncated},
		{"802.11-protected", 105, protected, ErrNotIP},
		{"802.11-mgmt", 105, make([]byte, 40), ErrNotIP},
		{"radiotap-bad-length", 127, []byte{0, 0, 200, 0, 0, 0, 0, 0}, ErrTruncated},
		{"nflog-no-payload-tlv", 239, []byte{2, 0, 0, 1, 8, 0, 1, 0, 0, 0, 0, 0}, ErrNotIP},
		{"nflog-zero-tlv-length", 239, []byte{2, 0, 0, 1, 0, 0, 9, 0}, ErrMalformed},
		{"pflog-short-header", 117, []byte{61, 2, 0, 0}, ErrTruncated},
		{"pktap-in-pktap", 258, pktapFrame(258, pktapFrame(1, nil)), ErrUnsupported},
		{"pktap-bad-length", 258, []byte{200, 0, 0, 0, 1, 0, 0, 0}, ErrTruncated},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p Packet
			if err := NewDecoder().Decode(c.frame, c.link, &p); !errors.Is(err, c.want) {
				t.Errorf("got %v, want %v", err, c.want)
			}
		})
	}
}
