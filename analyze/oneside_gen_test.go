package analyze

import (
	"context"
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
	"github.com/flowaudit/flowaudit/capture/pcapfile"
)

// genCapture builds the frames of a generated capture taken on a gateway
// (Ethernet, IPv4 and IPv6, TCP, UDP and ICMP errors with their quotes),
// and writes it whole or cut to what the gateway sent or received: the
// captures of a one-way tap, of asymmetric routing, of a bond member.
type genCapture struct {
	t      *testing.T
	gw     map[netip.Addr]bool
	ts     time.Time
	frames []genFrame
}

type genFrame struct {
	ts   time.Time
	data []byte
	src  netip.Addr
}

func newGenCapture(t *testing.T, gw ...netip.Addr) *genCapture {
	c := &genCapture{t: t, gw: map[netip.Addr]bool{}, ts: time.Date(2026, 11, 22, 13, 0, 0, 0, time.UTC)}
	for _, a := range gw {
		c.gw[a] = true
	}
	return c
}

// wait moves the capture's clock on; every frame also takes 1 ms.
func (c *genCapture) wait(d time.Duration) { c.ts = c.ts.Add(d) }

// serialize builds an Ethernet frame carrying an IP packet from src to dst
// with the given transport layers.
func (c *genCapture) serialize(src, dst netip.Addr, l4 ...gopacket.SerializableLayer) []byte {
	c.t.Helper()
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}}
	var ip gopacket.NetworkLayer
	var ipl gopacket.SerializableLayer
	proto := layers.IPProtocolTCP
	switch l4[0].(type) {
	case *layers.UDP:
		proto = layers.IPProtocolUDP
	case *layers.ICMPv4:
		proto = layers.IPProtocolICMPv4
	case *layers.ICMPv6:
		proto = layers.IPProtocolICMPv6
	}
	if src.Is4() {
		eth.EthernetType = layers.EthernetTypeIPv4
		v4 := &layers.IPv4{Version: 4, TTL: 64, Protocol: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ip, ipl = v4, v4
	} else {
		eth.EthernetType = layers.EthernetTypeIPv6
		v6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: proto, SrcIP: src.AsSlice(), DstIP: dst.AsSlice()}
		ip, ipl = v6, v6
	}
	switch l := l4[0].(type) {
	case *layers.TCP:
		_ = l.SetNetworkLayerForChecksum(ip)
	case *layers.UDP:
		_ = l.SetNetworkLayerForChecksum(ip)
	case *layers.ICMPv6:
		_ = l.SetNetworkLayerForChecksum(ip)
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		append([]gopacket.SerializableLayer{eth, ipl}, l4...)...); err != nil {
		c.t.Fatal(err)
	}
	return buf.Bytes()
}

func (c *genCapture) add(src netip.Addr, data []byte) []byte {
	c.ts = c.ts.Add(time.Millisecond)
	c.frames = append(c.frames, genFrame{ts: c.ts, data: data, src: src})
	return data
}

// tcp adds a TCP segment; flags is a string of S, A, F, R, P.
func (c *genCapture) tcp(src, dst netip.AddrPort, flags string, seq, ack uint32, payload string) []byte {
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: seq, Ack: ack, Window: 65535}
	for _, f := range flags {
		switch f {
		case 'S':
			tcp.SYN = true
		case 'A':
			tcp.ACK = true
		case 'F':
			tcp.FIN = true
		case 'R':
			tcp.RST = true
		case 'P':
			tcp.PSH = true
		}
	}
	return c.add(src.Addr(), c.serialize(src.Addr(), dst.Addr(), tcp, gopacket.Payload(payload)))
}

func (c *genCapture) udp(src, dst netip.AddrPort, payload string) []byte {
	u := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	return c.add(src.Addr(), c.serialize(src.Addr(), dst.Addr(), u, gopacket.Payload(payload)))
}

// icmpErr adds an ICMP (or ICMPv6) error from router to the sender of the
// quoted frame, quoting its IP packet (the frame without Ethernet).
func (c *genCapture) icmpErr(router netip.Addr, quoted []byte, typ, code uint8) {
	pkt := quoted[14:]
	to := netip.AddrFrom4([4]byte(pkt[12:16]))
	if router.Is4() {
		e := &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(typ, code)}
		c.add(router, c.serialize(router, to, e, gopacket.Payload(pkt)))
		return
	}
	to = netip.AddrFrom16([16]byte(pkt[8:24]))
	e := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(typ, code)}
	c.add(router, c.serialize(router, to, e, gopacket.Payload(append(make([]byte, 4), pkt...))))
}

// Cuts of a generated capture.
const (
	cutNone = iota
	cutSent // what the gateway sent: its receive path is not captured
	cutRecv // what the gateway received
)

// write writes the capture (or a cut of it) to a pcap file in a temporary
// directory and returns its path.
func (c *genCapture) write(cut int) string {
	c.t.Helper()
	path := filepath.Join(c.t.TempDir(), "gen.pcap")
	f, err := os.Create(path)
	if err != nil {
		c.t.Fatal(err)
	}
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		c.t.Fatal(err)
	}
	for _, fr := range c.frames {
		if (cut == cutSent && !c.gw[fr.src]) || (cut == cutRecv && c.gw[fr.src]) {
			continue
		}
		ci := gopacket.CaptureInfo{Timestamp: fr.ts, CaptureLength: len(fr.data), Length: len(fr.data)}
		if err := w.WritePacket(ci, fr.data); err != nil {
			c.t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		c.t.Fatal(err)
	}
	return path
}

// replay reads a cut of the capture back as flowaudit replay does.
func (c *genCapture) replay(cut int) *capture.Result {
	c.t.Helper()
	res, err := pcapfile.ReadFiles(context.Background(), []string{c.write(cut)}, capture.Options{})
	if err != nil {
		c.t.Fatal(err)
	}
	return res
}

// session is one generated TCP connection from client to server: a
// handshake, data both ways and a close.
func (c *genCapture) session(client, server netip.AddrPort) {
	c.tcp(client, server, "S", 1000, 0, "")
	c.tcp(server, client, "SA", 5000, 1001, "")
	c.tcp(client, server, "A", 1001, 5001, "")
	c.tcp(server, client, "PA", 5001, 1001, "220 ready\r\n")
	c.tcp(client, server, "PA", 1001, 5012, "QUIT\r\n")
	c.tcp(server, client, "FA", 5012, 1007, "")
	c.tcp(client, server, "FA", 1007, 5013, "")
	c.tcp(server, client, "A", 5013, 1008, "")
}

// droppedSYN is an attempt nothing answers: the SYN retransmitted at 1 and
// 3 s (Linux's initial RTO and its doubling).
func (c *genCapture) droppedSYN(client, server netip.AddrPort) {
	c.tcp(client, server, "S", 2000, 0, "")
	c.wait(time.Second)
	c.tcp(client, server, "S", 2000, 0, "")
	c.wait(2 * time.Second)
	c.tcp(client, server, "S", 2000, 0, "")
}
