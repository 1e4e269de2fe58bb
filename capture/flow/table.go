package flow

import (
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
	// DefaultMaxFlows bounds the number of concurrent flows.
	DefaultMaxFlows = 1 << 20
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
	// ICMPAttached counts ICMP errors attached to an existing flow.
	ICMPAttached uint64
}

// Expiry lists: each holds flows in order of last activity, so expiring
// and evicting only ever look at list heads.
const (
	listTCP = iota
	listUDP
	listICMP
	listOther
	listDNS
	listClosed
	numLists
)

const none = -1

type list struct{ head, tail int32 }

// Table rebuilds bidirectional flows from decoded packets. It is not safe
// for concurrent use; Add, Flush and Snapshot must come from one goroutine.
type Table struct {
	cfg     Config
	timeout [numLists]int64
	// attemptDelay is Config.AttemptDelay in nanoseconds.
	attemptDelay int64
	m            map[Key]int32
	slab         []entry
	free         []int32
	lists        [numLists]list

	nextExpire int64
	now        int64
	stats      TableStats
	nextID     uint64

	names    []string
	nameIdx  map[string]uint32
	finished []Flow
	scratch  Flow
	icmp     ICMPError
	emitter  emitter
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
	t := &Table{cfg: cfg, m: make(map[Key]int32), nameIdx: make(map[string]uint32),
		names: []string{""}}
	t.timeout = [numLists]int64{int64(cfg.TCPTimeout), int64(cfg.UDPTimeout),
		int64(cfg.ICMPTimeout), int64(cfg.OtherTimeout), int64(cfg.DNSTimeout), int64(cfg.CloseDelay)}
	t.attemptDelay = int64(cfg.AttemptDelay)
	for i := range t.lists {
		t.lists[i] = list{none, none}
	}
	t.emitter.init()
	return t
}

// Stats returns the table's counters.
func (t *Table) Stats() TableStats {
	s := t.stats
	s.Active = len(t.m)
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
	now := p.TS
	if now > t.now {
		t.now = now
	}
	if now >= t.nextExpire {
		t.expire(now)
		t.nextExpire = now + int64(time.Second)
	}
	k, fromA, kind := packetKey(p)
	if kind == icmpError && p.HasInner && t.attachICMP(p) {
		return
	}
	idx, ok := t.m[k]
	if p.FragOffset != 0 {
		// A later fragment has no transport header; the first fragment
		// already counted the datagram.
		if ok {
			t.touch(idx, now)
		}
		return
	}
	if ok && t.ended(&t.slab[idx], fromA, p) {
		t.finish(idx, false, false)
		ok = false
	}
	if !ok {
		idx = t.create(k, fromA, p)
	}
	e := &t.slab[idx]
	isOrig := fromA == e.origIsA
	e.last = now
	switch p.Proto {
	case ProtoTCP:
		t.tcp(e, isOrig, p)
	default:
		t.datagram(e, isOrig, p)
	}
	l := e.list
	if e.closed {
		l = listClosed
	}
	t.moveToTail(idx, l)
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
	ep.size += uint64(p.PayloadLen)
	if p.Proto == ProtoUDP && p.PayloadLen > 0 {
		e.addHistory(isOrig, histData, 'D')
		if isOrig && !e.sniffed {
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
		i = uint32(len(t.names))
		t.names = append(t.names, name)
		t.nameIdx[name] = i
	}
	e.serverName = i
}

var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// create inserts a new flow for packet p, choosing its originator.
func (t *Table) create(k Key, fromA bool, p *decode.Packet) int32 {
	if len(t.m) >= t.cfg.MaxFlows {
		t.evictOldest()
	}
	var idx int32
	if n := len(t.free); n > 0 {
		idx = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		t.slab = append(t.slab, entry{})
		idx = int32(len(t.slab) - 1)
	}
	e := &t.slab[idx]
	*e = entry{key: k, start: p.TS, last: p.TS, prev: none, next: none, list: listFor(p.Proto)}
	if p.Proto == ProtoUDP && (p.SrcPort == 53 || p.DstPort == 53) {
		e.list = listDNS
	}
	t.nextID++
	e.id = t.nextID
	t.stats.Flows++
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
	t.m[k] = idx
	t.link(idx, e.list)
	return idx
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
// without SYN by Zeek's port heuristic.
func tcpFlip(flags uint8, sport, dport uint16) bool {
	if flags&decode.SYN != 0 {
		return flags&decode.ACK != 0
	}
	if !likelyServerPort(sport) {
		return false
	}
	if likelyServerPort(dport) {
		return sport < dport
	}
	return true
}

// attachICMP attaches an ICMP error to the flow its quoted header names.
// It reports false when no such flow exists.
func (t *Table) attachICMP(p *decode.Packet) bool {
	idx, ok := t.m[innerKey(&p.Inner)]
	if !ok {
		return false
	}
	e := &t.slab[idx]
	e.hasICMP = true
	e.icmpErrType, e.icmpErrCode = p.ICMPType, p.ICMPCode
	e.icmpErrV6 = p.Proto == ProtoICMPv6
	e.icmpFrom = p.Src.As16()
	e.icmpFrom4 = p.Src.Is4()
	e.icmpTS = p.TS
	t.stats.ICMPAttached++
	t.touch(idx, p.TS)
	return true
}

// touch marks activity on a flow without other accounting.
func (t *Table) touch(idx int32, now int64) {
	e := &t.slab[idx]
	e.last = now
	t.moveToTail(idx, e.list)
}

// expire finishes every flow idle longer than its list's timeout.
func (t *Table) expire(now int64) {
	for l := range t.lists {
		to := t.timeout[l]
		for h := t.lists[l].head; h != none; h = t.lists[l].head {
			if t.slab[h].last+to > now {
				break
			}
			t.finish(h, false, false)
		}
	}
}

// evictOldest finishes the flow idle the longest, across all lists.
func (t *Table) evictOldest() {
	best := int32(none)
	for l := range t.lists {
		h := t.lists[l].head
		if h != none && (best == none || t.slab[h].last < t.slab[best].last) {
			best = h
		}
	}
	if best != none {
		t.stats.Evicted++
		t.finish(best, false, true)
	}
}

// Flush finishes every flow still in the table, marked Open (or not, when
// the connection had already closed), as at the end of input.
func (t *Table) Flush() {
	for l := range t.lists {
		for h := t.lists[l].head; h != none; h = t.lists[l].head {
			t.finish(h, l != listClosed, false)
		}
	}
}

// Snapshot calls fn for each active flow, as it would be reported if it
// finished now. The *Flow is reused between calls.
func (t *Table) Snapshot(fn func(*Flow)) {
	for l := range t.lists {
		for i := t.lists[l].head; i != none; i = t.slab[i].next {
			t.build(&t.slab[i], l != listClosed, false)
			fn(&t.scratch)
		}
	}
}

// finish removes a flow and hands its record to OnFlow.
func (t *Table) finish(idx int32, open, evicted bool) {
	e := &t.slab[idx]
	t.build(e, open, evicted)
	t.stats.MissedBytes += t.scratch.MissedBytes
	t.unlink(idx, e.list)
	delete(t.m, e.key)
	t.free = append(t.free, idx)
	if t.cfg.OnFlow != nil {
		t.cfg.OnFlow(&t.scratch)
	} else {
		t.finished = append(t.finished, *t.scratch.Clone())
	}
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

// Doubly linked expiry lists over slab indexes.

func (t *Table) link(idx int32, l uint8) {
	e := &t.slab[idx]
	e.list = l
	e.prev, e.next = t.lists[l].tail, none
	if t.lists[l].tail != none {
		t.slab[t.lists[l].tail].next = idx
	} else {
		t.lists[l].head = idx
	}
	t.lists[l].tail = idx
}

func (t *Table) unlink(idx int32, l uint8) {
	e := &t.slab[idx]
	if e.prev != none {
		t.slab[e.prev].next = e.next
	} else {
		t.lists[l].head = e.next
	}
	if e.next != none {
		t.slab[e.next].prev = e.prev
	} else {
		t.lists[l].tail = e.prev
	}
	e.prev, e.next = none, none
}

// moveToTail moves a flow to the tail of list l (its own or another).
func (t *Table) moveToTail(idx int32, l uint8) {
	e := &t.slab[idx]
	if e.list == l && t.lists[l].tail == idx {
		return
	}
	t.unlink(idx, e.list)
	t.link(idx, l)
}
