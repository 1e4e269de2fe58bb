package labtest

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Evidence is what CheckCapture found on the wire: the packet kinds a lab
// capture must contain, and every disagreement with the truth.
type Evidence struct {
	Packets int
	// Handshakes counts connections whose SYN was answered by SYN-ACK.
	Handshakes int
	// SYNRetransmitted counts connections whose SYN was sent twice or more.
	SYNRetransmitted int
	// RSTs counts connections answered by RST.
	RSTs int
	// AdminProhibited4 and AdminProhibited6 count ICMP type 3 code 13 and
	// ICMPv6 type 1 code 1 errors quoting a scenario flow.
	AdminProhibited4 int
	AdminProhibited6 int
	// PortUnreachable counts ICMP 3/3 and ICMPv6 1/4 quoting a flow.
	PortUnreachable int
	// ResetAfterHandshake counts established connections that ended with
	// an RST: the lab's services close cleanly, so it should be zero.
	ResetAfterHandshake int
	// Mismatches says, per direction/protocol/peer/port, where the
	// capture disagrees with the truth. Empty when they agree.
	Mismatches []string
}

// group is one truth key: the requirement-level identity of a flow.
type group struct {
	proto      string // tcp, udp, icmp
	orig, resp netip.Addr
	port       uint16
}

// conn is one observed connection: a group plus the opener's port (ICMP
// echo: the identifier).
type conn struct {
	group
	oport uint16
}

type connState struct {
	syn, synack, rst, req, reply int
	icmp                         string // reason of an ICMP error quoting the flow
}

// CheckCapture reads the pcap at path and checks that every flow of the
// truth shows on the wire with its outcome: the same number of attempts
// per direction, protocol, peer and port, with the same outcomes (and
// the same ICMP reason), and nothing at all for flows the firewall
// stopped before the gateway. Disagreements are listed in
// Evidence.Mismatches; the error is for unreadable input only.
func CheckCapture(path string, tr *Truth) (*Evidence, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("check capture: %w", err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("check capture %s: %w", path, err)
	}

	want := map[group][]string{}
	for i := range tr.Flows {
		fl := &tr.Flows[i]
		g := group{fl.Protocol, fl.Orig(), fl.Resp(), fl.Port}
		if _, ok := want[g]; !ok {
			want[g] = nil
		}
		if fl.Captured {
			want[g] = append(want[g], expectedOutcome(fl))
		}
	}

	ev := &Evidence{}
	seen := map[conn]*connState{}
	state := func(c conn) *connState {
		s := seen[c]
		if s == nil {
			s = &connState{}
			seen[c] = s
		}
		return s
	}
	for {
		data, _, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("check capture %s: packet %d: %w", path, ev.Packets+1, err)
		}
		ev.Packets++
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.NoCopy)
		observe(p, want, state, ev)
	}

	got := map[group][]string{}
	for c, s := range seen {
		got[c.group] = append(got[c.group], s.outcome(c.proto))
		if s.syn >= 2 {
			ev.SYNRetransmitted++
		}
		if s.synack > 0 {
			ev.Handshakes++
		}
		if s.rst > 0 {
			ev.RSTs++
		}
		if s.rst > 0 && s.synack > 0 {
			ev.ResetAfterHandshake++
		}
	}
	for g, w := range want {
		o := got[g]
		slices.Sort(w)
		slices.Sort(o)
		if !slices.Equal(w, o) {
			ev.Mismatches = append(ev.Mismatches, fmt.Sprintf("%s %s -> %s port %d: truth %v, capture %v",
				g.proto, g.orig, g.resp, g.port, w, o))
		}
	}
	slices.Sort(ev.Mismatches)
	return ev, nil
}

// expectedOutcome is the outcome as the wire shows it: RSTs look the same
// whoever sent them, silence the same whatever dropped it.
func expectedOutcome(f *TruthFlow) string {
	if f.Outcome == "unreachable" {
		return "unreachable:" + f.Reason
	}
	return f.Outcome
}

func (s *connState) outcome(proto string) string {
	switch {
	case proto == "tcp" && s.synack > 0, proto != "tcp" && s.reply > 0:
		return "established"
	case s.rst > 0:
		return "rejected"
	case s.icmp != "":
		return "unreachable:" + s.icmp
	}
	return "unanswered"
}

// observe files one packet under the scenario connection it belongs to,
// if any.
func observe(p gopacket.Packet, want map[group][]string, state func(conn) *connState, ev *Evidence) {
	var src, dst netip.Addr
	var payload []byte
	var proto uint8
	switch ip := p.NetworkLayer().(type) {
	case *layers.IPv4:
		src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
		proto, payload = uint8(ip.Protocol), ip.Payload
	case *layers.IPv6:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
		proto, payload = uint8(ip.NextHeader), ip.Payload
	default:
		return
	}
	has := func(g group) bool { _, ok := want[g]; return ok }
	switch proto {
	case 6, 17:
		observePorts(proto, src, dst, payload, has, state)
	case 1, 58:
		observeICMP(proto, src, dst, payload, has, state, ev)
	}
}

// observePorts files a TCP or UDP packet: a request from the scenario's
// originator, or a reply (SYN-ACK, RST) to it.
func observePorts(proto uint8, src, dst netip.Addr, payload []byte, has func(group) bool, state func(conn) *connState) {
	if len(payload) < 14 {
		return
	}
	name := "udp"
	if proto == 6 {
		name = "tcp"
	}
	sport, dport := binary.BigEndian.Uint16(payload), binary.BigEndian.Uint16(payload[2:])
	if g := (group{name, src, dst, dport}); has(g) {
		s := state(conn{g, sport})
		s.req++
		if proto == 6 && payload[13]&0x12 == 0x02 { // SYN without ACK
			s.syn++
		}
	} else if g := (group{name, dst, src, sport}); has(g) {
		s := state(conn{g, dport})
		s.reply++
		if proto == 6 && payload[13]&0x12 == 0x12 {
			s.synack++
		}
		if proto == 6 && payload[13]&0x04 != 0 {
			s.rst++
		}
	}
}

// observeICMP files an ICMP or ICMPv6 packet: an echo request or reply of
// the scenario, or an error quoting one of its connections.
func observeICMP(proto uint8, src, dst netip.Addr, payload []byte, has func(group) bool, state func(conn) *connState, ev *Evidence) {
	if len(payload) < 8 {
		return
	}
	typ, code := payload[0], payload[1]
	id := binary.BigEndian.Uint16(payload[4:])
	switch {
	case proto == 1 && typ == 8, proto == 58 && typ == 128:
		if g := (group{"icmp", src, dst, 0}); has(g) {
			state(conn{g, id}).req++
		}
	case proto == 1 && typ == 0, proto == 58 && typ == 129:
		if g := (group{"icmp", dst, src, 0}); has(g) {
			state(conn{g, id}).reply++
		}
	case proto == 1 && (typ == 3 || typ == 11), proto == 58 && (typ == 1 || typ == 3):
		c, ok := quoted(proto == 58, payload[8:])
		if !ok || !has(c.group) {
			return
		}
		reason := icmpReason(proto == 58, typ, code)
		state(c).icmp = reason
		switch {
		case reason == "admin-prohibited" && proto == 1:
			ev.AdminProhibited4++
		case reason == "admin-prohibited":
			ev.AdminProhibited6++
		case reason == "port-unreachable":
			ev.PortUnreachable++
		}
	}
}

// quoted parses the IP header and ports an ICMP error quotes: the flow
// it answers.
func quoted(v6 bool, b []byte) (conn, bool) {
	var c conn
	var proto uint8
	var rest []byte
	if v6 {
		if len(b) < 44 {
			return c, false
		}
		proto = b[6]
		c.orig, _ = netip.AddrFromSlice(b[8:24])
		c.resp, _ = netip.AddrFromSlice(b[24:40])
		rest = b[40:]
	} else {
		if len(b) < 20 {
			return c, false
		}
		ihl := int(b[0]&0x0f) * 4
		if ihl < 20 || len(b) < ihl+4 {
			return c, false
		}
		proto = b[9]
		c.orig, _ = netip.AddrFromSlice(b[12:16])
		c.resp, _ = netip.AddrFromSlice(b[16:20])
		rest = b[ihl:]
	}
	switch proto {
	case 6:
		c.proto = "tcp"
	case 17:
		c.proto = "udp"
	default:
		return c, false
	}
	if len(rest) < 4 {
		return c, false
	}
	c.oport, c.port = binary.BigEndian.Uint16(rest), binary.BigEndian.Uint16(rest[2:])
	return c, true
}

// icmpReason names an ICMP error the way flow.ICMPError.Reason does.
func icmpReason(v6 bool, typ, code uint8) string {
	switch {
	case !v6 && typ == 3 && (code == 9 || code == 10 || code == 13), v6 && typ == 1 && code == 1:
		return "admin-prohibited"
	case !v6 && typ == 3 && code == 3, v6 && typ == 1 && code == 4:
		return "port-unreachable"
	}
	return strings.ToLower(fmt.Sprintf("icmp-%d-%d", typ, code))
}
