package pcapfile

import (
	"context"
	"flag"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowaudit/flowaudit/capture"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// The captures in testdata/flows are made by this file, not by a lab, so
// they are the same on every machine. Regenerate them with
//
//	go test ./capture/pcapfile -run TestOutcomeCaptures -update
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite generated files in testdata")
	}
}

func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const flowsDir = "../../testdata/flows"

var (
	gwV4   = net.IP{192, 0, 2, 10}
	srvV4  = net.IP{198, 51, 100, 25}
	fwV4   = net.IP{203, 0, 113, 1}
	gwV6   = net.ParseIP("2001:db8::10")
	srvV6  = net.ParseIP("2001:db8:1::25")
	fwV6   = net.ParseIP("2001:db8:ff::1")
	macGW  = net.HardwareAddr{2, 0, 0, 0, 0, 1}
	macSrv = net.HardwareAddr{2, 0, 0, 0, 0, 2}
)

// pcapBuilder writes Ethernet frames (optionally VLAN-tagged) to a pcap.
type pcapBuilder struct {
	t    *testing.T
	w    *pcapgo.Writer
	ts   time.Time
	vlan []uint16
}

func (b *pcapBuilder) at(d time.Duration) { b.ts = b.ts.Add(d) }

// frame serializes IP-level layers behind an Ethernet header (and the
// builder's VLAN tags), with correct lengths and checksums.
func (b *pcapBuilder) frame(fromGW bool, ls ...gopacket.SerializableLayer) {
	b.t.Helper()
	src, dst := macGW, macSrv
	if !fromGW {
		src, dst = dst, src
	}
	var et layers.EthernetType = layers.EthernetTypeIPv4
	if ip6, ok := ls[0].(*layers.IPv6); ok && ip6 != nil {
		et = layers.EthernetTypeIPv6
	}
	all := []gopacket.SerializableLayer{}
	eth := &layers.Ethernet{SrcMAC: src, DstMAC: dst, EthernetType: et}
	if len(b.vlan) > 0 {
		eth.EthernetType = layers.EthernetTypeDot1Q
		if len(b.vlan) > 1 {
			eth.EthernetType = layers.EthernetTypeQinQ
		}
	}
	all = append(all, eth)
	for i, id := range b.vlan {
		next := et
		if i < len(b.vlan)-1 {
			next = layers.EthernetTypeDot1Q
		}
		all = append(all, &layers.Dot1Q{VLANIdentifier: id, Type: next})
	}
	all = append(all, ls...)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, all...); err != nil {
		b.t.Fatal(err)
	}
	data := buf.Bytes()
	if err := b.w.WritePacket(gopacket.CaptureInfo{Timestamp: b.ts, CaptureLength: len(data), Length: len(data)}, data); err != nil {
		b.t.Fatal(err)
	}
}

func ipLayer(src, dst net.IP, proto layers.IPProtocol) gopacket.NetworkLayer {
	if src.To4() != nil {
		return &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.To4(), DstIP: dst.To4()}
	}
	return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src, DstIP: dst}
}

func (b *pcapBuilder) tcp(fromGW bool, src, dst net.IP, sp, dp uint16, syn, ack, fin, rst bool, seq, ackn uint32, payload []byte) {
	b.t.Helper()
	ip := ipLayer(src, dst, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), SYN: syn, ACK: ack, FIN: fin, RST: rst,
		Seq: seq, Ack: ackn, Window: 64240, PSH: len(payload) > 0}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		b.t.Fatal(err)
	}
	b.frame(fromGW, ip.(gopacket.SerializableLayer), tcp, gopacket.Payload(payload))
}

func (b *pcapBuilder) udp(fromGW bool, src, dst net.IP, sp, dp uint16, payload []byte) []byte {
	b.t.Helper()
	ip := ipLayer(src, dst, layers.IPProtocolUDP)
	udp := &layers.UDP{SrcPort: layers.UDPPort(sp), DstPort: layers.UDPPort(dp)}
	if err := udp.SetNetworkLayerForChecksum(ip); err != nil {
		b.t.Fatal(err)
	}
	b.frame(fromGW, ip.(gopacket.SerializableLayer), udp, gopacket.Payload(payload))
	// The quoted part an ICMP error would carry: IP header and 8 bytes.
	buf := gopacket.NewSerializeBuffer()
	_ = gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip.(gopacket.SerializableLayer), udp, gopacket.Payload(payload))
	return buf.Bytes()
}

// quoteTCPSyn is the IP header and first 8 bytes of a SYN, as quoted by an
// ICMP error.
func quoteTCPSyn(t *testing.T, src, dst net.IP, sp, dp uint16, seq uint32) []byte {
	ip := ipLayer(src, dst, layers.IPProtocolTCP)
	tcp := &layers.TCP{SrcPort: layers.TCPPort(sp), DstPort: layers.TCPPort(dp), SYN: true, Seq: seq, Window: 64240}
	if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
		t.Fatal(err)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		ip.(gopacket.SerializableLayer), tcp); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// icmpAdminProhibited writes the firewall's error about quoted to gw.
func (b *pcapBuilder) icmpAdminProhibited(quoted []byte, v6 bool) {
	b.t.Helper()
	if !v6 {
		n := min(len(quoted), 28)
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolICMPv4, SrcIP: fwV4, DstIP: gwV4}
		ic := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(3, 13)}
		b.frame(false, ip, ic, gopacket.Payload(quoted[:n]))
		return
	}
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolICMPv6, SrcIP: fwV6, DstIP: gwV6}
	ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(1, 1)}
	if err := ic.SetNetworkLayerForChecksum(ip); err != nil {
		b.t.Fatal(err)
	}
	// ICMPv6 errors carry 4 unused bytes, then as much of the packet as fits.
	b.frame(false, ip, ic, gopacket.Payload(append([]byte{0, 0, 0, 0}, quoted...)))
}

// connection writes a complete TCP exchange: handshake, a request and a
// reply, and both FINs.
func (b *pcapBuilder) connection(gw, srv net.IP, sp, dp uint16) {
	b.tcp(true, gw, srv, sp, dp, true, false, false, false, 1000, 0, nil)
	b.at(20 * time.Millisecond)
	b.tcp(false, srv, gw, dp, sp, true, true, false, false, 5000, 1001, nil)
	b.at(time.Millisecond)
	b.tcp(true, gw, srv, sp, dp, false, true, false, false, 1001, 5001, nil)
	b.tcp(true, gw, srv, sp, dp, false, true, false, false, 1001, 5001, []byte("EHLO gw.example.org\r\n"))
	b.at(20 * time.Millisecond)
	b.tcp(false, srv, gw, dp, sp, false, true, false, false, 5001, 1022, []byte("250 mx.example.net\r\n"))
	b.at(time.Millisecond)
	b.tcp(true, gw, srv, sp, dp, false, true, true, false, 1022, 5021, nil)
	b.at(20 * time.Millisecond)
	b.tcp(false, srv, gw, dp, sp, false, true, true, false, 5021, 1023, nil)
	b.at(time.Millisecond)
	b.tcp(true, gw, srv, sp, dp, false, true, false, false, 1023, 5022, nil)
}

// outcomeCase is one generated capture and the flows it must give.
type outcomeCase struct {
	file  string
	write func(b *pcapBuilder)
	want  []wantFlow
}

type wantFlow struct {
	proto      uint8
	orig, resp string
	state      flow.ConnState
	outcome    flow.Outcome
	attempts   int
	icmp       string // ICMP reason, "" for none
}

var outcomeCases = []outcomeCase{
	{"established.pcap", func(b *pcapBuilder) { b.connection(gwV4, srvV4, 40001, 25) },
		[]wantFlow{{flow.ProtoTCP, "192.0.2.10:40001", "198.51.100.25:25", flow.StateSF, flow.Established, 1, ""}}},
	{"established-ipv6.pcap", func(b *pcapBuilder) { b.connection(gwV6, srvV6, 40002, 443) },
		[]wantFlow{{flow.ProtoTCP, "[2001:db8::10]:40002", "[2001:db8:1::25]:443", flow.StateSF, flow.Established, 1, ""}}},
	{"established-vlan.pcap", func(b *pcapBuilder) {
		b.vlan = []uint16{100}
		b.connection(gwV4, srvV4, 40003, 587)
		b.vlan = []uint16{200, 300}
		b.connection(gwV4, srvV4, 40004, 465)
	}, []wantFlow{
		{flow.ProtoTCP, "192.0.2.10:40003", "198.51.100.25:587", flow.StateSF, flow.Established, 1, ""},
		{flow.ProtoTCP, "192.0.2.10:40004", "198.51.100.25:465", flow.StateSF, flow.Established, 1, ""},
	}},
	{"refused-rst.pcap", func(b *pcapBuilder) {
		b.tcp(true, gwV4, srvV4, 40005, 25, true, false, false, false, 1000, 0, nil)
		b.at(time.Millisecond)
		b.tcp(false, srvV4, gwV4, 25, 40005, false, true, false, true, 0, 1001, nil)
	}, []wantFlow{{flow.ProtoTCP, "192.0.2.10:40005", "198.51.100.25:25", flow.StateREJ, flow.Rejected, 1, ""}}},
	{"dropped-syn.pcap", func(b *pcapBuilder) {
		// Linux retransmits an unanswered SYN after 1, 2 and 4 seconds.
		for _, gap := range []time.Duration{0, time.Second, 2 * time.Second, 4 * time.Second} {
			b.at(gap)
			b.tcp(true, gwV4, srvV4, 40006, 993, true, false, false, false, 7000, 0, nil)
		}
	}, []wantFlow{{flow.ProtoTCP, "192.0.2.10:40006", "198.51.100.25:993", flow.StateS0, flow.Unanswered, 4, ""}}},
	{"admin-prohibited-tcp4.pcap", func(b *pcapBuilder) {
		b.tcp(true, gwV4, srvV4, 40007, 443, true, false, false, false, 9000, 0, nil)
		b.at(time.Millisecond)
		b.icmpAdminProhibited(quoteTCPSyn(b.t, gwV4, srvV4, 40007, 443, 9000), false)
	}, []wantFlow{{flow.ProtoTCP, "192.0.2.10:40007", "198.51.100.25:443", flow.StateS0, flow.Unreachable, 1, "admin-prohibited"}}},
	{"admin-prohibited-tcp6.pcap", func(b *pcapBuilder) {
		b.tcp(true, gwV6, srvV6, 40008, 443, true, false, false, false, 9000, 0, nil)
		b.at(time.Millisecond)
		b.icmpAdminProhibited(quoteTCPSyn(b.t, gwV6, srvV6, 40008, 443, 9000), true)
	}, []wantFlow{{flow.ProtoTCP, "[2001:db8::10]:40008", "[2001:db8:1::25]:443", flow.StateS0, flow.Unreachable, 1, "admin-prohibited"}}},
	{"admin-prohibited-udp4.pcap", func(b *pcapBuilder) {
		q := b.udp(true, gwV4, srvV4, 50001, 53, []byte("query"))
		b.at(time.Millisecond)
		b.icmpAdminProhibited(q, false)
	}, []wantFlow{{flow.ProtoUDP, "192.0.2.10:50001", "198.51.100.25:53", flow.StateS0, flow.Unreachable, 1, "admin-prohibited"}}},
	{"admin-prohibited-udp6.pcap", func(b *pcapBuilder) {
		q := b.udp(true, gwV6, srvV6, 50002, 123, make([]byte, 48))
		b.at(time.Millisecond)
		b.icmpAdminProhibited(q, true)
	}, []wantFlow{{flow.ProtoUDP, "[2001:db8::10]:50002", "[2001:db8:1::25]:123", flow.StateS0, flow.Unreachable, 1, "admin-prohibited"}}},
	{"udp-reply.pcap", func(b *pcapBuilder) {
		b.udp(true, gwV4, srvV4, 50003, 123, make([]byte, 48))
		b.at(5 * time.Millisecond)
		b.udp(false, srvV4, gwV4, 123, 50003, make([]byte, 48))
	}, []wantFlow{{flow.ProtoUDP, "192.0.2.10:50003", "198.51.100.25:123", flow.StateSF, flow.Established, 1, ""}}},
	{"udp-noreply.pcap", func(b *pcapBuilder) {
		b.udp(true, gwV4, srvV4, 50004, 514, []byte("<13>syslog line"))
		b.at(2 * time.Second)
		b.udp(true, gwV4, srvV4, 50004, 514, []byte("<13>syslog line"))
	}, []wantFlow{{flow.ProtoUDP, "192.0.2.10:50004", "198.51.100.25:514", flow.StateS0, flow.Unanswered, 2, ""}}},
}

func TestOutcomeCaptures(t *testing.T) {
	if updating() {
		if err := os.MkdirAll(flowsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, c := range outcomeCases {
			f, err := os.Create(filepath.Join(flowsDir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			w := pcapgo.NewWriter(f)
			if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
				t.Fatal(err)
			}
			c.write(&pcapBuilder{t: t, w: w, ts: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)})
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, c := range outcomeCases {
		t.Run(c.file, func(t *testing.T) {
			res, err := ReadFiles(context.Background(), []string{filepath.Join(flowsDir, c.file)}, capture.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Stats.Undecodable != 0 || len(res.Stats.Warnings) != 0 {
				t.Errorf("stats: undecodable %d, warnings %v", res.Stats.Undecodable, res.Stats.Warnings)
			}
			if len(res.Flows) != len(c.want) {
				t.Fatalf("got %d flows, want %d: %+v", len(res.Flows), len(c.want), res.Flows)
			}
			for i, w := range c.want {
				f := res.Flows[i]
				if f.Proto != w.proto || f.Orig != netip.MustParseAddrPort(w.orig) || f.Resp != netip.MustParseAddrPort(w.resp) {
					t.Errorf("flow %d: %d %v -> %v, want %d %s -> %s", i, f.Proto, f.Orig, f.Resp, w.proto, w.orig, w.resp)
				}
				if f.State != w.state || f.Outcome != w.outcome || f.Attempts != w.attempts {
					t.Errorf("flow %d: %s/%s/%d attempts (history %s), want %s/%s/%d", i, f.State, f.Outcome, f.Attempts, f.History, w.state, w.outcome, w.attempts)
				}
				reason := ""
				if f.ICMP != nil {
					reason = f.ICMP.Reason
				}
				if reason != w.icmp {
					t.Errorf("flow %d: icmp %q, want %q", i, reason, w.icmp)
				}
			}
		})
	}
}
