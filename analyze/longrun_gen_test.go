package analyze

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/flowaudit/flowaudit/capture"
)

// dayGen is a capture.FrameReader that makes up a mail gateway's traffic
// on a fake clock: flows start at random moments, perSec a simulated
// second on average, each a short script of packets (see dayScripts),
// until the simulated end. Peers are drawn from documentation ranges,
// IPv6 ones nearly never twice, so the peers grow with the run as on a
// real gateway. Frames are built into one buffer: the generator keeps
// only the flows in flight.
type dayGen struct {
	rng     *rand.Rand
	perSec  int
	start   int64 // simulated start, Unix ns
	end     int64 // no flow starts at or after it
	nextSec int64 // the next simulated second whose flows are not scheduled
	// tick is the next simulated minute: Next returns ErrTimeout once
	// there, as a live wire does between packets, so that the packet path
	// hands over what it has and reports progress every minute.
	tick     int64
	pend     pktHeap
	buf      []byte
	free     []*genFlow
	started  int
	gw4, gw6 netip.Addr
	resolver netip.Addr
}

func newDayGen(seed uint64, perSec int, start time.Time, d time.Duration) *dayGen {
	g := &dayGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), perSec: perSec,
		start: start.UnixNano(), end: start.Add(d).UnixNano(), buf: make([]byte, 0, 2048),
		gw4: netip.MustParseAddr("192.0.2.10"), gw6: netip.MustParseAddr("2001:db8::10"),
		resolver: netip.MustParseAddr("198.51.100.53")}
	g.nextSec, g.tick = g.start, g.start+int64(time.Minute)
	return g
}

// step is one packet of a script: dt after the flow's start, from the
// originator (resp false) or the responder, TCP flags, and what it
// carries.
type step struct {
	dt    time.Duration
	resp  bool
	flags uint8
	n     int  // payload bytes (zeros) unless a kind below applies
	kind  byte // 'q' DNS query, 'a' DNS answer, 'h' HTTP request, 'i' ICMP port unreachable
}

const (
	fFIN = 0x01
	fSYN = 0x02
	fRST = 0x04
	fPSH = 0x08
	fACK = 0x10
)

// script is one kind of flow: who opens it, protocol, server port, how
// often (weight, per 100 flows) and its packets.
type script struct {
	name   string
	in     bool // a peer opens it to the gateway
	proto  uint8
	port   uint16
	weight int
	steps  []step
}

// tcpSession is a handshake, a few data segments each way and a close.
var tcpSession = []step{
	{0, false, fSYN, 0, 0}, {20 * time.Millisecond, true, fSYN | fACK, 0, 0}, {21 * time.Millisecond, false, fACK, 0, 0},
	{40 * time.Millisecond, true, fPSH | fACK, 40, 0}, {60 * time.Millisecond, false, fPSH | fACK, 300, 0},
	{80 * time.Millisecond, true, fPSH | fACK, 20, 0}, {100 * time.Millisecond, false, fFIN | fACK, 0, 0},
	{120 * time.Millisecond, true, fFIN | fACK, 0, 0}, {121 * time.Millisecond, false, fACK, 0, 0},
}

// dayScripts is the mix: mostly mail and name lookups that work, some
// updates over HTTP(S), and failures: SMTP attempts nobody answers, a
// Razor port refused, scanners probing SSH, a UDP port unreachable.
var dayScripts = []script{
	{"smtp out", false, 6, 25, 24, tcpSession},
	{"smtp in", true, 6, 25, 24, tcpSession},
	{"https out", false, 6, 443, 14, tcpSession},
	{"http out", false, 6, 80, 5, []step{
		{0, false, fSYN, 0, 0}, {20 * time.Millisecond, true, fSYN | fACK, 0, 0}, {21 * time.Millisecond, false, fACK, 0, 0},
		{22 * time.Millisecond, false, fPSH | fACK, 0, 'h'}, {60 * time.Millisecond, true, fPSH | fACK, 500, 0},
		{80 * time.Millisecond, false, fFIN | fACK, 0, 0}, {100 * time.Millisecond, true, fFIN | fACK, 0, 0},
		{101 * time.Millisecond, false, fACK, 0, 0}}},
	{"dns out", false, 17, 53, 21, []step{{0, false, 0, 0, 'q'}, {15 * time.Millisecond, true, 0, 0, 'a'}}},
	{"smtp out unanswered", false, 6, 25, 3, []step{{0, false, fSYN, 0, 0}, {time.Second, false, fSYN, 0, 0}, {3 * time.Second, false, fSYN, 0, 0}}},
	{"razor refused", false, 6, 2703, 3, []step{{0, false, fSYN, 0, 0}, {10 * time.Millisecond, true, fRST | fACK, 0, 0}}},
	{"ssh scan in", true, 6, 22, 5, []step{{0, false, fSYN, 0, 0}}},
	{"udp unreachable", false, 17, 6277, 1, []step{{0, false, 0, 30, 0}, {10 * time.Millisecond, true, 0, 0, 'i'}}},
}

// genFlow is one flow in flight (recycled through dayGen.free once its
// last packet is out).
type genFlow struct {
	s          *script
	orig, resp netip.AddrPort
	start      int64
	seq        [2]uint32 // next sequence number of each side (TCP)
	dnsID      uint16
	name       int // DNS: the name is mx<name>.example.net
	left       int // packets not sent yet
}

type pkt struct {
	ts   int64
	f    *genFlow
	step int
}

// pktHeap is a min-heap of packets by time, written out rather than
// through container/heap, whose interface boxing would allocate per
// packet.
type pktHeap []pkt

func (h *pktHeap) push(p pkt) {
	*h = append(*h, p)
	q := *h
	for i := len(q) - 1; i > 0; {
		up := (i - 1) / 2
		if q[up].ts <= q[i].ts {
			break
		}
		q[up], q[i] = q[i], q[up]
		i = up
	}
}

func (h *pktHeap) pop() pkt {
	q := *h
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q = q[:n]
	for i := 0; ; {
		l, m := 2*i+1, i
		if l < n && q[l].ts < q[m].ts {
			m = l
		}
		if r := l + 1; r < n && q[r].ts < q[m].ts {
			m = r
		}
		if m == i {
			break
		}
		q[m], q[i] = q[i], q[m]
		i = m
	}
	*h = q
	return top
}

// Next implements capture.FrameReader.
func (g *dayGen) Next(fr *capture.Frame) error {
	for len(g.pend) == 0 || g.pend[0].ts >= g.nextSec {
		if g.nextSec >= g.end {
			if len(g.pend) == 0 {
				return io.EOF
			}
			break
		}
		g.schedule(g.nextSec)
		g.nextSec += int64(time.Second)
	}
	if len(g.pend) > 0 && g.pend[0].ts >= g.tick {
		g.tick += int64(time.Minute)
		return capture.ErrTimeout
	}
	p := g.pend.pop()
	g.buf = g.frame(g.buf[:0], p.f, p.step)
	if p.f.left--; p.f.left == 0 {
		g.free = append(g.free, p.f)
	}
	*fr = capture.Frame{Data: g.buf, TS: p.ts, WireLen: len(g.buf), LinkType: layers.LinkTypeEthernet}
	return nil
}

// Close implements capture.FrameReader.
func (g *dayGen) Close() error { return nil }

// schedule starts the flows of the simulated second at sec: perSec on
// average, at random moments in it.
func (g *dayGen) schedule(sec int64) {
	n := g.rng.IntN(2*g.perSec + 1)
	for range n {
		f := g.newFlow(sec + g.rng.Int64N(int64(time.Second)))
		for i, st := range f.s.steps {
			g.pend.push(pkt{ts: f.start + int64(st.dt), f: f, step: i})
		}
		g.started++
	}
}

// newFlow draws a script and its endpoints.
func (g *dayGen) newFlow(start int64) *genFlow {
	w := g.rng.IntN(100)
	s := &dayScripts[len(dayScripts)-1]
	for i := range dayScripts {
		if w < dayScripts[i].weight {
			s = &dayScripts[i]
			break
		}
		w -= dayScripts[i].weight
	}
	var f *genFlow
	if n := len(g.free); n > 0 {
		f, g.free = g.free[n-1], g.free[:n-1]
	} else {
		f = new(genFlow)
	}
	*f = genFlow{s: s, start: start, seq: [2]uint32{g.rng.Uint32(), g.rng.Uint32()}, left: len(s.steps)}
	peer, gw := g.peer(), g.gw4
	if peer.Is6() {
		gw = g.gw6
	}
	if s.proto == 17 && s.port == 53 {
		peer, gw = g.resolver, g.gw4
		f.dnsID = uint16(g.rng.Uint32())
		f.name = g.rng.IntN(50000)
	}
	if s.proto == 17 && s.port == 6277 {
		peer, gw = netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + g.rng.IntN(250))}), g.gw4 // the ICMP error is built for IPv4
	}
	eph := uint16(32768 + g.rng.IntN(28000))
	if s.in {
		f.orig, f.resp = netip.AddrPortFrom(peer, eph), netip.AddrPortFrom(gw, s.port)
	} else {
		f.orig, f.resp = netip.AddrPortFrom(gw, eph), netip.AddrPortFrom(peer, s.port)
	}
	return f
}

// peer draws a peer address: half IPv4 from two documentation /24s, half
// IPv6 from 2001:db8::/32 (nearly always new).
func (g *dayGen) peer() netip.Addr {
	switch g.rng.IntN(4) {
	case 0:
		return netip.AddrFrom4([4]byte{198, 51, 100, byte(1 + g.rng.IntN(250))})
	case 1:
		return netip.AddrFrom4([4]byte{203, 0, 113, byte(1 + g.rng.IntN(250))})
	}
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	binary.BigEndian.PutUint64(b[8:], g.rng.Uint64())
	binary.BigEndian.PutUint16(b[4:], uint16(1+g.rng.IntN(0xfffe)))
	return netip.AddrFrom16(b)
}

// frame appends packet i of flow f to b: Ethernet, IPv4 or IPv6, then
// TCP, UDP or ICMP. Nothing is allocated: the headers are written in
// place, lengths filled in at the end.
func (g *dayGen) frame(b []byte, f *genFlow, i int) []byte {
	st := f.s.steps[i]
	src, dst := f.orig, f.resp
	side := 0
	if st.resp {
		src, dst, side = dst, src, 1
	}
	proto := f.s.proto
	if st.kind == 'i' {
		proto = 1
	}
	b = append(b, 0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2)
	v4 := src.Addr().Is4()
	if v4 {
		b = append(b, 0x08, 0x00)
	} else {
		b = append(b, 0x86, 0xdd)
	}
	ip := len(b)
	b = ipHeader(b, src.Addr(), dst.Addr(), proto)
	l4 := len(b)
	switch {
	case st.kind == 'i':
		// The peer's port unreachable, quoting the first datagram's IP
		// header and UDP header.
		b = append(b, 3, 3, 0, 0, 0, 0, 0, 0)
		q := len(b)
		b = ipHeader(b, f.orig.Addr(), f.resp.Addr(), 17)
		binary.BigEndian.PutUint16(b[q+2:], uint16(20+8+f.s.steps[0].n))
		b = udpHeader(b, f.orig.Port(), f.resp.Port(), 8+f.s.steps[0].n)
	case proto == 6:
		b = tcpHeader(b, src.Port(), dst.Port(), f.seq[side], f.seq[side^1], st.flags)
		n := len(b)
		b = appendPayload(b, f, st)
		f.seq[side] += uint32(len(b) - n)
		if st.flags&(fSYN|fFIN) != 0 {
			f.seq[side]++
		}
	default:
		b = udpHeader(b, src.Port(), dst.Port(), 0)
		b = appendPayload(b, f, st)
		binary.BigEndian.PutUint16(b[l4+4:], uint16(len(b)-l4))
	}
	if v4 {
		binary.BigEndian.PutUint16(b[ip+2:], uint16(len(b)-ip))
	} else {
		binary.BigEndian.PutUint16(b[ip+4:], uint16(len(b)-l4))
	}
	return b
}

var zeros [1500]byte

// appendPayload appends what step st of f carries.
func appendPayload(b []byte, f *genFlow, st step) []byte {
	switch st.kind {
	case 'q', 'a':
		return appendDNS(b, f, st.kind == 'a')
	case 'h':
		b = append(b, "GET /update HTTP/1.1\r\nHost: upd"...)
		b = strconv.AppendUint(b, uint64(f.seq[0]%64), 10)
		return append(b, ".example.com\r\n\r\n"...)
	}
	return append(b, zeros[:st.n]...)
}

// appendDNS appends the query for f's name (mx<N>.example.net, type A),
// or its answer: 203.0.113.(N mod 250), TTL 300.
func appendDNS(b []byte, f *genFlow, answer bool) []byte {
	flags, an := uint16(0x0100), uint16(0) // RD
	if answer {
		flags, an = 0x8180, 1 // QR, RD, RA
	}
	b = binary.BigEndian.AppendUint16(b, f.dnsID)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = append(b, 0, 1, byte(an>>8), byte(an), 0, 0, 0, 0)
	label := len(b)
	b = append(b, 0, 'm', 'x')
	b = strconv.AppendUint(b, uint64(f.name), 10)
	b[label] = byte(len(b) - label - 1)
	b = append(b, 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'n', 'e', 't', 0, 0, 1, 0, 1)
	if answer {
		b = append(b, 0xc0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 203, 0, 113, byte(f.name%250))
	}
	return b
}

func tcpHeader(b []byte, sp, dp uint16, seq, ack uint32, flags uint8) []byte {
	b = binary.BigEndian.AppendUint16(b, sp)
	b = binary.BigEndian.AppendUint16(b, dp)
	b = binary.BigEndian.AppendUint32(b, seq)
	if flags&fACK == 0 {
		ack = 0
	}
	b = binary.BigEndian.AppendUint32(b, ack)
	return append(b, 5<<4, flags, 0xff, 0xff, 0, 0, 0, 0)
}

func udpHeader(b []byte, sp, dp uint16, n int) []byte {
	b = binary.BigEndian.AppendUint16(b, sp)
	b = binary.BigEndian.AppendUint16(b, dp)
	b = binary.BigEndian.AppendUint16(b, uint16(n))
	return append(b, 0, 0)
}

// ipHeader appends an IPv4 or IPv6 header (length 0: filled in later).
func ipHeader(b []byte, src, dst netip.Addr, proto uint8) []byte {
	if src.Is4() {
		s, d := src.As4(), dst.As4()
		b = append(b, 0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0)
		b = append(b, s[:]...)
		return append(b, d[:]...)
	}
	s, d := src.As16(), dst.As16()
	b = append(b, 0x60, 0, 0, 0, 0, 0, proto, 64)
	b = append(b, s[:]...)
	return append(b, d[:]...)
}
