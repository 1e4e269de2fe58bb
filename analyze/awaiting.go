package analyze

import (
	"bytes"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/flowaudit/flowaudit/capture/flow"
	"github.com/flowaudit/flowaudit/catalog"
)

// DefaultPendingWindow is how long an attempt must have had before the end
// of the capture for its lack of an answer to count as a failure. An
// answer takes one round trip, well under a second on the paths a gateway
// uses, and a second without one is when TCP itself gives up on the first
// SYN and retransmits (Linux's initial RTO, RFC 6298). So an attempt whose
// first packet came more than 1 s before the end had its time to be
// answered, while a younger one may have its answer still on the way. The
// window is kept short on purpose: a capture stopped a little after a
// silently dropped attempt must still call it blocked, and Zeek's 5 s
// tcp_attempt_delay (flow.DefaultAttemptDelay) is how long Zeek waits
// before giving up on an attempt, not how long an answer takes.
const DefaultPendingWindow = time.Second

// awaitsAnswer reports whether f was cut off by the end of input before an
// answer could come: still open, and nothing (no SYN-ACK, RST, reply or
// ICMP error) came back. Whether it counts as pending or as a failure
// depends on its age at the end of the capture, known only at Report.
func awaitsAnswer(f *flow.Flow) bool {
	// An attempt its own host dropped awaits nothing.
	return f.Open && f.Outcome == flow.Unanswered && localFailure(f) == "" &&
		(f.ICMP == nil || !flow.ICMPFails(f.ICMP.Version == 6, f.ICMP.Type, f.ICMP.Code))
}

// noteEnd remembers the latest packet time seen per gateway node: the end
// of each node's capture, against which pending attempts are aged (merged
// sessions may end at different times).
func (t *tally) noteEnd(f *flow.Flow) {
	end := f.End
	if end.Before(f.Start) {
		end = f.Start
	}
	if last, ok := t.ends[f.Node]; !ok {
		t.ends[strings.Clone(f.Node)] = end
	} else if end.After(last) {
		t.ends[f.Node] = end
	}
}

// pendingAt reports whether f, which awaits an answer, started less than
// window before the end of its node's capture (age).
func (t *tally) pendingAt(f *flow.Flow, captureEnd time.Time, window time.Duration) bool {
	if window <= 0 || f.Start.IsZero() {
		return false
	}
	return t.age(f, captureEnd) < window
}

// age is how long before the end of its node's capture f started:
// captureEnd, the end of the capture (its last packet, or the moment a
// live capture stopped), for flows without a node (a single capture),
// else the latest packet of that node's flows. Its first packet is what
// counts: a request retransmitted until the end had its first copy's
// whole age to be answered.
func (t *tally) age(f *flow.Flow, captureEnd time.Time) time.Duration {
	end := t.ends[f.Node]
	if f.Node == "" && captureEnd.After(end) {
		end = captureEnd
	}
	return end.Sub(f.Start)
}

// pendingWindow is Options.PendingWindow with its default.
func (a *Auditor) pendingWindow() time.Duration {
	if a.opts.PendingWindow == 0 {
		return DefaultPendingWindow
	}
	return a.opts.PendingWindow
}

// settle returns the tally with the flows that awaited an answer placed
// (pending when younger than the window at the end of the capture,
// failures otherwise) and the sources the scanner test had not decided
// judged, or set aside when the flows that awaited an answer make them
// scanners. It works on a copy, so t stays usable for more flows and a
// later Report (which may age them differently), and says how many flows
// were pending.
//
// In a capture that lacks the answers of a direction's flows (cov), a flow
// of that direction with no answer is not pending: a longer capture would
// not show its answer either. It is placed as judged, and its coverage
// makes it inconclusive.
func (t *tally) settle(a *Auditor, captureEnd time.Time, cov *Coverage) (*tally, int) {
	if len(t.awaiting) == 0 && t.srcs.nheld == 0 {
		return t, 0
	}
	st := &settling{a: a, t: t, c: t.clone(), end: captureEnd, window: a.pendingWindow(), cov: cov}
	// Flows from screened sources go through the scanner test by source
	// (in the order they came, within a source); the others are placed.
	var screened []awaitingSrc
	for i := range t.awaiting {
		t.awaitPack.Unpack(&t.awaiting[i], &st.f)
		if src, ok := a.screened(&st.f); ok {
			screened = append(screened, awaitingSrc{key: src.As16(), i: int32(i)})
			continue
		}
		st.place(&st.f)
	}
	slices.SortStableFunc(screened, func(x, y awaitingSrc) int { return bytes.Compare(x.key[:], y.key[:]) })
	done := make([]bool, len(t.srcs.recs)) // undecided sources judged with their group
	for len(screened) > 0 {
		n := 1
		for n < len(screened) && screened[n].key == screened[0].key {
			n++
		}
		if slot, ok := t.srcs.idx[screened[0].key]; ok {
			done[slot] = true
		}
		st.group(screened[:n])
		screened = screened[n:]
	}
	// The other sources still undecided are judged.
	for i := t.srcs.head; i != none; i = t.srcs.recs[i].next {
		if !done[i] {
			for h := range t.srcs.heldOf(i) {
				st.c.place(a, h, false)
			}
		}
	}
	return st.c, st.pending
}

// settling places, in c (a copy of t), the flows of t that awaited an
// answer and those the scanner test holds.
type settling struct {
	a       *Auditor
	t, c    *tally
	end     time.Time
	window  time.Duration
	pending int
	f       flow.Flow
	cov     *Coverage
}

// place places f, which awaited an answer: pending when younger than the
// window.
func (st *settling) place(f *flow.Flow) {
	p := st.t.pendingAt(f, st.end, st.window) && !st.answerHidden(f)
	st.c.pendingLeft = 0
	if p {
		st.c.pendingLeft = st.window - st.t.age(f, st.end)
	}
	if st.c.place(st.a, f, p) && p {
		st.pending++
	}
}

// answerHidden reports whether the capture lacks the side f's answer
// would come from.
func (st *settling) answerHidden(f *flow.Flow) bool {
	d := catalog.In
	if st.a.hs[f.Orig.Addr().Unmap()] {
		d = catalog.Out
	}
	return f.RespPkts == 0 && st.cov.sidesFor(d).respHidden
}

// group applies the scanner test to the flows one source sent that awaited
// an answer, with what the source table knows of it (read, not changed):
// they, and what the source held, are noise if the source scans, else
// judged.
func (st *settling) group(group []awaitingSrc) {
	srcs := st.t.srcs
	slot, known := srcs.idx[group[0].key]
	var rec srcRec // a copy
	if known {
		rec = srcs.recs[slot]
	}
	scans := rec.scan
	for _, g := range group {
		st.t.awaitPack.Unpack(&st.t.awaiting[g.i], &st.f)
		scans = rec.tryPort(st.f.Resp.Port()) || scans
	}
	src := netip.AddrFrom16(group[0].key).Unmap()
	if scans && !rec.scan {
		st.c.noise.scanSrc++
	}
	if known && !rec.scan {
		for h := range srcs.heldOf(slot) {
			if scans {
				st.c.setAside(st.a, h, src, scanning)
			} else {
				st.c.place(st.a, h, false)
			}
		}
	}
	for _, g := range group {
		st.t.awaitPack.Unpack(&st.t.awaiting[g.i], &st.f)
		if scans {
			st.c.setAside(st.a, &st.f, src, scanning)
		} else {
			st.place(&st.f)
		}
	}
}

// awaitingSrc is a flow that awaited an answer (index i into awaiting)
// from a screened source.
type awaitingSrc struct {
	key [16]byte
	i   int32
}

// pendingWarning says how many audited flows were still waiting for an
// answer when the capture ended.
func pendingWarning(n int, window time.Duration) string {
	return fmt.Sprintf("%d flow(s) were still waiting for an answer when the capture ended (started less than %s before its end): "+
		"counted as pending, neither failed nor worked; capture longer to judge them", n, window)
}

// pendingNote explains a requirement's n pending flows, naming the first
// few peers they involve (peers come worst first).
func pendingNote(n int, peers []PeerSeen) string {
	var addrs []string
	more := 0
	for _, p := range peers {
		if p.Counts.Pending == 0 {
			continue
		}
		if len(addrs) == 3 {
			more++
			continue
		}
		addrs = append(addrs, p.Addr.String())
	}
	who := strings.Join(addrs, ", ")
	if more > 0 {
		who += fmt.Sprintf(" and %d more", more)
	}
	return fmt.Sprintf("%d attempt(s) still waiting for an answer when the capture ended (pending, not judged): %s", n, who)
}

// longerHint says how much longer the capture had to run for its pending
// attempts to be judged: left, the most a pending attempt still needed,
// in whole seconds rounded up (at least 1).
func longerHint(left time.Duration) string {
	s := max(int64((left+time.Second-1)/time.Second), 1)
	return fmt.Sprintf("capture at least %d s longer to judge them", s)
}

// clone copies everything a report reads, so that placing more flows in
// the copy leaves t as it was.
func (t *tally) clone() *tally {
	c := *t
	c.evs = make([]*evidence, len(t.evs))
	for i, e := range t.evs {
		c.evs[i] = e.clone()
	}
	c.otherPeer = slices.Clone(t.otherPeer)
	c.hk = make(map[string]*Housekeeping, len(t.hk))
	for k, h := range t.hk {
		hh := *h
		c.hk[k] = &hh
	}
	c.unexp = make(map[unexpectedKey]*unexpectedAcc, len(t.unexp))
	for k, u := range t.unexp {
		c.unexp[k] = &unexpectedAcc{ev: u.ev.clone(), peerNotAllowed: maps.Clone(u.peerNotAllowed),
			notApplicable: maps.Clone(u.notApplicable)}
	}
	c.nodes, c.hostSeen, c.ends = maps.Clone(t.nodes), maps.Clone(t.hostSeen), maps.Clone(t.ends)
	c.folded = foldedGroups{keys: maps.Clone(t.folded.keys), counts: t.folded.counts}
	c.noise = t.noise.clone()
	return &c
}

func (e *evidence) clone() *evidence {
	c := *e
	c.peers = e.peers.clone()
	c.nodes = make(map[string]*Counts, len(e.nodes))
	for k, n := range e.nodes {
		nn := *n
		c.nodes[k] = &nn
	}
	c.reasons = maps.Clone(e.reasons)
	c.provReasons = maps.Clone(e.provReasons)
	c.hooks = maps.Clone(e.hooks)
	c.details = make(map[Reason]map[string]bool, len(e.details))
	for r, d := range e.details {
		c.details[r] = maps.Clone(d)
	}
	c.timeline = slices.Clone(e.timeline)
	c.procs = e.procs.clone()
	if e.act != nil {
		act := *e.act
		c.act = &act
	}
	return &c
}
