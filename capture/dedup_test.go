package capture

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/flowaudit/flowaudit/capture/decode"
	"github.com/flowaudit/flowaudit/capture/flow"
)

// sll2Frame wraps an IP packet in a Linux cooked v2 header: ifindex, the
// packet type (decode.PktHost, decode.PktOutgoing...), an Ethernet source
// address.
func sll2Frame(ifindex uint32, pktType uint8, ip []byte) []byte {
	h := make([]byte, 20, 20+len(ip))
	proto := uint16(0x0800)
	if ip[0]>>4 == 6 {
		proto = 0x86dd
	}
	binary.BigEndian.PutUint16(h[0:2], proto)
	binary.BigEndian.PutUint32(h[4:8], ifindex)
	binary.BigEndian.PutUint16(h[8:10], 1) // ARPHRD_ETHER
	h[10], h[11] = pktType, 6
	copy(h[12:18], []byte{0x02, 0, 0, 0, 0, byte(ifindex)})
	return append(h, ip...)
}

// ipPacket serializes an IPv4 or IPv6 packet with TTL (hop limit) ttl and
// IPv4 ID id over a TCP or UDP layer.
func ipPacket(t *testing.T, src, dst string, ttl uint8, id uint16, l4 gopacket.SerializableLayer, payload []byte) []byte {
	t.Helper()
	s, d := net.ParseIP(src), net.ParseIP(dst)
	var ip gopacket.NetworkLayer
	proto := layers.IPProtocolTCP
	if _, ok := l4.(*layers.UDP); ok {
		proto = layers.IPProtocolUDP
	}
	var ipl gopacket.SerializableLayer
	if s.To4() != nil {
		v4 := &layers.IPv4{Version: 4, TTL: ttl, Id: id, Protocol: proto, SrcIP: s, DstIP: d, Flags: layers.IPv4DontFragment}
		ip, ipl = v4, v4
	} else {
		v6 := &layers.IPv6{Version: 6, HopLimit: ttl, NextHeader: proto, SrcIP: s, DstIP: d}
		ip, ipl = v6, v6
	}
	switch l := l4.(type) {
	case *layers.TCP:
		_ = l.SetNetworkLayerForChecksum(ip)
	case *layers.UDP:
		_ = l.SetNetworkLayerForChecksum(ip)
	}
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ipl, l4, gopacket.Payload(payload)); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(buf.Bytes())
}

// forwarded is a packet as a capture on "any" of a router sees it: coming
// in on interface 2, then 40 µs later going out on interface 3 with its
// TTL decremented (and so its IP checksum changed).
type forwarded struct {
	ts       int64
	src, dst string
	id       uint16
	l4       func() gopacket.SerializableLayer
	payload  []byte
}

func (f forwarded) frames(t *testing.T, twice bool) []Frame {
	in := Frame{TS: f.ts, Data: sll2Frame(2, decode.PktHost, ipPacket(t, f.src, f.dst, 64, f.id, f.l4(), f.payload))}
	if !twice {
		return []Frame{in}
	}
	out := Frame{TS: f.ts + 40e3, Data: sll2Frame(3, decode.PktOutgoing, ipPacket(t, f.src, f.dst, 63, f.id, f.l4(), f.payload))}
	return []Frame{in, out}
}

func tcpL4(sport, dport uint16, syn, ack bool, seq, ackn uint32) func() gopacket.SerializableLayer {
	return func() gopacket.SerializableLayer {
		return &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), SYN: syn, ACK: ack,
			Seq: seq, Ack: ackn, Window: 64240}
	}
}

func udpL4(sport, dport uint16) func() gopacket.SerializableLayer {
	return func() gopacket.SerializableLayer {
		return &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}
	}
}

// dedupCapture is the traffic of TestAnyDedup, each packet seen on two
// interfaces when twice is set: a TCP handshake with data; a SYN sent
// three times, a second apart, to a server that never answers (genuine
// retransmissions, byte for byte the same); a DNS query retried after a
// second; an IPv6 SYN answered by RST.
func dedupCapture(t *testing.T, twice bool) []Frame {
	t0 := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC).UnixNano()
	ms := int64(time.Millisecond)
	pkts := []forwarded{
		{t0, "198.51.100.7", "192.0.2.10", 1, tcpL4(40001, 25, true, false, 100, 0), nil},
		{t0 + 1*ms, "192.0.2.10", "198.51.100.7", 9, tcpL4(25, 40001, true, true, 900, 101), nil},
		{t0 + 2*ms, "198.51.100.7", "192.0.2.10", 2, tcpL4(40001, 25, false, true, 101, 901), nil},
		{t0 + 3*ms, "198.51.100.7", "192.0.2.10", 3, tcpL4(40001, 25, false, true, 101, 901), []byte("EHLO x\r\n")},
		{t0 + 4*ms, "192.0.2.10", "198.51.100.7", 10, tcpL4(25, 40001, false, true, 901, 109), []byte("250 ok\r\n")},
		{t0 + 10*ms, "192.0.2.10", "203.0.113.9", 20, tcpL4(41000, 443, true, false, 7, 0), nil},
		{t0 + 1010*ms, "192.0.2.10", "203.0.113.9", 20, tcpL4(41000, 443, true, false, 7, 0), nil},
		{t0 + 3010*ms, "192.0.2.10", "203.0.113.9", 20, tcpL4(41000, 443, true, false, 7, 0), nil},
		{t0 + 20*ms, "192.0.2.10", "198.51.100.53", 30, udpL4(5300, 53), []byte("query")},
		{t0 + 1020*ms, "192.0.2.10", "198.51.100.53", 30, udpL4(5300, 53), []byte("query")},
		{t0 + 30*ms, "2001:db8::10", "2001:db8:1::7", 0, tcpL4(42000, 587, true, false, 5, 0), nil},
		{t0 + 31*ms, "2001:db8:1::7", "2001:db8::10", 0, func() gopacket.SerializableLayer {
			return &layers.TCP{SrcPort: 587, DstPort: 42000, RST: true, ACK: true, Ack: 6}
		}, nil},
	}
	var frames []Frame
	for _, p := range pkts {
		frames = append(frames, p.frames(t, twice)...)
	}
	slices.SortStableFunc(frames, func(a, b Frame) int { return cmp.Compare(a.TS, b.TS) })
	// Through a pcap file, as tcpdump -i any would have written them.
	path := filepath.Join(t.TempDir(), "any.pcap")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := pcapgo.NewWriterNanos(f)
	if err := w.WriteFileHeader(65535, layers.LinkTypeLinuxSLL2); err != nil {
		t.Fatal(err)
	}
	for _, fr := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, fr.TS), CaptureLength: len(fr.Data), Length: len(fr.Data)}
		if err := w.WritePacket(ci, fr.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return framesOf(t, path)
}

// TestAnyDedup: a capture on "any" that saw every packet on two
// interfaces gives the flows of a capture that saw each once, with the
// copies counted in Stats.Duplicates; genuine retransmissions (a SYN a
// second later, a DNS retry) are kept.
func TestAnyDedup(t *testing.T) {
	once, err := runPackets(context.Background(), &sliceSource{frames: dedupCapture(t, false)}, "")
	if err != nil {
		t.Fatal(err)
	}
	twiceFrames := dedupCapture(t, true)
	twice, err := runPackets(context.Background(), &sliceSource{frames: twiceFrames}, "")
	if err != nil {
		t.Fatal(err)
	}
	if twice.Stats.Duplicates != 12 || once.Stats.Duplicates != 0 {
		t.Errorf("duplicates: %d from two interfaces (want 12), %d from one (want 0)", twice.Stats.Duplicates, once.Stats.Duplicates)
	}
	if twice.Stats.Packets != 24 {
		t.Errorf("packets %d, want 24 (every frame read)", twice.Stats.Packets)
	}
	if len(once.Flows) != 4 || len(twice.Flows) != len(once.Flows) {
		t.Fatalf("flows: %d once, %d twice; want 4 each", len(once.Flows), len(twice.Flows))
	}
	byPort := map[uint16]flow.Flow{}
	for _, f := range once.Flows {
		byPort[f.Resp.Port()] = f
	}
	for _, f := range twice.Flows {
		o := byPort[f.Resp.Port()]
		if f.OrigPkts != o.OrigPkts || f.RespPkts != o.RespPkts || f.Attempts != o.Attempts || f.History != o.History || f.Outcome != o.Outcome {
			t.Errorf("port %d: twice %d/%d pkts, %d attempts, %s %s; once %d/%d, %d, %s %s", f.Resp.Port(),
				f.OrigPkts, f.RespPkts, f.Attempts, f.History, f.Outcome, o.OrigPkts, o.RespPkts, o.Attempts, o.History, o.Outcome)
		}
	}
	if syn := byPort[443]; syn.OrigPkts != 3 || syn.Attempts != 3 {
		t.Errorf("the retransmitted SYN: %d packets, %d attempts; want 3 and 3", syn.OrigPkts, syn.Attempts)
	}
	if dns := byPort[53]; dns.OrigPkts != 2 {
		t.Errorf("the retried DNS query: %d packets, want 2", dns.OrigPkts)
	}
	// The first copy is kept: the packet as it came in, not as it left.
	if smtp := byPort[25]; smtp.Link.OrigOut || smtp.Link.RespOut {
		t.Errorf("smtp link %+v: the kept copies are the incoming ones", smtp.Link)
	}
	// Ethernet frames are never taken for copies.
	eth := make([]Frame, len(twiceFrames))
	for i, f := range twiceFrames {
		eth[i] = f
		eth[i].LinkType = layers.LinkTypeEthernet
		hdr := []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, f.Data[0], f.Data[1]} // the EtherType SLL2 carries
		eth[i].Data = append(hdr, f.Data[20:]...)
	}
	r, err := runPackets(context.Background(), &sliceSource{frames: eth}, "")
	if err != nil || r.Stats.Duplicates != 0 {
		t.Errorf("ethernet: %d duplicates (%v), want 0", r.Stats.Duplicates, err)
	}
}

// TestDedupWindow: a copy is one within dedupWindow of the first; a
// packet the same in every field later is a new one; a packet differing
// in one field only (here its IP ID, or checksum) is not a copy.
func TestDedupWindow(t *testing.T) {
	base := decode.Packet{TS: 1e9, Proto: 6, SrcPort: 1, DstPort: 2, Seq: 3, IPID: 4, L4Sum: 5, IPLen: 40}
	var d dedup
	if d.seen(&base) {
		t.Fatal("first packet taken for a copy")
	}
	steps := []struct {
		name string
		dt   int64
		edit func(*decode.Packet)
		want bool
	}{
		{"copy 40us later", 40e3, nil, true},
		{"copy at the window's end", int64(dedupWindow), nil, true},
		{"copy stamped 30us earlier", -30e3, nil, true},
		{"same packet 1 s earlier", -1e9, nil, false},
		{"other IP ID", 10e3, func(p *decode.Packet) { p.IPID++ }, false},
		{"other checksum", 10e3, func(p *decode.Packet) { p.L4Sum++ }, false},
		{"same packet 1 s later", 1e9, nil, false},
	}
	for _, s := range steps {
		p := base
		p.TS += s.dt
		if s.edit != nil {
			s.edit(&p)
		}
		var d dedup
		d.seen(&base)
		if got := d.seen(&p); got != s.want {
			t.Errorf("%s: duplicate %v, want %v", s.name, got, s.want)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { base.TS++; d.seen(&base) }); n != 0 {
		t.Errorf("dedup allocates %.1f per packet", n)
	}
}
