package analyze

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// srcRec is one source the scanner test follows: undecided (its screened
// flows held until it is decided) or scanning.
type srcRec struct {
	seq    uint64 // creation order, to tell a queue entry is still this record
	scan   bool
	nports uint8
	ports  [ScanPorts - 1]uint16
	held   []heldFlow
}

// tryPort notes that the source tried port p and reports whether that
// makes ScanPorts distinct ports.
func (r *srcRec) tryPort(p uint16) bool {
	if slices.Contains(r.ports[:r.nports], p) {
		return false
	}
	if int(r.nports) == len(r.ports) {
		return true
	}
	r.ports[r.nports] = p
	r.nports++
	return false
}

// heldFlow is a flow held for the scanner test: the numbers of a
// pendingFlow and its own strings (held flows come and go, so their
// strings are not interned).
type heldFlow struct {
	pendingFlow
	node, icmpReason     string
	origNames, respNames []string
}

func holdFlow(f *flow.Flow) heldFlow {
	h := heldFlow{pendingFlow: compactFlow(f), node: strings.Clone(f.Node),
		origNames: cloneStrings(f.OrigNames), respNames: cloneStrings(f.RespNames)}
	if f.ICMP != nil {
		h.icmpReason = strings.Clone(f.ICMP.Reason)
	}
	return h
}

// restore fills f (reused between calls) from h.
func (h *heldFlow) restore(f *flow.Flow, icmp *flow.ICMPError) {
	expandFlow(&h.pendingFlow, f, icmp)
	f.Node, f.OrigNames, f.RespNames = h.node, h.origNames, h.respNames
	if h.pendingFlow.hasICMP {
		icmp.Reason = h.icmpReason
	}
}

// sourceTable is the scanner test's memory: at most max sources, holding
// at most 2*max flows. It belongs to the tally but is not cloned with it:
// settle only reads it.
type sourceTable struct {
	max, maxHeld int
	recs         map[[16]byte]*srcRec
	// queue lists undecided records in creation order (entries of records
	// since decided or released are skipped): the oldest is released
	// first when the table is full.
	queue []queuedSrc
	qhead int
	seq   uint64
	held  int
}

type queuedSrc struct {
	key [16]byte
	seq uint64
}

func newSourceTable(max int) *sourceTable {
	if max <= 0 {
		max = DefaultNoiseSources
	}
	return &sourceTable{max: max, maxHeld: 2 * max, recs: map[[16]byte]*srcRec{}}
}

// screen applies the scanner test to f, screened, from src: noise, held,
// or judged.
func (t *tally) screen(a *Auditor, f *flow.Flow, src netip.Addr) {
	key := src.As16()
	rec := t.srcs.recs[key]
	switch {
	case engages(f):
		// A handshake: the source is no scanner (so far): judge what it
		// sent before, and this.
		if rec != nil {
			t.release(a, key, rec)
		}
		t.place(a, f, false)
		return
	case rec != nil && rec.scan:
		t.setAside(a, f, src, scanning)
		return
	case f.Outcome == flow.Unknown || f.Outcome == "":
		t.place(a, f, false) // not an attempt: decides nothing
		return
	}
	port := f.Resp.Port()
	if rec == nil {
		if rec = t.newRecord(a, key); rec == nil {
			t.noise.overflow++
			t.place(a, f, false)
			return
		}
		rec.tryPort(port)
	} else if rec.tryPort(port) {
		t.scanFound(a, rec, src)
		t.setAside(a, f, src, scanning)
		return
	}
	t.hold(a, rec, f)
}

// newRecord starts following a source, making room by releasing the
// oldest undecided source when the table is full; nil when it is full of
// scanners.
func (t *tally) newRecord(a *Auditor, key [16]byte) *srcRec {
	s := t.srcs
	if len(s.recs) >= s.max && t.releaseOldest(a) == nil {
		return nil
	}
	s.seq++
	rec := &srcRec{seq: s.seq}
	s.recs[key] = rec
	if s.qhead > s.max || len(s.queue)-s.qhead >= 2*s.max {
		s.compact()
	}
	s.queue = append(s.queue, queuedSrc{key: key, seq: rec.seq})
	return rec
}

// hold keeps f until its source rec is decided, making room by releasing
// the oldest undecided sources when the held flows reach their bound. If
// that releases rec itself, f is judged too.
func (t *tally) hold(a *Auditor, rec *srcRec, f *flow.Flow) {
	s := t.srcs
	for s.held >= s.maxHeld {
		if r := t.releaseOldest(a); r == nil || r == rec {
			t.noise.overflow++
			t.place(a, f, false)
			return
		}
	}
	rec.held = append(rec.held, holdFlow(f))
	s.held++
}

// scanFound turns rec into a scanner: the flows it held are noise.
func (t *tally) scanFound(a *Auditor, rec *srcRec, src netip.Addr) {
	rec.scan = true
	t.noise.scanSrc++
	var f flow.Flow
	var icmp flow.ICMPError
	for i := range rec.held {
		rec.held[i].restore(&f, &icmp)
		t.setAside(a, &f, src, scanning)
	}
	t.srcs.held -= len(rec.held)
	rec.held = nil
}

// release judges the flows rec held and forgets the source.
func (t *tally) release(a *Auditor, key [16]byte, rec *srcRec) {
	var f flow.Flow
	var icmp flow.ICMPError
	for i := range rec.held {
		rec.held[i].restore(&f, &icmp)
		t.place(a, &f, false)
	}
	t.srcs.held -= len(rec.held)
	delete(t.srcs.recs, key)
}

// releaseOldest judges the flows of the oldest undecided source (counted
// as overflow: judged without the whole test) and returns it; nil when no
// source is undecided.
func (t *tally) releaseOldest(a *Auditor) *srcRec {
	s := t.srcs
	for s.qhead < len(s.queue) {
		q := s.queue[s.qhead]
		s.qhead++
		if rec := s.recs[q.key]; rec != nil && rec.seq == q.seq && !rec.scan {
			t.noise.overflow += len(rec.held)
			t.release(a, q.key, rec)
			return rec
		}
	}
	return nil
}

// compact drops the queue entries of records no longer undecided.
func (s *sourceTable) compact() {
	q := s.queue[:0]
	for _, e := range s.queue[s.qhead:] {
		if rec := s.recs[e.key]; rec != nil && rec.seq == e.seq && !rec.scan {
			q = append(q, e)
		}
	}
	clear(s.queue[len(q):])
	s.queue, s.qhead = q, 0
}

// undecided iterates over the undecided sources in creation order.
func (s *sourceTable) undecided(yield func([16]byte, *srcRec) bool) {
	for _, e := range s.queue[s.qhead:] {
		if rec := s.recs[e.key]; rec != nil && rec.seq == e.seq && !rec.scan {
			if !yield(e.key, rec) {
				return
			}
		}
	}
}
