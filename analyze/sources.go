package analyze

import (
	"net/netip"
	"slices"

	"github.com/flowaudit/flowaudit/capture/flow"
)

// none marks the end of a list of slots.
const none = -1

// srcRec is one source the scanner test follows: undecided (its screened
// flows held until it is decided) or scanning. Records live in a slab and
// link up in two lists by slot number: the undecided sources, oldest
// first, and each source's held flows.
type srcRec struct {
	key        [16]byte
	scan       bool
	nports     uint8
	ports      [ScanPorts - 1]uint16
	prev, next int32 // undecided list
	first      int32 // held flows (heldFlow.next), oldest first
	last       int32
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

// heldFlow is a flow held for the scanner test, packed by the source
// table's transient PackTable: held flows come and go over a long run, so
// each owns its UID and names, freed when its slot is reused.
type heldFlow struct {
	flow.Packed
	next int32
}

// sourceTable is the scanner test's memory: at most max sources, holding
// at most 2*max flows, in slabs that reach those sizes and then only reuse
// their slots (a flood of new sources allocates nothing per source). It
// belongs to the tally but is not cloned with it: settle only reads it.
type sourceTable struct {
	max, maxHeld int
	idx          map[[16]byte]int32
	recs         []srcRec
	freeRecs     []int32
	head, tail   int32 // undecided sources, oldest first
	held         []heldFlow
	pack         *flow.PackTable
	freeHeld     []int32
	nheld        int
}

func newSourceTable(max int) *sourceTable {
	if max <= 0 {
		max = DefaultNoiseSources
	}
	return &sourceTable{max: max, maxHeld: 2 * max, idx: map[[16]byte]int32{}, head: none, tail: none,
		pack: flow.NewTransientPackTable()}
}

// screen applies the scanner test to f, screened, from src: noise, held,
// or judged.
func (t *tally) screen(a *Auditor, f *flow.Flow, src netip.Addr) {
	s := t.srcs
	key := src.As16()
	i, known := s.idx[key]
	switch {
	case engages(f):
		// A handshake: the source is no scanner (so far): judge what it
		// sent before, and this.
		if known {
			t.release(a, i)
		}
		t.place(a, f, false)
		return
	case known && s.recs[i].scan:
		t.setAside(a, f, src, scanning)
		return
	case f.Outcome == flow.Unknown || f.Outcome == "":
		t.place(a, f, false) // not an attempt: decides nothing
		return
	}
	port := f.Resp.Port()
	if !known {
		if i = t.newRecord(a, key); i == none {
			t.noise.overflow++
			t.place(a, f, false)
			return
		}
		s.recs[i].tryPort(port)
	} else if s.recs[i].tryPort(port) {
		t.scanFound(a, i, src)
		t.setAside(a, f, src, scanning)
		return
	}
	t.hold(a, i, f)
}

// newRecord starts following a source, making room by releasing the
// oldest undecided source when the table is full; none when it is full of
// scanners.
func (t *tally) newRecord(a *Auditor, key [16]byte) int32 {
	s := t.srcs
	if len(s.idx) >= s.max && t.releaseOldest(a) == none {
		return none
	}
	var i int32
	if n := len(s.freeRecs); n > 0 {
		i, s.freeRecs = s.freeRecs[n-1], s.freeRecs[:n-1]
	} else {
		s.recs = append(s.recs, srcRec{})
		i = int32(len(s.recs) - 1)
	}
	s.recs[i] = srcRec{key: key, prev: s.tail, next: none, first: none, last: none}
	if s.tail != none {
		s.recs[s.tail].next = i
	} else {
		s.head = i
	}
	s.tail = i
	s.idx[key] = i
	return i
}

// hold keeps f until its source (slot i) is decided, making room by
// releasing the oldest undecided sources when the held flows reach their
// bound. If that releases this source itself, f is judged too.
func (t *tally) hold(a *Auditor, i int32, f *flow.Flow) {
	s := t.srcs
	for s.nheld >= s.maxHeld {
		if r := t.releaseOldest(a); r == none || r == i {
			t.noise.overflow++
			t.place(a, f, false)
			return
		}
	}
	var h int32
	if n := len(s.freeHeld); n > 0 {
		h, s.freeHeld = s.freeHeld[n-1], s.freeHeld[:n-1]
		s.held[h] = heldFlow{Packed: s.pack.Pack(f), next: none}
	} else {
		s.held = append(s.held, heldFlow{Packed: s.pack.Pack(f), next: none})
		h = int32(len(s.held) - 1)
	}
	r := &s.recs[i]
	if r.last != none {
		s.held[r.last].next = h
	} else {
		r.first = h
	}
	r.last = h
	s.nheld++
}

// heldOf iterates over the flows source slot i holds, restored one at a
// time into the same scratch Flow.
func (s *sourceTable) heldOf(i int32) func(yield func(*flow.Flow) bool) {
	return func(yield func(*flow.Flow) bool) {
		var f flow.Flow
		for h := s.recs[i].first; h != none; h = s.held[h].next {
			s.pack.Unpack(&s.held[h].Packed, &f)
			if !yield(&f) {
				return
			}
		}
	}
}

// dropHeld frees the flows source slot i holds.
func (s *sourceTable) dropHeld(i int32) {
	r := &s.recs[i]
	for h := r.first; h != none; {
		next := s.held[h].next
		s.held[h] = heldFlow{} // let go of its strings
		s.freeHeld = append(s.freeHeld, h)
		s.nheld--
		h = next
	}
	r.first, r.last = none, none
}

// unlink takes undecided slot i out of the undecided list.
func (s *sourceTable) unlink(i int32) {
	r := &s.recs[i]
	if r.prev != none {
		s.recs[r.prev].next = r.next
	} else {
		s.head = r.next
	}
	if r.next != none {
		s.recs[r.next].prev = r.prev
	} else {
		s.tail = r.prev
	}
	r.prev, r.next = none, none
}

// scanFound turns source slot i into a scanner: the flows it held are
// noise.
func (t *tally) scanFound(a *Auditor, i int32, src netip.Addr) {
	s := t.srcs
	t.noise.scanSrc++
	for f := range s.heldOf(i) {
		t.setAside(a, f, src, scanning)
	}
	s.dropHeld(i)
	s.unlink(i)
	s.recs[i].scan = true
}

// release judges the flows source slot i held and forgets the source.
func (t *tally) release(a *Auditor, i int32) {
	s := t.srcs
	for f := range s.heldOf(i) {
		t.place(a, f, false)
	}
	s.dropHeld(i)
	if !s.recs[i].scan {
		s.unlink(i)
	}
	delete(s.idx, s.recs[i].key)
	s.recs[i] = srcRec{}
	s.freeRecs = append(s.freeRecs, i)
}

// releaseOldest judges the flows of the oldest undecided source (counted
// as overflow: judged without the whole test) and returns its slot; none
// when no source is undecided.
func (t *tally) releaseOldest(a *Auditor) int32 {
	s := t.srcs
	i := s.head
	if i == none {
		return none
	}
	for h := s.recs[i].first; h != none; h = s.held[h].next {
		t.noise.overflow++
	}
	t.release(a, i)
	return i
}
