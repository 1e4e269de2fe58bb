package flow

import (
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/flowaudit/flowaudit/capture/decode"
)

// Zeek's defaults, used when a Config field is zero.
const (
	// DefaultTCPTimeout is Zeek's tcp_inactivity_timeout.
	DefaultTCPTimeout = 5 * time.Minute
	// DefaultUDPTimeout is Zeek's udp_inactivity_timeout.
	DefaultUDPTimeout = time.Minute
	// DefaultICMPTimeout is Zeek's icmp_inactivity_timeout.
	DefaultICMPTimeout = time.Minute
	// DefaultOtherTimeout applies to other IP protocols (as for UDP).
	DefaultOtherTimeout = time.Minute
	// DefaultDNSTimeout is Zeek's dns_session_timeout: UDP flows to or
	// from port 53 end after 10 s without a packet, so one client port
	// reused for several lookups gives one flow per burst, as in Zeek.
	DefaultDNSTimeout = 10 * time.Second
	// DefaultAttemptDelay is Zeek's tcp_attempt_delay: a TCP attempt
	// (SYN sent, nothing from the responder) older than this ends when the
	// originator sends something other than a SYN; SYN retransmissions
	// stay in the attempt (see docs/flows.md).
	DefaultAttemptDelay = 5 * time.Second
	// DefaultCloseDelay is Zeek's tcp_close_delay: how long a closed or
	// reset TCP connection stays in the table to absorb late packets.
	DefaultCloseDelay = 5 * time.Second
	// DefaultMaxFlows bounds the number of concurrent flows, and so the
	// table's memory: a full table holds about 76 MiB (256-byte entries,
	// index, expiry queues; TestTableMemoryBound).
	DefaultMaxFlows = 1 << 18
)

// Config tunes a Table. Zero values take the defaults above.
type Config struct {
	TCPTimeout, UDPTimeout, ICMPTimeout, OtherTimeout time.Duration
	DNSTimeout, CloseDelay, AttemptDelay              time.Duration
	// MaxFlows bounds concurrent flows; on overflow the flow idle the
	// longest is finished early (Flow.Evicted, Stats.Evicted).
	MaxFlows int
	// OnFlow receives each finished flow. The *Flow is reused after the
	// call returns: copy what must be kept (see Flow.Clone). When nil the
	// table keeps finished flows for TakeFinished.
	OnFlow func(*Flow)
	// ServerName, when set, is called with the first originator payload of
	// each TCP and UDP flow; a non-empty result is kept as Flow.ServerName
	// (TLS SNI, HTTP Host). It must not retain payload.
	ServerName func(payload []byte) string
}

// TableStats counts what a Table has seen.
type TableStats struct {
	// Flows counts flows created (finished and active).
	Flows uint64
	// Active is the number of flows currently in the table.
	Active int
	// Evicted counts flows finished early because the table was full.
	Evicted uint64
	// MissedBytes sums Flow.MissedBytes over finished flows.
	MissedBytes uint64
	// ICMPAttached counts ICMP errors attached to a flow.
	ICMPAttached uint64
	// ICMPQuoted counts the flows created from an ICMP error's quote,
	// because the table held none of the flow's own packets.
	ICMPQuoted uint64
}

// Expiry lists: each flow is on one, which sets its inactivity timeout.
const (
	listTCP = iota
	listUDP
	listICMP
	listOther
	listDNS
	listClosed
	numLists
)

// Table rebuilds bidirectional flows from decoded packets. It is not safe
// for concurrent use; Add, Flush and Snapshot must come from one goroutine.
type Table struct {
	cfg     Config
	timeout [numLists]int64
	// attemptDelay is Config.AttemptDelay in nanoseconds.
	attemptDelay int64
	idx          index
	slab         []entry
	free         []int32
	queues       [numLists]queue

	nextExpire int64
	stats      TableStats
	nextID     uint64

	prep [batchPrefetch]Prepared

	icmpErrs map[int32]icmpInfo
	// macs are the link addresses flows refer to by index (entry.mac),
	// macs[0] the zero MAC: at most maxMACs, past which a new one is
	// unknown (a gateway's link shows a handful).
	macs    []MAC
	macIdx  map[MAC]uint8
	names   []string
	nameIdx map[string]uint32
	// namesLimit triggers compactNames.
	namesLimit int
	finished   []Flow
	scratch    Flow
	icmp       ICMPError
	emitter    emitter
}

// NewTable returns an empty table.
func NewTable(cfg Config) *Table {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.TCPTimeout, DefaultTCPTimeout)
	def(&cfg.UDPTimeout, DefaultUDPTimeout)
	def(&cfg.ICMPTimeout, DefaultICMPTimeout)
	def(&cfg.OtherTimeout, DefaultOtherTimeout)
	def(&cfg.CloseDelay, DefaultCloseDelay)
	def(&cfg.DNSTimeout, DefaultDNSTimeout)
	def(&cfg.AttemptDelay, DefaultAttemptDelay)
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = DefaultMaxFlows
	}
	t := &Table{cfg: cfg, nameIdx: make(map[string]uint32), names: []string{""},
		icmpErrs: make(map[int32]icmpInfo), macs: []MAC{{}}, macIdx: map[MAC]uint8{}}
	t.namesLimit = 1 << 16
	t.idx.init(rand.Uint64())
	t.timeout = [numLists]int64{int64(cfg.TCPTimeout), int64(cfg.UDPTimeout),
		int64(cfg.ICMPTimeout), int64(cfg.OtherTimeout), int64(cfg.DNSTimeout), int64(cfg.CloseDelay)}
	t.attemptDelay = int64(cfg.AttemptDelay)
	t.emitter.init()
	return t
}

// Stats returns the table's counters.
func (t *Table) Stats() TableStats {
	s := t.stats
	s.Active = t.idx.n
	return s
}

// TakeFinished returns the flows finished since the last call when
// Config.OnFlow is nil, and forgets them.
func (t *Table) TakeFinished() []Flow {
	f := t.finished
	t.finished = nil
	return f
}

// Add accounts one decoded packet. Packet time drives expiry: flows idle
// longer than their timeout are finished before p is looked at. Add keeps
// no reference to p or its payload.
func (t *Table) Add(p *decode.Packet) {
	var k Key
	fromA, kind := packetKey(&k, p)
	t.add(p, &k, fromA, kind, t.idx.hash(&k))
}

func (t *Table) add(p *decode.Packet, k *Key, fromA bool, kind icmpKind, h uint32) {
	now := p.TS
	if now >= t.nextExpire {
		t.expire(now)
		t.nextExpire = now + int64(time.Second)
	}
	if kind == icmpError && p.HasInner && t.attachICMP(p) {
		return
	}
	pos, slot := t.idx.find(k, h, t.slab)
	if p.FragOffset != 0 {
		// A later fragment has no transport header; the first fragment
		// already counted the datagram.
		if pos >= 0 {
			t.slab[pos].last = max(t.slab[pos].last, now)
		}
		return
	}
	if pos >= 0 && t.ended(&t.slab[pos], fromA, p) {
		t.finish(pos, false, false)
		pos, slot = t.idx.find(k, h, t.slab)
	}
	if pos < 0 {
		pos = t.create(k, h, slot, fromA, p)
	}
	e := &t.slab[pos]
	isOrig := fromA == e.origIsA
	if now > e.last {
		e.last = now
	}
	if p.Link.HasMAC || p.Link.HasPktType {
		t.link(e, isOrig, p)
	}
	if p.Proto == ProtoTCP {
		t.tcp(e, isOrig, p)
		if e.closed && e.list != listClosed {
			t.setList(pos, listClosed)
		}
		return
	}
	t.datagram(e, isOrig, p)
}

// ended reports whether packet p cannot belong to the flow e it maps to
// and starts a new one instead: e idled past its timeout (expiry runs once
// a second of packet time; this makes it exact), a fresh SYN arrived on a
// closed connection (Zeek's connection reuse), or the originator went on
// talking after an attempt the responder never answered (Zeek's
// tcp_attempt_delay).
func (t *Table) ended(e *entry, fromA bool, p *decode.Packet) bool {
	if e.last+t.timeout[e.list] <= p.TS {
		return true
	}
	if p.Proto != ProtoTCP {
		return false
	}
	if e.list == listClosed {
		return p.TCPFlags&(decode.SYN|decode.ACK|decode.RST) == decode.SYN
	}
	return fromA == e.origIsA && p.TCPFlags&decode.SYN == 0 &&
		(e.ep[0].state == tcpSynSent || e.ep[0].state == tcpSynAckSent) &&
		e.ep[1].state == tcpInactive && p.TS-e.start > t.attemptDelay
}

// maxMACs bounds Table.macs (entry.mac is one byte, 0 the unknown MAC).
const maxMACs = 255

// link records what the link layer says of packet p's sender (isOrig:
// the originator) and receiver: an outgoing packet type, the source MAC
// of the sender's frames, and the destination MAC as the receiver's until
// it sends a frame itself. A side's MAC is looked up once: the map is
// touched only on a side's first frame.
func (t *Table) link(e *entry, isOrig bool, p *decode.Packet) {
	s, r := 0, 1
	if !isOrig {
		s, r = 1, 0
	}
	l := &p.Link
	if l.HasPktType && l.PktType == decode.PktOutgoing {
		e.ep[s].bits |= epOut
	}
	if !l.HasMAC {
		return
	}
	if e.ep[s].bits&epMACSrc == 0 && MAC(l.Src).Unicast() {
		if i := t.macIndex(MAC(l.Src)); i != 0 {
			e.mac[s] = i
			e.ep[s].bits |= epMACSrc
		}
	}
	if e.mac[r] == 0 && MAC(l.Dst).Unicast() {
		e.mac[r] = t.macIndex(MAC(l.Dst))
	}
}

// macIndex returns m's index in t.macs, adding it while there is room
// (0 when the table is full).
func (t *Table) macIndex(m MAC) uint8 {
	if i, ok := t.macIdx[m]; ok {
		return i
	}
	if len(t.macs) > maxMACs {
		return 0
	}
	i := uint8(len(t.macs))
	t.macs = append(t.macs, m)
	t.macIdx[m] = i
	return i
}

// datagram accounts a UDP, ICMP or other-protocol packet.
func (t *Table) datagram(e *entry, isOrig bool, p *decode.Packet) {
	d := 1
	if isOrig {
		d = 0
		if e.ep[1].pkts == 0 {
			e.attempts++
		}
	}
	ep := &e.ep[d]
	ep.pkts++
	ep.covered += int64(p.PayloadLen)
	if p.Proto == ProtoUDP {
		// Zeek marks every UDP packet as data, empty ones included.
		e.addHistory(isOrig, histData, 'D')
		if isOrig && !e.sniffed && p.PayloadLen > 0 {
			e.sniffed = true
			t.sniff(e, p.Payload)
		}
	}
}

// sniff asks Config.ServerName about the first originator payload.
func (t *Table) sniff(e *entry, payload []byte) {
	if t.cfg.ServerName == nil || len(payload) == 0 {
		return
	}
	name := t.cfg.ServerName(payload)
	if name == "" {
		return
	}
	i, ok := t.nameIdx[name]
	if !ok {
		if len(t.names) >= t.namesLimit {
			t.compactNames()
		}
		i = uint32(len(t.names))
		t.names = append(t.names, name)
		t.nameIdx[name] = i
	}
	e.serverName = i
}

// compactNames keeps only the server names active flows refer to, so the
// name table of a long live capture does not grow without end. Entries
// refer to names by index (they hold no pointers), hence the renumbering.
func (t *Table) compactNames() {
	names := []string{""}
	idx := make(map[string]uint32)
	for i := range t.slab {
		e := &t.slab[i]
		if !e.active || e.serverName == 0 {
			continue
		}
		name := t.names[e.serverName]
		j, ok := idx[name]
		if !ok {
			j = uint32(len(names))
			names = append(names, name)
			idx[name] = j
		}
		e.serverName = j
	}
	t.names, t.nameIdx = names, idx
	if len(names) >= t.namesLimit/2 {
		t.namesLimit *= 2
	}
}

var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// create inserts a new flow for packet p at index slot, choosing its
// originator.
func (t *Table) create(k *Key, h, slot uint32, fromA bool, p *decode.Packet) int32 {
	pos := t.alloc(k, h, slot, p.TS, p.Proto, p.SrcPort == 53 || p.DstPort == 53)
	e := &t.slab[pos]
	flip := false
	switch p.Proto {
	case ProtoTCP:
		flip = tcpFlip(p.TCPFlags, p.SrcPort, p.DstPort)
	case ProtoUDP:
		flip = likelyServerPort(p.SrcPort) && !likelyServerPort(p.DstPort)
	case ProtoICMP, ProtoICMPv6:
		e.icmpType, e.icmpCode = p.ICMPType, p.ICMPCode
	}
	if flip && (p.Dst.IsMulticast() || p.Dst == broadcast4) {
		// A packet to a group address came from the originator, whatever
		// its ports say (as Zeek decides).
		flip = false
	}
	e.origIsA = fromA != flip
	if flip {
		e.hist[0] = '^'
		e.histLen = 1
	}
	return pos
}

// alloc takes a free entry for a new flow of key k first seen at ts,
// puts it on the expiry list of its protocol (dns: UDP to or from port
// 53) and into the index at slot (found again if a full table had to
// evict a flow first).
func (t *Table) alloc(k *Key, h, slot uint32, ts int64, proto uint8, dns bool) int32 {
	if t.idx.n >= t.cfg.MaxFlows {
		t.evictOldest()
		_, slot = t.idx.find(k, h, t.slab)
	}
	var pos int32
	if n := len(t.free); n > 0 {
		pos = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		if n := len(t.slab); n == cap(t.slab) && n >= t.cfg.MaxFlows/8 && n < t.cfg.MaxFlows {
			// A busy table grows once, to its bound, rather than by
			// append's steps: each step would hold the old and the new
			// slab at once (measured on a 5M-flow SYN flood: 133 MB live
			// at the last step, 84 MB with this).
			s := make([]entry, n, t.cfg.MaxFlows)
			copy(s, t.slab)
			t.slab = s
		}
		t.slab = append(t.slab, entry{})
		pos = int32(len(t.slab) - 1)
	}
	e := &t.slab[pos]
	gen := e.gen + 1
	*e = entry{key: *k, start: ts, last: ts, list: listFor(proto), gen: gen, active: true}
	if proto == ProtoUDP && dns {
		e.list = listDNS
	}
	t.nextID++
	e.id = t.nextID
	t.stats.Flows++
	t.idx.insert(slot, h, pos)
	t.queues[e.list].push(qent{at: ts, pos: pos, gen: gen})
	return pos
}

// setList moves a flow to another expiry list; its entry in the old
// list's queue becomes stale.
func (t *Table) setList(pos int32, l uint8) {
	e := &t.slab[pos]
	e.list = l
	t.queues[l].push(qent{at: e.last, pos: pos, gen: e.gen})
}

func listFor(proto uint8) uint8 {
	switch proto {
	case ProtoTCP:
		return listTCP
	case ProtoUDP:
		return listUDP
	case ProtoICMP, ProtoICMPv6:
		return listICMP
	}
	return listOther
}

// tcpFlip decides whether the sender of the first packet seen is the
// responder: always for a SYN-ACK (the SYN was missed), and for packets
// without SYN by Zeek's port heuristic. When neither port is a likely
// server port, an RST with ACK as first packet is taken as a refusal of
// a SYN the capture did not hold (RFC 9293: a segment without ACK, a SYN,
// is reset with RST+ACK; nftables' "reject with tcp reset" does the same),
// so its sender is the responder: a capture of what the gateway received
// then shows the refused connection as the gateway's, not as an inbound
// flow to its ephemeral port (Zeek keeps the sender as originator).
func tcpFlip(flags uint8, sport, dport uint16) bool {
	if flags&decode.SYN != 0 {
		return flags&decode.ACK != 0
	}
	ls, ld := likelyServerPort(sport), likelyServerPort(dport)
	switch {
	case ls && ld:
		return sport < dport
	case ls || ld:
		return ls
	}
	return flags&(decode.RST|decode.ACK) == decode.RST|decode.ACK
}

// attachICMP attaches an ICMP error to the flow its quoted header names.
// When the table holds no such flow (a capture of one direction only, or
// a flow already finished), the flow is created from the quote: the
// quoted packet is the originator's (or, by the port heuristic, a reply
// whose destination is the originator), so the error is the flow's answer
// and does not become an ICMP flow of its own. It reports false when the
// error cannot be attached: its quote is not usable (quoteUsable).
func (t *Table) attachICMP(p *decode.Packet) bool {
	k, srcIsA := innerKey(&p.Inner)
	h := t.idx.hash(&k)
	pos, slot := t.idx.find(&k, h, t.slab)
	if pos < 0 {
		if !quoteUsable(p) {
			return false
		}
		in := &p.Inner
		pos = t.alloc(&k, h, slot, p.TS, in.Proto, in.SrcPort == 53 || in.DstPort == 53)
		reply := likelyServerPort(in.SrcPort) && !likelyServerPort(in.DstPort)
		t.slab[pos].origIsA = srcIsA != reply
		t.stats.ICMPQuoted++
	}
	e := &t.slab[pos]
	if prev, ok := t.icmpErrs[pos]; ok && e.hasICMP && ICMPFails(prev.v6, prev.typ, prev.code) &&
		!ICMPFails(p.Proto == ProtoICMPv6, p.ICMPType, p.ICMPCode) {
		return true // a redirect after a refusal does not hide the refusal
	}
	e.hasICMP = true
	t.icmpErrs[pos] = icmpInfo{typ: p.ICMPType, code: p.ICMPCode, v6: p.Proto == ProtoICMPv6,
		from: p.Src.As16(), from4: p.Src.Is4(), ts: p.TS}
	if p.TS > e.last {
		e.last = p.TS
	}
	t.stats.ICMPAttached++
	return true
}

// quoteUsable reports whether an ICMP error's quote can name a flow the
// table does not hold: the error goes back to the quoted packet's sender
// (as errors do; anything else is forged or mangled), and the quote is a
// TCP or UDP header with its ports (not a later fragment), or a packet of
// another protocol than ICMP (keyed by its addresses). Quoted ICMP
// messages keep the error as a flow of its own, as before.
func quoteUsable(p *decode.Packet) bool {
	in := &p.Inner
	if in.Src != p.Dst {
		return false
	}
	switch in.Proto {
	case ProtoTCP, ProtoUDP:
		return in.SrcPort != 0 || in.DstPort != 0
	case ProtoICMP, ProtoICMPv6:
		return false
	}
	return true
}

// Clone returns a deep copy of f, for keeping a flow passed to a callback.
func (f *Flow) Clone() *Flow {
	c := *f
	if f.ICMP != nil {
		ic := *f.ICMP
		c.ICMP = &ic
	}
	if f.Process != nil {
		pr := *f.Process
		c.Process = &pr
	}
	if f.LocalDrop != nil {
		ld := *f.LocalDrop
		c.LocalDrop = &ld
	}
	c.OrigNames = append([]string(nil), f.OrigNames...)
	c.RespNames = append([]string(nil), f.RespNames...)
	if len(c.OrigNames) == 0 {
		c.OrigNames = nil
	}
	if len(c.RespNames) == 0 {
		c.RespNames = nil
	}
	return &c
}
